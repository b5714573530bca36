"""Workload layer: least privilege of every derived pod template (manifests, app-template values and a
few well-known third-party charts), and RBAC objects declared in Git.

One check per control, each judging every deployed workload (so a check's score is the share of
compliant workloads). A finding points at the line that sets the offending value, or at the
container/pod block that should set the missing one.
"""
from __future__ import annotations

from scanner.inventory import workloads as workload_mod
from scanner.analysis.pss import BASELINE_CAPABILITIES, DANGEROUS_CAPABILITIES, cap_name
from scanner.checkapi.registry import check
from scanner.analysis import effective
from scanner.checkapi.results import failed, mitigated, passed, warned

PSS = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
NSA = "NSA/CISA Kubernetes Hardening Guide v1.2"
RBAC_SCOPE = ("RBAC objects declared in Git only: ClusterRoles/Roles a Helm chart creates at install time are "
              "not visible to a repository scan")


# ---- workload helpers ---------------------------------------------------------------------------------

def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


def chart_workloads(inv) -> list:
    """Workloads of deployed well-known third-party charts (cached on the inventory)."""
    cached = getattr(inv, "_posture_chart_workloads", None)
    if cached is None:
        cached = []
        for hr in inv.of_kind("HelmRelease"):
            if hr.group != "helm.toolkit.fluxcd.io" or inv.is_app_template(hr):
                continue
            info = inv.chart(hr)
            if workload_mod.known_chart(info.name):
                cached.extend(workload_mod.from_chart_values(hr, info.name, info.version))
        try:
            inv._posture_chart_workloads = cached
        except AttributeError:  # pragma: no cover - slotted inventories
            pass
    return cached


def deployed_workloads(inv):
    ws = [w for w in inv.workloads if w.resource.deployed]
    if not any(w.source == "chart" for w in inv.workloads):
        ws += [w for w in chart_workloads(inv) if w.resource.deployed]
    return ws


def _sc(container) -> dict:
    return _d(container.spec.get("securityContext"))


def _pod_sc(w) -> dict:
    return _d(w.pod.get("securityContext"))


def cpath(w, c, *keys) -> tuple:
    """Key path of a container field: where the container sets it, or the defaults it came from."""
    via = w.pod_paths.get(f"container:{c.name}:{keys[0]}") if keys else None
    if via is not None:
        return via + tuple(keys[1:])
    return c.path + tuple(keys)


def ppath(w, *keys) -> tuple:
    """Key path of a pod field: where it was set, else the pod block."""
    via = w.pod_paths.get(keys[0]) if keys else None
    if via is not None:
        return via + tuple(keys[1:])
    if w.source == "manifest":
        return w.pod_path + tuple(keys)
    return w.pod_path


def _subject(w) -> str:
    return f"{w.kind} {w.namespace}/{w.name}"


def _ev(w, **kw) -> dict:
    ev = {"source": w.source}
    if w.chart_version:
        ev["chart_version"] = w.chart_version
    ev.update(kw)
    return ev


def _effective(w, c, key):
    """Container securityContext value, falling back to the pod securityContext; (value, path)."""
    sc = _sc(c)
    if key in sc:
        return sc[key], cpath(w, c, "securityContext", key)
    psc = _pod_sc(w)
    if key in psc:
        return psc[key], ppath(w, "securityContext", key)
    return None, None


def _judge(inv, w, bad: list, ok_message: str, severity=None, remediation=None, **ev):
    """One result per workload: `bad` = [(container, message, path, severity)] (first decides the line)."""
    subject = _subject(w)
    if not bad:
        return passed(inv, subject, ok_message, w.resource, w.pod_path, evidence=_ev(w, **ev))
    bad.sort(key=lambda b: -_SEV_RANK.get(b[3] or "", 0))
    c, msg, path, sev = bad[0]
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    return failed(inv, subject, f"{w.kind} {w.namespace}/{w.name}: {msg}{more}", w.resource, path,
                  severity=sev or severity, remediation=remediation,
                  evidence=_ev(w, findings=[b[1] for b in bad], **ev))


_SEV_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
LAYERS_FOR_PODS = ("nodes", "policy")  # node defaults, admission mutation and rejection


def _first(bad: list) -> str:
    return sorted(bad, key=lambda b: -_SEV_RANK.get(b[3] or "", 0))[0][1]


def _layered(inv, w, bad_of, ok_message: str, fields: tuple, severity=None, remediation=None, ev_of=None, **ev):
    """One result per workload, judged as the cluster runs it (scanner.analysis.effective): the manifest
    alone, then after admission mutation, then with the node defaults. A subject the manifest fails but
    another layer fixes is mitigated, naming that layer; a subject a cluster setting breaks fails."""
    eff = effective.workload(inv, w)
    raw = bad_of(w)
    subject = _subject(w)
    if eff.rejection is not None and raw:
        rej = eff.rejection
        return mitigated(inv, subject, f"{w.kind} {w.namespace}/{w.name}: {_first(raw)}; but its pods never run: "
                         f"{rej.credit.detail} ({'; '.join(rej.reasons[:3])})", w.resource, _first_path(raw),
                         by=[rej.credit], evidence=_ev(w, findings=[b[1] for b in raw], **ev))
    admitted = bad_of(eff.admitted) if eff.applied else raw
    runtime_w = eff.runtime()
    final = bad_of(runtime_w) if runtime_w is not eff.admitted else admitted
    if raw and not final:
        by = []
        if not admitted:
            by = eff.credits(inv, fields) or [a.rule.credit(inv, "policy", "kyverno-mutate", "mutates the pod at admission")
                                              for a in eff.applied]
        else:
            by = list(eff.seccomp.on)
        return mitigated(inv, subject, f"{w.kind} {w.namespace}/{w.name}: {_first(raw)} in the manifest; enforced by "
                         + "; ".join(f"{c.detail}" + (f" ({c.where()})" if c.where() else "") for c in by),
                         w.resource, _first_path(raw), by=by, evidence=_ev(w, findings=[b[1] for b in raw], **ev))
    if final and not raw:
        weak = eff.credits(inv, fields) or [a.rule.credit(inv, "policy", "kyverno-mutate", "mutates the pod at admission")
                                            for a in eff.applied]
        ev = dict(ev, weakened_by=[c.as_dict() for c in weak])
        final = [(c, f"{msg} (set at admission by {', '.join(x.detail.split(':')[0] for x in weak)})", path, sev)
                 for c, msg, path, sev in final]
    if ev_of is not None:
        ev.update(ev_of(final))
    return _judge(inv, w, final, ok_message, severity=severity, remediation=remediation, **ev)


def _first_path(bad: list) -> tuple:
    return sorted(bad, key=lambda b: -_SEV_RANK.get(b[3] or "", 0))[0][2]


# ---- PSS-derived container checks ------------------------------------------------------------------------

@check(
    id="workloads.no-privileged-containers",
    title="No privileged containers",
    severity="critical",
    rationale="""
        A privileged container has every capability and all host devices: it is root on the node, and a
        compromise of the app is a compromise of the node and of every workload scheduled on it
        (Pod Security Standards, baseline).""",
    remediation="""
        Remove `securityContext.privileged: true`; grant only the specific capability or device the app needs
        (e.g. `capabilities.add: [NET_ADMIN]`, a device plugin), and isolate what must stay privileged in its
        own namespace with a documented waiver.""",
    references=[PSS + "#baseline", f"{NSA}, 'Non-root containers and rootless container engines'",
                "CIS Kubernetes Benchmark 5.2.2"],
    mitigated_by=("policy",),
)
def no_privileged(inv, options):
    for w in deployed_workloads(inv):
        yield _layered(inv, w, _bad_privileged, f"no privileged container in {w.name}", ("privileged",),
                       ev_of=lambda bad: {"containers": [b[0].name for b in bad]})


def _bad_privileged(w) -> list:
    return [(c, f"container {c.name} runs privileged", cpath(w, c, "securityContext", "privileged"), None)
            for c in w.containers if _sc(c).get("privileged") is True]


@check(
    id="workloads.no-privilege-escalation",
    title="Containers set allowPrivilegeEscalation: false",
    severity="medium",
    rationale="""
        Unless `allowPrivilegeEscalation: false` is set, a process can gain more privileges than its parent
        (setuid binaries, file capabilities): a foothold as an unprivileged user becomes root in the container.
        It is implicitly true for privileged containers and those with CAP_SYS_ADMIN (PSS restricted).""",
    remediation="""
        Set `securityContext.allowPrivilegeEscalation: false` on every container (app-template:
        `controllers.<c>.containers.<n>.securityContext`, or once in `defaultContainerOptions`).""",
    references=[PSS + "#restricted", "CIS Kubernetes Benchmark 5.2.6", f"{NSA}, 'Pod security'"],
    mitigated_by=("policy",),
)
def no_privilege_escalation(inv, options):
    for w in deployed_workloads(inv):
        yield _layered(inv, w, _bad_escalation, f"every container of {w.name} sets allowPrivilegeEscalation: false",
                       ("allowPrivilegeEscalation", "privileged", "add"))


def _bad_escalation(w) -> list:
    bad = []
    for c in w.containers:
        sc = _sc(c)
        caps = {cap_name(x) for x in _l(_d(sc.get("capabilities")).get("add"))}
        if sc.get("privileged") is True:
            bad.append((c, f"container {c.name} is privileged (privilege escalation implied)",
                        cpath(w, c, "securityContext", "privileged"), "high"))
        elif sc.get("allowPrivilegeEscalation") is True:
            bad.append((c, f"container {c.name} sets allowPrivilegeEscalation: true",
                        cpath(w, c, "securityContext", "allowPrivilegeEscalation"), "high"))
        elif "SYS_ADMIN" in caps:
            bad.append((c, f"container {c.name} adds SYS_ADMIN (privilege escalation implied)",
                        cpath(w, c, "securityContext", "capabilities", "add"), "high"))
        elif sc.get("allowPrivilegeEscalation") is not False:
            bad.append((c, f"container {c.name} does not set allowPrivilegeEscalation: false (defaults to true)",
                        cpath(w, c, "securityContext"), None))
    return bad


@check(
    id="workloads.run-as-non-root",
    title="Containers run as a non-root user",
    severity="medium",
    rationale="""
        A container running as UID 0 is root inside the container, and root on the node after any escape or
        writable host mount. `runAsNonRoot: true` (pod or container) makes the kubelet refuse to start a
        container whose image would run as root (PSS restricted: Running as Non-root, non-root user).""",
    remediation="""
        Set `securityContext.runAsNonRoot: true` and a non-zero `runAsUser`/`runAsGroup` at pod level
        (app-template `defaultPodOptions.securityContext`), and never `runAsUser: 0`.""",
    references=[PSS + "#restricted", "CIS Kubernetes Benchmark 5.2.7", f"{NSA}, 'Non-root containers'"],
    mitigated_by=("policy",),
)
def run_as_non_root(inv, options):
    for w in deployed_workloads(inv):
        if w.pod.get("hostUsers") is False:
            yield passed(inv, _subject(w), f"{w.name} runs in a user namespace (hostUsers: false)", w.resource,
                         ppath(w, "hostUsers"), evidence=_ev(w))
            continue
        yield _layered(inv, w, _bad_root, f"every container of {w.name} runs as non-root",
                       ("runAsNonRoot", "runAsUser", "hostUsers"))


def _bad_root(w) -> list:
    bad = []
    if w.pod.get("hostUsers") is False:
        return bad
    for c in w.containers:
        uid, upath = _effective(w, c, "runAsUser")
        nonroot, npath = _effective(w, c, "runAsNonRoot")
        if str(uid).strip() == "0":
            bad.append((c, f"container {c.name} runs as UID 0 (root)", upath, "high"))
        elif nonroot is True or (isinstance(uid, int) and uid > 0):
            continue
        elif nonroot is False:
            bad.append((c, f"container {c.name} sets runAsNonRoot: false and no non-zero runAsUser", npath, None))
        else:
            bad.append((c, f"container {c.name} sets neither runAsNonRoot: true nor a non-zero runAsUser "
                           "(runs as the image's user, root unless the image says otherwise)",
                        cpath(w, c, "securityContext") if _sc(c) else ppath(w, "securityContext"), None))
    return bad


@check(
    id="workloads.read-only-root-filesystem",
    title="Containers have a read-only root filesystem",
    severity="low",
    rationale="""
        A writable root filesystem lets an intruder drop tools and persist changes in the container; an
        immutable one confines writes to declared volumes (NSA 'Immutable container file systems').""",
    remediation="""
        Set `securityContext.readOnlyRootFilesystem: true` and mount an `emptyDir` (app-template
        `persistence.<n>.type: emptyDir`) where the app must write (/tmp, caches).""",
    references=[f"{NSA}, 'Immutable container file systems'", "Kyverno policy require-ro-rootfs"],
    mitigated_by=("policy",),
)
def read_only_root_fs(inv, options):
    for w in deployed_workloads(inv):
        yield _layered(inv, w, _bad_rootfs, f"every container of {w.name} has a read-only root filesystem",
                       ("readOnlyRootFilesystem",))


def _bad_rootfs(w) -> list:
    return [(c, f"container {c.name} has a writable root filesystem",
             cpath(w, c, "securityContext", "readOnlyRootFilesystem"), None)
            for c in w.containers if _sc(c).get("readOnlyRootFilesystem") is not True]


@check(
    id="workloads.capabilities",
    title="Containers drop ALL capabilities and add no dangerous ones",
    severity="high",
    rationale="""
        Linux capabilities split root's power; SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE, NET_RAW and the
        like each give a path to the node or to other pods' traffic. PSS baseline forbids adding anything
        beyond a short default list; restricted requires dropping ALL (adding back only NET_BIND_SERVICE).""",
    remediation="""
        Set `securityContext.capabilities: {drop: [ALL]}` and add back only the specific capability the app
        needs (often none, NET_BIND_SERVICE for ports < 1024).""",
    references=[PSS + "#baseline", PSS + "#restricted", "CIS Kubernetes Benchmark 5.2.8, 5.2.9, 5.2.10"],
    mitigated_by=("policy",),
)
def capabilities(inv, options):
    for w in deployed_workloads(inv):
        yield _layered(inv, w, _bad_caps, f"every container of {w.name} drops ALL capabilities",
                       ("capabilities", "drop", "add", "privileged"))


def _bad_caps(w) -> list:
    bad = []
    for c in w.containers:
        sc = _sc(c)
        caps = _d(sc.get("capabilities"))
        add = sorted({cap_name(x) for x in _l(caps.get("add"))})
        drop = {cap_name(x) for x in _l(caps.get("drop"))}
        dangerous = [a for a in add if a in DANGEROUS_CAPABILITIES]
        extra = [a for a in add if a not in BASELINE_CAPABILITIES and a not in DANGEROUS_CAPABILITIES]
        if sc.get("privileged") is True:
            bad.append((c, f"container {c.name} is privileged (every capability)",
                        cpath(w, c, "securityContext", "privileged"), "critical"))
        elif dangerous:
            bad.append((c, f"container {c.name} adds {', '.join(dangerous)}",
                        cpath(w, c, "securityContext", "capabilities", "add"), "high"))
        elif extra:
            bad.append((c, f"container {c.name} adds {', '.join(extra)} (beyond the PSS baseline set)",
                        cpath(w, c, "securityContext", "capabilities", "add"), "medium"))
        elif "ALL" not in drop:
            bad.append((c, f"container {c.name} does not drop ALL capabilities",
                        cpath(w, c, "securityContext", "capabilities"), "medium"))
        elif any(a != "NET_BIND_SERVICE" for a in add):
            bad.append((c, f"container {c.name} adds back {', '.join(add)} after dropping ALL",
                        cpath(w, c, "securityContext", "capabilities", "add"), "low"))
    return bad


@check(
    id="workloads.seccomp-profile",
    title="Containers run with a seccomp profile",
    severity="medium",
    rationale="""
        A seccomp profile (RuntimeDefault or Localhost) filters the syscalls most kernel exploits and escapes
        use. `Unconfined` turns it off (PSS baseline); leaving it unset means Unconfined unless the kubelet
        defaults to RuntimeDefault (PSS restricted requires it set).""",
    remediation="""
        Set `securityContext.seccompProfile: {type: RuntimeDefault}` at pod level (app-template
        `defaultPodOptions.securityContext.seccompProfile`).""",
    references=[PSS + "#restricted", "CIS Kubernetes Benchmark 5.7.2"],
    mitigated_by=("nodes", "policy"),
)
def seccomp_profile(inv, options):
    node = effective.seccomp_default(inv)
    if node.state == "off":
        why = "Unconfined: the kubelet default is off (" + "; ".join(
            f"{c.detail} at {c.where()}" for c in node.off[:2]) + ")"
        unset_sev = "medium"
    elif node.state == "mixed":
        why = "Unconfined on the nodes whose kubelet default is off (" + "; ".join(
            f"{c.detail} at {c.where()}" for c in node.off[:2]) + ")"
        unset_sev = "medium"
    else:
        why = "Unconfined unless the kubelet defaults to RuntimeDefault"
        unset_sev = "low"

    def bad_of(w) -> list:
        bad = []
        for c in w.containers:
            prof, path = _effective(w, c, "seccompProfile")
            ptype = str(_d(prof).get("type") or "")
            if ptype.lower() == "unconfined":
                bad.append((c, f"container {c.name} runs seccomp Unconfined", path, "high"))
            elif ptype.lower() not in ("runtimedefault", "localhost"):
                bad.append((c, f"container {c.name} sets no seccomp profile ({why})", ppath(w, "securityContext"),
                            unset_sev))
        return bad

    for w in deployed_workloads(inv):
        yield _layered(inv, w, bad_of, f"{w.name} runs with a RuntimeDefault/Localhost seccomp profile",
                       ("seccompProfile",))


@check(
    id="workloads.no-host-namespaces",
    title="Pods do not share the host's network, PID or IPC namespace",
    severity="high",
    rationale="""
        `hostNetwork` exposes the node's interfaces (and every localhost-bound service on it) to the pod and
        bypasses network policies; `hostPID` shows every process on the node (and lets a privileged one
        enter them); `hostIPC` shares the node's shared memory (PSS baseline: Host Namespaces).""",
    remediation="""
        Remove `hostNetwork/hostPID/hostIPC: true`; expose ports through a Service (LoadBalancer/L2
        announcement for mDNS-less discovery) and keep unavoidable host-network pods in a dedicated
        namespace with a documented waiver.""",
    references=[PSS + "#baseline", "CIS Kubernetes Benchmark 5.2.3, 5.2.4, 5.2.5"],
    mitigated_by=("policy",),
)
def no_host_namespaces(inv, options):
    for w in deployed_workloads(inv):
        yield _layered(inv, w, _bad_host_ns, f"{w.name} uses no host namespace", ("hostNetwork", "hostPID", "hostIPC"),
                       ev_of=lambda bad: {"host_namespaces": [f for f in ("hostNetwork", "hostPID", "hostIPC")
                                                               if bad and f in bad[0][1]]})


def _bad_host_ns(w) -> list:
    on = [f for f in ("hostNetwork", "hostPID", "hostIPC") if w.pod.get(f) is True]
    if not on:
        return []
    sev = "critical" if "hostPID" in on and any(_sc(c).get("privileged") is True for c in w.containers) else None
    return [(None, f"uses {', '.join(on)}", ppath(w, on[0]), sev)]


SENSITIVE_HOST_PATHS = ("/etc", "/var/run/docker.sock", "/run/docker.sock", "/var/run/containerd", "/run/containerd",
                        "/var/run/crio", "/run/crio", "/var/run/cri-dockerd.sock", "/proc", "/sys", "/root", "/home",
                        "/var/lib/kubelet", "/var/lib/containerd", "/var/lib/docker", "/dev", "/boot",
                        "/system")  # /system: Talos' own state


def host_path_severity(path) -> str:
    p = "/" + str(path or "").strip().strip("/")
    if p == "/":
        return "critical"
    for s in SENSITIVE_HOST_PATHS:
        if p == s or p.startswith(s + "/"):
            return "critical"
    return "high"


@check(
    id="workloads.no-host-path",
    title="Pods mount no hostPath volumes",
    severity="high",
    rationale="""
        A hostPath volume reaches into the node's filesystem: the container runtime socket, /etc, /proc or
        the kubelet's directory hand over the node; any writable host directory survives the pod and is
        shared with everything else on the node (PSS baseline: HostPath Volumes).""",
    remediation="""
        Use a PersistentVolumeClaim, emptyDir, ConfigMap or Secret instead; where a host path is unavoidable
        (device access, node agents) mount the narrowest path read-only, never the runtime socket or /.""",
    references=[PSS + "#baseline", "CIS Kubernetes Benchmark 5.2.12", "Kyverno policies disallow-host-path, "
                "disallow-container-sock-mounts"],
    mitigated_by=("policy",),
)
def no_host_path(inv, options):
    for w in deployed_workloads(inv):
        yield _layered(inv, w, _bad_host_path, f"{w.name} mounts no hostPath volume", ("volumes", "hostPath"),
                       ev_of=lambda bad: {"host_paths": [b[1] for b in bad]})


def _bad_host_path(w) -> list:
    bad = []
    for i, vol in enumerate(_l(w.pod.get("volumes"))):
        if not isinstance(vol, dict) or not isinstance(vol.get("hostPath"), dict):
            continue
        hp = vol["hostPath"].get("path")
        name = str(vol.get("name"))
        path = w.pod_paths.get(f"volume:{name}")
        if path is not None:
            path = path + (("hostPath",) if w.source == "app-template" else ())
        else:
            path = w.pod_path + ("volumes", i, "hostPath", "path")
        bad.append((None, f"hostPath volume {name} mounts {hp}", path, host_path_severity(hp)))
    return bad


@check(
    id="workloads.service-account-token",
    title="Pods do not mount a service account token they do not need",
    severity="medium",
    rationale="""
        Every pod gets an API token for its service account unless `automountServiceAccountToken: false`.
        A stolen token lets an intruder talk to the API server with whatever the account is bound to; the
        default account's token serves nothing. app-template up to 4.x mounts it by default, 5.x does not.""",
    remediation="""
        Set `automountServiceAccountToken: false` on the pod (app-template `defaultPodOptions`) or the
        ServiceAccount, and enable it only for apps that call the Kubernetes API with a dedicated account.""",
    references=["CIS Kubernetes Benchmark 5.1.6", f"{NSA}, 'Protecting Pod service account tokens'",
                "https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/"],
)
def service_account_token(inv, options):
    sa_index = {(r.namespace, r.name): r for r in inv.of_kind("ServiceAccount")}
    for w in deployed_workloads(inv):
        sa = str(w.pod.get("serviceAccountName") or w.pod.get("serviceAccount") or "default")
        explicit = "automountServiceAccountToken" in w.pod_paths or (
            w.source == "manifest" and "automountServiceAccountToken" in w.pod)
        value = w.pod.get("automountServiceAccountToken")
        origin = "pod spec"
        if not explicit:
            sa_res = sa_index.get((w.namespace, sa))
            if sa_res is not None and "automountServiceAccountToken" in sa_res.body:
                value, origin = sa_res.body.get("automountServiceAccountToken"), f"ServiceAccount {sa}"
            elif w.source == "app-template":
                origin = f"app-template {w.chart_version or '(version unknown)'} chart default"
            else:
                value, origin = True, "Kubernetes default"
        ev = _ev(w, service_account=sa, automount=value is not False, decided_by=origin)
        subject = _subject(w)
        if value is False:
            yield passed(inv, subject, f"{w.name} does not mount a service account token ({origin})", w.resource,
                         ppath(w, "automountServiceAccountToken"), evidence=ev)
        elif sa == "default" and not explicit:
            yield failed(inv, subject, f"{w.kind} {w.namespace}/{w.name} mounts the default service account's "
                         f"token ({origin})", w.resource, ppath(w, "automountServiceAccountToken"), evidence=ev)
        else:
            why = "explicitly enabled" if explicit else origin
            yield warned(inv, subject, f"{w.kind} {w.namespace}/{w.name} mounts the token of service account {sa} "
                         f"({why}); fine only if the app calls the Kubernetes API", w.resource,
                         ppath(w, "automountServiceAccountToken"), severity="low", evidence=ev)


@check(
    id="workloads.admission-rejected",
    title="Workloads are admitted by the cluster's own admission policies",
    severity="medium",
    rationale="""
        A pod that Pod Security Admission (the namespace's `pod-security.kubernetes.io/enforce` label, or the
        Talos cluster default and its exemptions) or an enforcing Kyverno validate rule refuses never runs:
        Flux applies the Deployment, its ReplicaSet creates no pod, and the app is down without a visible
        error in Git. It is a broken deployment, not an open door: the other workload checks credit the
        rejection (mitigated), this check reports it.""",
    remediation="""
        Make the pod meet the namespace's level (drop the privileged setting, host namespace, capability or
        hostPath the message names), or, if the app truly needs it, move it to a namespace labelled for it
        (`pod-security.kubernetes.io/enforce: privileged`) or add a narrow Kyverno PolicyException.""",
    references=[PSS, "https://kubernetes.io/docs/concepts/security/pod-security-admission/",
                "https://www.talos.dev/latest/kubernetes-guides/configuration/pod-security/"],
)
def admission_rejected(inv, options):
    for w in deployed_workloads(inv):
        if w.source not in effective.JUDGED_SOURCES or not w.namespace:
            continue
        rej = effective.workload(inv, w).rejection
        subject = _subject(w)
        if rej is None:
            yield passed(inv, subject, f"{w.name} meets the admission policies of namespace {w.namespace}", w.resource,
                         w.pod_path, evidence=_ev(w))
            continue
        yield failed(inv, subject, f"{w.kind} {w.namespace}/{w.name} will be rejected at admission and never runs: "
                     f"{rej.credit.detail} ({rej.credit.where() or 'cluster default'}); it breaks "
                     f"{'; '.join(rej.reasons[:4])}", w.resource, w.pod_path,
                     evidence=_ev(w, rejected_by=rej.credit.as_dict(), reasons=rej.reasons))


# ---- images and resources --------------------------------------------------------------------------

def split_image(image: str) -> tuple[str, str | None, str | None]:
    """`registry/repo:tag@digest` -> (repo, tag, digest)."""
    image = str(image or "").strip()
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    last = image.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        tag = last.rsplit(":", 1)[1]
        image = image[: len(image) - len(tag) - 1]
    if tag and "@" in tag:
        tag, digest = tag.split("@", 1)
    return image, tag, digest


def _image_path(w, c) -> tuple:
    return cpath(w, c, "image", "tag") if w.source != "manifest" else cpath(w, c, "image")


def _templated(image: str) -> bool:
    return "${" in image or "{{" in image


def _judged_images(w):
    """(container, image) pairs that can be judged: templated or missing images are left out."""
    for c in w.containers:
        image = str(c.spec.get("image") or "")
        if image and not _templated(image):
            yield c, image


@check(
    id="workloads.image-tag",
    title="Images are pinned to a version tag (no latest, no missing tag)",
    severity="medium",
    rationale="""
        `latest` or a missing tag makes what runs depend on when the node pulled it: a compromised or
        broken upstream push lands unreviewed, and Git no longer describes the cluster.""",
    remediation="""
        Pin every image to a version tag (preferably with its digest, `tag: 1.2.3@sha256:...`) and let
        Renovate propose upgrades.""",
    references=["Kyverno policy disallow-latest-tag", "CIS Kubernetes Benchmark 5.5.1"],
    mitigated_by=("policy",),
)
def image_tag(inv, options):
    for w in deployed_workloads(inv):
        yield _layered(inv, w, _bad_tag, f"every image of {w.name} is pinned to a tag", ("image",),
                       images=[str(c.spec.get("image")) for c in w.containers])


def _bad_tag(w) -> list:
    bad = []
    for c, image in _judged_images(w):
        _, tag, digest = split_image(image)
        if digest:
            continue
        if not tag:
            bad.append((c, f"container {c.name} image {image} has no tag", _image_path(w, c), None))
        elif tag.lower() == "latest":
            bad.append((c, f"container {c.name} image {image} uses latest", _image_path(w, c), None))
    return bad


@check(
    id="workloads.image-digest",
    title="Images are pinned by digest",
    severity="low",
    rationale="""
        A tag can be moved to different content; a digest cannot. Pinning by digest makes the running image
        exactly the reviewed one and defeats a registry or tag hijack.""",
    remediation="Pin images as `repo:tag@sha256:<digest>` (Renovate keeps digests up to date with `pinDigests`).",
    references=["Kyverno policy require-image-checksum", "https://docs.renovatebot.com/configuration-options/#pindigests"],
    mitigated_by=("policy",),
)
def image_digest(inv, options):
    for w in deployed_workloads(inv):
        yield _layered(inv, w, _bad_digest, f"every image of {w.name} is pinned by digest", ("image",),
                       images=[str(c.spec.get("image")) for c in w.containers])


def _bad_digest(w) -> list:
    return [(c, f"container {c.name} image {image} is not pinned by digest", _image_path(w, c), None)
            for c, image in _judged_images(w) if not split_image(image)[2]]


@check(
    id="workloads.resource-limits",
    title="Containers set a memory limit",
    severity="low",
    rationale="""
        Without a memory limit one leaking or attacked container can exhaust the node and get its neighbours
        (and the kubelet) OOM-killed: a denial of service across namespaces.""",
    remediation="Set `resources.limits.memory` (and requests) on every container.",
    references=["Kyverno policy require-requests-limits", f"{NSA}, 'Resource policies'"],
    mitigated_by=("policy",),
)
def resource_limits(inv, options):
    for w in deployed_workloads(inv):
        yield _layered(inv, w, _bad_limits, f"every container of {w.name} has a memory limit",
                       ("resources", "limits", "memory"))


def _bad_limits(w) -> list:
    bad = []
    for c in w.containers:
        if c.init:
            continue
        res = _d(c.spec.get("resources"))
        if not _d(res.get("limits")).get("memory"):
            bad.append((c, f"container {c.name} has no memory limit", cpath(w, c, "resources", "limits"), None))
    return bad


# ---- RBAC ------------------------------------------------------------------------------------------------

READ_VERBS = {"get", "list", "watch", "*"}
ESCALATION_VERBS = {"escalate", "bind", "impersonate"}


def _roles(inv, *kinds):
    return [r for r in inv.of_kind(*kinds) if r.group == "rbac.authorization.k8s.io"]


def _rules(role) -> list[tuple[int, dict]]:
    return [(i, r) for i, r in enumerate(_l(role.body.get("rules"))) if isinstance(r, dict)]


def _low(values) -> set:
    return {str(v).lower() for v in _l(values)}


def _role_subject(role) -> str:
    return f"{role.kind} {role.namespace}/{role.name}" if role.namespace else f"{role.kind} {role.name}"


def _bindings_to(inv, role) -> list:
    out = []
    for b in _roles(inv, "ClusterRoleBinding", "RoleBinding"):
        ref = _d(b.body.get("roleRef"))
        if ref.get("name") == role.name and ref.get("kind", "ClusterRole") == role.kind and (
                role.kind == "ClusterRole" or b.namespace == role.namespace):
            out.append(b)
    return out


def _rbac_ev(**kw) -> dict:
    return dict(kw, scope=RBAC_SCOPE)


@check(
    id="workloads.rbac-wildcards",
    title="RBAC roles grant no wildcard verbs or resources",
    severity="high",
    rationale="""
        `verbs: ["*"]` or `resources: ["*"]` grants every present and future permission of the API groups
        named, including escalation paths (secrets, pods/exec, RBAC itself) nobody reviewed.""",
    remediation="List the exact resources and verbs the subject needs.",
    references=["CIS Kubernetes Benchmark 5.1.3", "Kyverno policies restrict-wildcard-verbs, restrict-wildcard-resources"],
    needs=("ClusterRole", "Role"),
)
def rbac_wildcards(inv, options):
    for role in _roles(inv, "ClusterRole", "Role"):
        bad = [(i, r) for i, r in _rules(role) if "*" in _low(r.get("verbs")) or "*" in _low(r.get("resources"))]
        if bad:
            i, r = bad[0]
            what = []
            if "*" in _low(r.get("verbs")):
                what.append("verbs *")
            if "*" in _low(r.get("resources")):
                what.append("resources *")
            yield failed(inv, _role_subject(role), f"{_role_subject(role)} grants {' and '.join(what)} on API groups "
                         f"{', '.join(map(str, _l(r.get('apiGroups')))) or '(core)'}", role, ("rules", i),
                         evidence=_rbac_ev(rules=[r for _, r in bad][:5]))
        else:
            yield passed(inv, _role_subject(role), f"{_role_subject(role)} grants no wildcard", role,
                         evidence=_rbac_ev())


@check(
    id="workloads.rbac-secrets-access",
    title="No ClusterRole reads secrets cluster-wide",
    severity="high",
    rationale="""
        get/list/watch on secrets through a ClusterRoleBinding reads every Secret in every namespace: all
        credentials of the cluster, including service account tokens and the SOPS-decrypted values.""",
    remediation="""
        Grant secrets access with a Role in the namespace that needs it, restricted with `resourceNames`
        where possible; bind ClusterRoles with RoleBindings, not ClusterRoleBindings.""",
    references=["CIS Kubernetes Benchmark 5.1.2", "Kyverno policy restrict-secret-role-verbs"],
    needs=("ClusterRole", "ClusterRoleBinding"),
)
def rbac_secrets_access(inv, options):
    for role in _roles(inv, "ClusterRole"):
        bad = []
        for i, r in _rules(role):
            groups = _low(r.get("apiGroups")) or {""}
            res = _low(r.get("resources"))
            if (groups & {"", "*"}) and (res & {"secrets", "*"}) and (_low(r.get("verbs")) & READ_VERBS) \
                    and not r.get("resourceNames"):
                bad.append((i, r))
        subject = _role_subject(role)
        if not bad:
            yield passed(inv, subject, f"{subject} grants no cluster-wide secrets read", role, evidence=_rbac_ev())
            continue
        bindings = _bindings_to(inv, role)
        crbs = [b for b in bindings if b.kind == "ClusterRoleBinding"]
        i, r = bad[0]
        verbs = sorted(_low(r.get("verbs")) & READ_VERBS)
        ev = _rbac_ev(verbs=verbs, bindings=[f"{b.kind} {b.namespace or ''}/{b.name}".replace(" /", " ") for b in bindings],
                      subjects=[s for b in crbs for s in _l(b.body.get("subjects"))][:20])
        if crbs or not bindings:
            how = (f"bound cluster-wide by {', '.join(b.name for b in crbs)}" if crbs
                   else "no binding in Git (a chart or aggregation may bind it)")
            yield failed(inv, subject, f"{subject} can {'/'.join(verbs)} secrets in every namespace ({how})",
                         role, ("rules", i), evidence=ev)
        else:
            yield warned(inv, subject, f"{subject} reads secrets, bound only per namespace by "
                         f"{', '.join(b.name for b in bindings)}", role, ("rules", i), severity="medium", evidence=ev)


@check(
    id="workloads.rbac-escalation-verbs",
    title="RBAC roles grant no escalate, bind or impersonate",
    severity="high",
    rationale="""
        `escalate` and `bind` let a subject grant itself any role; `impersonate` lets it act as any user,
        group or service account: each is cluster-admin in one step.""",
    remediation="Remove these verbs; only cluster bootstrap identities should hold them.",
    references=["CIS Kubernetes Benchmark 5.1.8", "Kyverno policy restrict-escalation-verbs-roles"],
    needs=("ClusterRole", "Role"),
)
def rbac_escalation_verbs(inv, options):
    for role in _roles(inv, "ClusterRole", "Role"):
        hits = []
        for i, r in _rules(role):
            verbs = _low(r.get("verbs"))
            found = sorted(verbs & ESCALATION_VERBS)
            groups = _low(r.get("apiGroups")) or {""}
            if "*" in verbs and (groups & {"*", "", "rbac.authorization.k8s.io", "authentication.k8s.io"}) and (
                    _low(r.get("resources")) & {"*", "roles", "clusterroles", "users", "groups", "serviceaccounts",
                                                "rolebindings", "clusterrolebindings", "userextras/scopes", "uids"}):
                found.append("* (includes escalate/bind/impersonate)")
            if found:
                hits.append((i, found))
        subject = _role_subject(role)
        if hits:
            i, found = hits[0]
            yield failed(inv, subject, f"{subject} grants {', '.join(found)}", role, ("rules", i, "verbs"),
                         evidence=_rbac_ev(verbs=sorted({v for _, f in hits for v in f})))
        else:
            yield passed(inv, subject, f"{subject} grants no escalation verb", role, evidence=_rbac_ev())


SYSTEM_SA_NAMESPACES = {"kube-system", "flux-system"}


@check(
    id="workloads.rbac-cluster-admin-bindings",
    title="Bindings to cluster-admin are limited to system identities",
    severity="high",
    rationale="""
        A binding to `cluster-admin` gives its subjects every permission on every resource. Each one is a
        path from the subject (a user, a group, an app's service account) to full control of the cluster.""",
    remediation="""
        Bind narrower roles; keep cluster-admin to the GitOps controllers and break-glass identities, and
        never to `system:authenticated`/`system:serviceaccounts` or an app's service account.""",
    references=["CIS Kubernetes Benchmark 5.1.1", "Kyverno policy restrict-binding-clusteradmin"],
    needs=("ClusterRoleBinding", "RoleBinding"),
)
def rbac_cluster_admin_bindings(inv, options):
    for b in _roles(inv, "ClusterRoleBinding", "RoleBinding"):
        ref = _d(b.body.get("roleRef"))
        subject = f"{b.kind} {b.namespace}/{b.name}" if b.namespace else f"{b.kind} {b.name}"
        subjects = [s for s in _l(b.body.get("subjects")) if isinstance(s, dict)]
        names = [f"{s.get('kind')} {(s.get('namespace') + '/') if s.get('namespace') else ''}{s.get('name')}"
                 for s in subjects]
        if ref.get("name") != "cluster-admin":
            yield passed(inv, subject, f"{subject} binds {ref.get('kind')} {ref.get('name')}", b, evidence=_rbac_ev())
            continue
        system = all(s.get("kind") == "ServiceAccount" and (s.get("namespace") or b.namespace) in SYSTEM_SA_NAMESPACES
                     for s in subjects) and subjects
        broad = [n for n, s in zip(names, subjects) if str(s.get("name", "")).startswith("system:")
                 and s.get("kind") == "Group"]
        ev = _rbac_ev(subjects=names)
        if system and not broad:
            yield warned(inv, subject, f"{subject} grants cluster-admin to {', '.join(names)} (system/GitOps "
                         "identities: expected, keep it that way)", b, ("roleRef",), severity="low", evidence=ev)
        else:
            yield failed(inv, subject, f"{subject} grants cluster-admin to {', '.join(names) or 'no subject'}", b,
                         ("subjects",), severity="critical" if broad else None, evidence=ev)
