"""Node layer: Talos machine configuration (talhelper talconfig, patches, machine configs).

Every check evaluates the merged configuration of each node role (see `scanner.talos`), so a value
set in one patch and cleared or replaced by a later one is judged as the nodes would run it, and the
finding points at the patch line that decides it. A repository without any Talos machine
configuration cannot show its node hardening: the hardening checks then yield one failing subject
(a warning when other Talos files show the cluster runs Talos with its config kept elsewhere).
"""
from __future__ import annotations

import posixpath
import re


from scanner.analysis import talos, talos_templates
from scanner.core.memo import memo
from scanner.core.model import Location, Result
from scanner.checkapi.options import CheckOptions, option
from scanner.checkapi.registry import check
from scanner.checkapi.results import failed, passed, warned

DANGEROUS_TALOS_ROLES = {"os:admin"}
BROAD_TALOS_ROLES = {"os:operator"}
NO_CONFIG = "no Talos machine configuration in the repository"


# ---- helpers ----------------------------------------------------------------------------------------

def _resource(cfg_or_cluster) -> dict:
    cluster = cfg_or_cluster.cluster if isinstance(cfg_or_cluster, talos.TalosConfig) else cfg_or_cluster
    return {"apiVersion": "v1alpha1", "kind": "TalosMachineConfig", "namespace": None,
            "name": cluster.name or cluster.label, "origin": "talos"}


def _configs(inv, control_plane: bool = False):
    for c in talos.clusters(inv):
        for cfg in c.configs:
            if control_plane and not cfg.control_plane:
                continue
            yield cfg


def _absent(inv) -> Result:
    signals = memo(inv, "nodes.talos_signals", lambda: talos.talos_signals(inv))  # (one walk, not one per check)
    maker = warned if signals else failed
    msg = (f"{NO_CONFIG}: node hardening cannot be verified"
           + (f" (Talos files found: {', '.join(signals[:3])}; the machine config is kept elsewhere)" if signals else
              " (no talconfig, patch or machine config found; the node layer is unverified)"))
    return maker(inv, NO_CONFIG, msg, location=Location(signals[0] if signals else ".", None),
                 resource={"apiVersion": "v1alpha1", "kind": "TalosMachineConfig", "namespace": None,
                           "name": "(none)", "origin": "talos"},
                 evidence={"talos_files": signals})


_RANK = {"pass": 0, "warn": 1, "fail": 2}


def _verdicts(inv, items, scope: str = "node"):
    """items: (cfg, status, message, path, evidence). Identical verdicts of one cluster (same status,
    message and line) are merged into one subject naming every node role they hold for.

    A setting the API server or etcd reads is one setting of the cluster, whichever control-plane node
    answers: `scope="cluster"` drops the passes of a cluster that also fails or warns (a pass beside a
    fail for the same cluster would contradict it), `scope="single"` keeps one verdict per cluster, the
    worst, its subject naming every node role judged."""
    items = list(items)
    if scope == "cluster":
        bad = {id(cfg.cluster) for cfg, status, *_ in items if status != "pass"}
        items = [it for it in items if it[1] != "pass" or id(it[0].cluster) not in bad]
    elif scope == "single":
        per: dict = {}
        for it in items:
            per.setdefault(id(it[0].cluster), []).append(it)
        items = []
        for group in per.values():
            worst = max(group, key=lambda it: _RANK[it[1]])
            others = [f"{it[0].scope}: {it[1]} ({it[2]})" for it in group
                      if it is not worst and (it[1], it[2]) != (worst[1], worst[2])]
            ev = dict(worst[4] or {})
            if others:
                ev["other_control_planes"] = others
            scopes = list(dict.fromkeys(it[0].scope for it in group))
            items.append((worst[0], worst[1], worst[2], worst[3], ev, scopes))
    groups: dict = {}
    order = []
    for item in items:
        cfg, status, message, path, evidence = item[:5]
        scopes = item[5] if len(item) > 5 else [cfg.scope]
        loc = cfg.location(inv, *path)
        key = (id(cfg.cluster), status, message, loc.path, loc.line)
        if key not in groups:
            groups[key] = [cfg, status, message, loc, evidence, list(scopes)]
            order.append(key)
        else:
            groups[key][5].extend(s for s in scopes if s not in groups[key][5])
    maker = {"pass": passed, "fail": failed, "warn": warned}
    for key in order:
        cfg, status, message, loc, evidence, scopes = groups[key]
        subject = f"Talos {', '.join(scopes)} ({cfg.cluster.label})"
        ev = {k: v for k, v in (evidence or {}).items() if v is not None}
        if cfg.cluster.templates:
            ev["read_from_templates"] = cfg.cluster.templates
            if cfg.cluster.unread:
                ev["template_parts_unread"] = cfg.cluster.unread[:5]
        yield maker[status](inv, subject, message, location=loc, resource=_resource(cfg), evidence=ev)


def _truthy(v) -> bool:
    return v is True or str(v).strip().lower() in ("true", "1", "yes")


def _args(cfg, *path) -> dict:
    v = cfg.get(*path)
    return v if isinstance(v, dict) else {}


# ---- Talos API access -------------------------------------------------------------------------------

@check(
    id="nodes.talos-api-access",
    title="Kubernetes workloads get no admin access to the Talos API",
    severity="high",
    rationale="""
        `machine.features.kubernetesTalosAPIAccess` lets pods in the listed namespaces talk to the Talos API.
        With `os:admin` a compromised pod there can reset nodes, read machine secrets (etcd keys, CA) and
        replace the OS: a direct path from a workload to full cluster compromise.""",
    remediation="""
        Grant the narrowest role the tool needs (`os:reader`, or `os:etcd:backup` only for backup jobs), limit
        `allowedKubernetesNamespaces` to a dedicated namespace, or disable the feature.""",
    references=["https://www.talos.dev/latest/advanced/talos-api-access-from-k8s/",
                "https://www.talos.dev/latest/learn-more/talos-network-connectivity/"],
)
def talos_api_access(inv, options):
    cfgs = list(_configs(inv, control_plane=True))
    if not cfgs:
        yield _absent(inv)
        return
    items = []
    for cfg in cfgs:
        access = cfg.get("machine", "features", "kubernetesTalosAPIAccess")
        path = ("machine", "features", "kubernetesTalosAPIAccess")
        for frag, body in cfg.documents:
            if body.get("kind") == "KubeTalosAPIAccessConfig":
                access = dict(body, enabled=body.get("enabled", True))
        if not isinstance(access, dict) or not _truthy(access.get("enabled", False)):
            items.append((cfg, "pass", "Talos API access from Kubernetes is not enabled", path, {}))
            continue
        roles = sorted({str(r) for r in access.get("allowedRoles") or []})
        namespaces = sorted({str(n) for n in access.get("allowedKubernetesNamespaces") or []})
        sources = sorted({f.label for f, _ in cfg.sources(*path)})
        ev = {"roles": roles, "namespaces": namespaces, "set_in": sources}
        risky = sorted(set(roles) & DANGEROUS_TALOS_ROLES)
        broad = sorted(set(roles) & BROAD_TALOS_ROLES)
        rpath = path + ("allowedRoles",)
        if risky:
            items.append((cfg, "fail", f"kubernetesTalosAPIAccess grants {', '.join(risky)} to namespaces "
                          f"{', '.join(namespaces) or '(none listed)'} (set in {', '.join(sources)})", rpath, ev))
        elif broad:
            items.append((cfg, "warn", f"kubernetesTalosAPIAccess grants {', '.join(broad)} (node management) to "
                          f"namespaces {', '.join(namespaces) or '(none listed)'}", rpath, ev))
        elif not namespaces:
            items.append((cfg, "warn", "kubernetesTalosAPIAccess is enabled without allowedKubernetesNamespaces",
                          path, ev))
        else:
            items.append((cfg, "pass", f"kubernetesTalosAPIAccess limited to {', '.join(roles) or 'no roles'} in "
                          f"{', '.join(namespaces)}", rpath, ev))
    yield from _verdicts(inv, items)


# ---- versions ---------------------------------------------------------------------------------------

_VER = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def _minor(v: str | None):
    m = _VER.search(v or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def _tag(image) -> str | None:
    if isinstance(image, str) and ":" in image.rsplit("/", 1)[-1]:
        return image.rsplit(":", 1)[-1].split("@")[0]
    return None


class VersionOptions(CheckOptions):
    min_talos_version: str = option("1.11", pattern=r"^\d+\.\d+$", description="Oldest acceptable Talos minor version.")
    min_kubernetes_version: str = option("1.34", pattern=r"^\d+\.\d+$", description="Oldest acceptable Kubernetes minor version.")

@check(
    id="nodes.version-currency",
    title="Talos and Kubernetes versions are still supported",
    severity="low",
    rationale="""
        Security fixes ship only for supported releases: Sidero supports the latest Talos minors and the
        Kubernetes project the three newest minors. A cluster pinned to an old release stops receiving fixes
        for kernel, containerd and API server vulnerabilities.""",
    remediation="""
        Upgrade Talos (`talosctl upgrade`, or tuppr/system-upgrade-controller plans) and Kubernetes
        (`talosctl upgrade-k8s`) and let Renovate bump `talosVersion`/`kubernetesVersion`.""",
    references=["https://www.talos.dev/latest/introduction/support-matrix/",
                "https://kubernetes.io/releases/",
                "NSA/CISA Kubernetes Hardening Guide v1.2, 'Upgrading and application security practices'"],
    options=VersionOptions,
)
def version_currency(inv, options):
    clusters = talos.clusters(inv)
    if not clusters:
        yield _absent(inv)
        return
    mins = {"Talos": _minor(str(options.get("min_talos_version"))),
            "Kubernetes": _minor(str(options.get("min_kubernetes_version")))}
    for c in clusters:
        tv, kv = c.talos_version, c.kubernetes_version
        tkey, kkey = ("talosVersion",), ("kubernetesVersion",)
        doc = c.talconfig
        if doc is None:
            for cfg in c.configs:
                tv = tv or _tag(cfg.get("machine", "install", "image"))
                kv = kv or _tag(cfg.get("cluster", "apiServer", "image")) or _tag(cfg.get("machine", "kubelet", "image"))
            doc = c.anchor
            tkey, kkey = ("machine", "install", "image"), ("cluster", "apiServer", "image")
        for product, version, key in (("Talos", tv, tkey), ("Kubernetes", kv, kkey)):
            subject = f"{product} version ({c.label})"
            loc = Location(doc.path, inv.line_of(doc, key)) if doc else Location(c.root or ".", None)
            have, floor = _minor(version), mins[product]
            if have is None:
                yield warned(inv, subject, f"{product} version not resolvable from the repository ({version or 'unset'})",
                             location=loc, resource=_resource(c), evidence={"version": version})
            elif floor and have < floor:
                yield failed(inv, subject, f"{product} {version} is older than the oldest supported minor "
                             f"{floor[0]}.{floor[1]}", location=loc, resource=_resource(c),
                             evidence={"version": version, "minimum": f"{floor[0]}.{floor[1]}"})
            else:
                yield passed(inv, subject, f"{product} {version} is a supported release", location=loc,
                             resource=_resource(c), evidence={"version": version})


# ---- PodSecurity admission --------------------------------------------------------------------------

class ExemptionOptions(CheckOptions):
    allowed_exemptions: list[str] = option(["kube-system"], description="Namespaces that may be exempt from Pod Security admission.")

@check(
    id="nodes.pod-security-admission",
    title="Pod Security admission enforces a baseline by default",
    severity="high",
    rationale="""
        Talos configures the PodSecurity admission plugin with `enforce: baseline` for every namespace that
        has no label of its own. Removing it (a JSON patch `remove`/`replace` of `admissionControl`, or
        `$patch: delete`) or a PodSecurity configuration whose `defaults` end up without `enforce` makes every
        unlabelled namespace privileged: any pod may run privileged, with host namespaces and hostPath
        mounts. A strategic merge patch `admissionControl: []` does not remove it (Talos merges the list by
        plugin name), so the default stays, merged with any PodSecurity entry a later patch gives.""",
    remediation="""
        Keep Talos's PodSecurity default or give a full configuration: `defaults: {enforce: baseline (or
        restricted), audit: restricted, warn: restricted}`; exempt namespaces with the
        `pod-security.kubernetes.io/enforce: privileged` label on those namespaces instead of cluster-wide
        `exemptions`.""",
    references=["https://www.talos.dev/latest/kubernetes-guides/configuration/pod-security/",
                "https://kubernetes.io/docs/concepts/security/pod-security-admission/",
                "CIS Kubernetes Benchmark 5.2.1"],
    options=ExemptionOptions,
)
def pod_security_admission(inv, options):
    cfgs = list(_configs(inv, control_plane=True))
    if not cfgs:
        yield _absent(inv)
        return
    allowed = set(options.get("allowed_exemptions") or [])
    items = []
    path = talos.ADMISSION
    for cfg in cfgs:
        ps = talos.pod_security(cfg)
        ev = {k: v for k, v in (("cleared_by", ps.cleared), ("ineffective", ps.noops)) if v}
        noop = f"; {'; '.join(ps.noops)}" if ps.noops else ""
        if not ps.configured:
            how = f" ({'; '.join(ps.cleared)})" if ps.cleared else ""
            items.append((cfg, "fail", f"admissionControl has no PodSecurity configuration{how}: Talos's baseline "
                          "default is gone and unlabelled namespaces admit privileged pods", path, ev))
            continue
        extra = sorted(set(ps.exempt_namespaces) - allowed)
        ev.update({"enforce": ps.level("enforce"), "exempt_namespaces": ps.exempt_namespaces,
                   "set_in": cfg.where(*path)})
        if talos_templates.is_template_value(ps.enforce):
            items.append((cfg, "warn", f"PodSecurity defaults.enforce is set by a template expression ({ps.enforce}, "
                          f"in {cfg.where(*path)}): the enforced level cannot be read from the repository", path, ev))
        elif ps.enforce is None:
            how = f" after {'; '.join(ps.cleared)}" if ps.cleared else ""
            items.append((cfg, "fail", f"PodSecurity configuration{how} has no defaults.enforce (set in "
                          f"{cfg.where(*path)}): every namespace without its own label is privileged", path, ev))
        elif ps.level("enforce") == "privileged":
            items.append((cfg, "fail", "PodSecurity defaults.enforce is privileged: no pod security by default", path, ev))
        elif extra or ps.other_exemptions:
            items.append((cfg, "warn", f"PodSecurity enforce={ps.enforce} but exempts "
                          f"{', '.join(extra + ps.other_exemptions)} cluster-wide (set in {cfg.where(*path)}){noop}",
                          path, ev))
        else:
            items.append((cfg, "pass", f"PodSecurity enforce={ps.enforce} by default"
                          + (" (Talos default)" if ps.default else "") + noop, path, ev))
    yield from _verdicts(inv, items, scope="single")


# ---- API server -------------------------------------------------------------------------------------

@check(
    id="nodes.apiserver-audit-policy",
    title="The API server writes an audit log",
    severity="medium",
    rationale="""
        Without an audit policy there is no record of who read secrets, exec'd into pods or changed RBAC:
        an intrusion cannot be detected or reconstructed. Talos ships a Metadata-level policy by default;
        replacing it with an empty policy or only `level: None` rules turns auditing off.""",
    remediation="""
        Keep Talos's default `auditPolicy` (Metadata for everything) or a policy that logs at least Metadata
        for secrets, RBAC and exec; ship `/var/log/audit/kube` off the node.""",
    references=["https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/",
                "CIS Kubernetes Benchmark 3.2.1, 3.2.2",
                "NSA/CISA Kubernetes Hardening Guide v1.2, 'Audit logging and threat detection'"],
)
def apiserver_audit_policy(inv, options):
    cfgs = list(_configs(inv, control_plane=True))
    if not cfgs:
        yield _absent(inv)
        return
    items = []
    path = ("cluster", "apiServer", "auditPolicy")
    for cfg in cfgs:
        policy = cfg.get(*path)
        for frag, body in cfg.documents:
            if body.get("kind") == "KubeAuditPolicyConfig":
                policy = body.get("config") or body.get("configuration") or policy
        rules = [r for r in (policy or {}).get("rules") or []] if isinstance(policy, dict) else []
        levels = [str(r.get("level")) for r in rules if isinstance(r, dict)]
        default = cfg.origin(*path) is None
        if not isinstance(policy, dict):
            items.append((cfg, "fail", "no API server audit policy: API requests are not audited", path, {}))
        elif not rules or all(lv == "None" for lv in levels):
            items.append((cfg, "fail", "audit policy logs nothing (no rule above level None)", path, {"levels": levels}))
        else:
            secret_full = [r for r in rules if isinstance(r, dict) and r.get("level") in ("Request", "RequestResponse")
                           and any("secrets" in (res.get("resources") or []) for res in r.get("resources") or []
                                   if isinstance(res, dict))]
            if secret_full:
                items.append((cfg, "warn", "audit policy logs Secret bodies (Request/RequestResponse): secret values "
                              "land in the audit log", path, {"levels": levels}))
            else:
                items.append((cfg, "pass", f"audit policy with levels {', '.join(sorted(set(levels)))}"
                              + (" (Talos default)" if default else ""), path, {"levels": levels}))
    yield from _verdicts(inv, items, scope="single")


APISERVER_BAD_ARGS = (
    ("anonymous-auth", lambda v: _truthy(v), "anonymous-auth=true lets unauthenticated requests reach the API"),
    ("authorization-mode", lambda v: "AlwaysAllow" in str(v), "authorization-mode includes AlwaysAllow"),
    ("enable-admission-plugins", lambda v: "AlwaysAdmit" in str(v), "AlwaysAdmit admission plugin enabled"),
    ("disable-admission-plugins", lambda v: any(p in str(v) for p in ("NodeRestriction", "PodSecurity")),
     "NodeRestriction/PodSecurity admission disabled"),
    ("profiling", lambda v: _truthy(v), "profiling=true exposes pprof on the API server"),
    ("service-account-lookup", lambda v: str(v).lower() == "false", "service-account-lookup=false accepts deleted SA tokens"),
    ("insecure-port", lambda v: str(v) not in ("0", ""), "insecure-port serves the API without TLS or auth"),
)


@check(
    id="nodes.apiserver-anonymous-auth",
    title="The API server refuses anonymous and unauthorised requests",
    severity="high",
    rationale="""
        Talos runs kube-apiserver with `anonymous-auth=false`, `authorization-mode=Node,RBAC` and the
        NodeRestriction plugin. `extraArgs` can undo each of these: anonymous requests, AlwaysAllow
        authorisation or disabled admission plugins open the API to anyone who reaches port 6443.""",
    remediation="""
        Remove the weakening `cluster.apiServer.extraArgs` (anonymous-auth, AlwaysAllow, AlwaysAdmit,
        disable-admission-plugins, profiling); use an AuthenticationConfiguration without an `anonymous`
        section for OIDC.""",
    references=["https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/",
                "CIS Kubernetes Benchmark 1.2.1, 1.2.6-1.2.8, 1.2.15",
                "https://www.talos.dev/latest/reference/configuration/v1alpha1/config/#Config.cluster.apiServer"],
)
def apiserver_anonymous_auth(inv, options):
    cfgs = list(_configs(inv, control_plane=True))
    if not cfgs:
        yield _absent(inv)
        return
    items = []
    base = ("cluster", "apiServer", "extraArgs")
    for cfg in cfgs:
        args = _args(cfg, *base)
        bad = [(k, msg) for k, test, msg in APISERVER_BAD_ARGS if k in args and test(args[k])]
        anon_cfg = _anonymous_in_auth_config(cfg)
        if anon_cfg:
            bad.append(("authentication-config", anon_cfg))
        if bad:
            for k, msg in bad:
                items.append((cfg, "fail", f"kube-apiserver {msg}", base + (k,), {"arg": k, "value": str(args.get(k))}))
        else:
            auth = "structured authentication config" if "authentication-config" in args else (
                "OIDC" if any(k.startswith("oidc-") for k in args) else None)
            items.append((cfg, "pass", "anonymous-auth=false and Node,RBAC authorisation (Talos defaults kept)"
                          + (f"; {auth} for users" if auth else ""), base, {}))
    yield from _verdicts(inv, items, scope="cluster")


def _anonymous_in_auth_config(cfg) -> str | None:
    for f in cfg.get("machine", "files") or []:
        content = f.get("content") if isinstance(f, dict) else None
        if isinstance(content, str) and "AuthenticationConfiguration" in content and re.search(
                r"(?m)^\s*anonymous:\s*\n\s+enabled:\s*true", content):
            return "AuthenticationConfiguration enables anonymous access"
    return None


# ---- kubelet ----------------------------------------------------------------------------------------

KUBELET_BAD_ARGS = (
    ("anonymous-auth", lambda v: _truthy(v), "anonymous-auth=true: the kubelet API answers unauthenticated requests"),
    ("authorization-mode", lambda v: "AlwaysAllow" in str(v), "authorization-mode=AlwaysAllow on the kubelet API"),
    ("read-only-port", lambda v: str(v) not in ("0", ""), "read-only-port opens the unauthenticated kubelet port"),
    ("rotate-certificates", lambda v: str(v).lower() == "false", "rotate-certificates=false"),
    ("streaming-connection-idle-timeout", lambda v: str(v) in ("0", "0s"), "streaming connections never time out"),
    ("make-iptables-util-chains", lambda v: str(v).lower() == "false", "make-iptables-util-chains=false"),
    ("protect-kernel-defaults", lambda v: str(v).lower() == "false", "protect-kernel-defaults=false"),
)


@check(
    id="nodes.kubelet-settings",
    title="Kubelets keep their authenticated, certificate-rotating defaults",
    severity="high",
    rationale="""
        The kubelet API (10250) runs commands in any pod on the node. Talos configures webhook
        authentication and authorisation and no read-only port; `extraArgs`/`extraConfig` can reopen the
        unauthenticated read-only port (`readOnlyPort` is not a protected field), and
        `skipNodeRegistration` turns authentication off. Without `rotate-server-certificates` the kubelet
        serves a self-signed certificate that the API server and metrics-server cannot verify.""",
    remediation="""
        Remove weakening `machine.kubelet.extraArgs`/`extraConfig` (read-only-port, anonymous-auth,
        AlwaysAllow); set `rotate-server-certificates: true` with a kubelet serving-cert approver; keep
        `defaultRuntimeSeccompProfileEnabled: true`.""",
    references=["https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/",
                "CIS Kubernetes Benchmark 4.2.1-4.2.11",
                "https://www.talos.dev/latest/kubernetes-guides/configuration/deploy-metrics-server/"],
)
def kubelet_settings(inv, options):
    cfgs = list(_configs(inv))
    if not cfgs:
        yield _absent(inv)
        return
    items = []
    base = ("machine", "kubelet")
    for cfg in cfgs:
        args = _args(cfg, *base, "extraArgs")
        extra = _args(cfg, *base, "extraConfig")
        for frag, body in cfg.documents:
            if body.get("kind") == "KubeletConfig":
                extra = dict(extra, **(body.get("extraConfig") or {}))
        problems = [(base + ("extraArgs", k), msg) for k, test, msg in KUBELET_BAD_ARGS if k in args and test(args[k])]
        if str(extra.get("readOnlyPort", 0)) not in ("0", ""):
            problems.append((base + ("extraConfig", "readOnlyPort"),
                             f"extraConfig.readOnlyPort={extra.get('readOnlyPort')} opens the unauthenticated kubelet port"))
        if _truthy(cfg.get(*base, "skipNodeRegistration")):
            problems.append((base + ("skipNodeRegistration",),
                             "skipNodeRegistration turns kubelet webhook authentication off (AlwaysAllow)"))
        if str(extra.get("seccompDefault", "")).lower() == "false":
            problems.append((base + ("extraConfig", "seccompDefault"),
                             "extraConfig.seccompDefault=false: pods without a seccomp profile run unconfined"))
        elif cfg.get(*base, "defaultRuntimeSeccompProfileEnabled") is False and "seccompDefault" not in extra:
            problems.append((base + ("defaultRuntimeSeccompProfileEnabled",),
                             "defaultRuntimeSeccompProfileEnabled=false: pods run unconfined by default"))
        for path, msg in problems:
            items.append((cfg, "fail", f"kubelet {msg}", path, {}))
        if problems:
            continue
        rotate = args.get("rotate-server-certificates", extra.get("serverTLSBootstrap"))
        if _truthy(rotate):
            items.append((cfg, "pass", "kubelet API authenticated, no read-only port, serving certificates "
                          "signed by the cluster CA (rotate-server-certificates)", base + ("extraArgs",), {}))
        else:
            items.append((cfg, "warn", "kubelet API authenticated and no read-only port, but rotate-server-certificates "
                          "is not set: the kubelet serves a self-signed certificate nobody can verify",
                          base + ("extraArgs",), {}))
    yield from _verdicts(inv, items)


# ---- scheduling, bind addresses, etcd ---------------------------------------------------------------

@check(
    id="nodes.control-plane-scheduling",
    title="Workloads do not run on control-plane nodes",
    severity="low",
    rationale="""
        With `allowSchedulingOnControlPlanes: true` application pods share nodes with etcd and the API
        server: a container escape there reaches the etcd data and the cluster CA keys directly. Common and
        often necessary in small home labs, hence low severity.""",
    remediation="""
        Set `allowSchedulingOnControlPlanes: false` when worker capacity allows, or keep privileged and
        internet-facing workloads off control-plane nodes with taints/affinity.""",
    references=["https://www.talos.dev/latest/reference/configuration/v1alpha1/config/#Config.cluster",
                "NSA/CISA Kubernetes Hardening Guide v1.2, 'Control plane hardening'"],
)
def control_plane_scheduling(inv, options):
    cfgs = list(_configs(inv, control_plane=True))
    if not cfgs:
        yield _absent(inv)
        return
    items = []
    path = ("cluster", "allowSchedulingOnControlPlanes")
    for cfg in cfgs:
        if _truthy(cfg.get(*path)):
            items.append((cfg, "fail", f"allowSchedulingOnControlPlanes: true (set in {cfg.where(*path)}): workloads "
                          "share nodes with etcd and the API server", path, {}))
        else:
            items.append((cfg, "pass", "control-plane nodes do not run workloads", path, {}))
    yield from _verdicts(inv, items, scope="single")


def _all_interfaces(v) -> bool:
    s = str(v)
    return "0.0.0.0" in s or s.strip() in ("::", "[::]") or "[::]" in s


@check(
    id="nodes.control-plane-bind-address",
    title="Controller manager and scheduler listen on localhost only",
    severity="medium",
    rationale="""
        Talos binds kube-controller-manager (10257) and kube-scheduler (10259) to 127.0.0.1. `bind-address:
        0.0.0.0` (usually to scrape their metrics) exposes their HTTPS endpoints, health and debug handlers
        to every network the control-plane nodes are on.""",
    remediation="""
        Keep the default bind address and scrape through a local proxy, or restrict the ports with the Talos
        ingress firewall (`NetworkRuleConfig`) to the Prometheus pod network.""",
    references=["CIS Kubernetes Benchmark 1.3.7, 1.4.2",
                "https://www.talos.dev/latest/talos-guides/network/ingress-firewall/"],
)
def control_plane_bind_address(inv, options):
    cfgs = list(_configs(inv, control_plane=True))
    if not cfgs:
        yield _absent(inv)
        return
    items = []
    for cfg in cfgs:
        bad = []
        for comp in ("controllerManager", "scheduler"):
            v = _args(cfg, "cluster", comp, "extraArgs").get("bind-address")
            if v is not None and _all_interfaces(v):
                bad.append(comp)
                items.append((cfg, "fail", f"{comp} bind-address: {v} exposes its endpoints on every interface",
                              ("cluster", comp, "extraArgs", "bind-address"), {"component": comp}))
        if not bad:
            items.append((cfg, "pass", "controller-manager and scheduler bound to 127.0.0.1",
                          ("cluster", "controllerManager"), {}))
    yield from _verdicts(inv, items, scope="cluster")


@check(
    id="nodes.etcd-exposure",
    title="etcd serves no plaintext endpoint on every interface",
    severity="medium",
    rationale="""
        etcd holds every Secret of the cluster. Its client port is mutual-TLS; a `listen-metrics-urls` or
        `listen-client-urls` on `http://0.0.0.0` adds a plaintext listener reachable from the node network
        (metrics reveal cluster size, keys and timings; a plaintext client URL would expose the data).""",
    remediation="""
        Bind etcd metrics to the node's internal address or 127.0.0.1, or restrict port 2381 with the Talos
        ingress firewall to the monitoring network.""",
    references=["https://etcd.io/docs/latest/op-guide/configuration/",
                "CIS Kubernetes Benchmark 2.1-2.7"],
)
def etcd_exposure(inv, options):
    cfgs = list(_configs(inv, control_plane=True))
    if not cfgs:
        yield _absent(inv)
        return
    items = []
    base = ("cluster", "etcd", "extraArgs")
    for cfg in cfgs:
        args = _args(cfg, *base)
        bad = []
        for k in ("listen-metrics-urls", "listen-client-urls", "listen-client-http-urls"):
            v = args.get(k)
            if not isinstance(v, str) or "http://" not in v:
                continue
            if _all_interfaces(v) or k != "listen-metrics-urls":
                bad.append(k)
                items.append((cfg, "fail", f"etcd {k}: {v} serves plaintext HTTP"
                              + (" on every interface" if _all_interfaces(v) else ""),
                              base + (k,), {"arg": k, "value": v}))
        if not bad:
            items.append((cfg, "pass", "etcd listens with mutual TLS only (no plaintext listener on all interfaces)",
                          ("cluster", "etcd"), {}))
    yield from _verdicts(inv, items, scope="cluster")


# ---- disk encryption --------------------------------------------------------------------------------

def _key_kinds(enc) -> set[str]:
    kinds = set()
    for k in (enc or {}).get("keys") or [] if isinstance(enc, dict) else []:
        if isinstance(k, dict):
            kinds |= {x for x in ("tpm", "kms", "nodeID", "static") if x in k}
    return kinds


@check(
    id="nodes.disk-encryption",
    title="The Talos STATE partition is encrypted",
    severity="medium",
    rationale="""
        STATE holds the machine configuration: the cluster CA keys, etcd keys and bootstrap tokens. A node
        disk that leaves the house (RMA, theft, resale) without encryption gives away the cluster. EPHEMERAL
        holds pod data and volumes.""",
    remediation="""
        Encrypt STATE (and EPHEMERAL) with LUKS2 keyed to the TPM or a KMS: `machine.systemDiskEncryption`
        (Talos < 1.11) or `VolumeConfig {name: STATE, encryption: {provider: luks2, keys: [{slot: 0, tpm: {}}]}}`.
        A `nodeID` key is derived from the node itself and protects little.""",
    references=["https://www.talos.dev/latest/talos-guides/configuration/disk-encryption/",
                "https://budimanjojo.github.io/talhelper/latest/reference/configuration/"],
)
def disk_encryption(inv, options):
    cfgs = list(_configs(inv))
    if not cfgs:
        yield _absent(inv)
        return
    items = []
    for cfg in cfgs:
        found: dict = {}
        legacy = cfg.get("machine", "systemDiskEncryption")
        for vol in ("state", "ephemeral"):
            enc = (legacy or {}).get(vol) if isinstance(legacy, dict) else None
            if isinstance(enc, dict):
                found[vol.upper()] = (enc, ("machine", "systemDiskEncryption", vol))
        for frag, body in cfg.documents:
            if body.get("kind") == "VolumeConfig" and isinstance(body.get("encryption"), dict):
                found[str(body.get("name"))] = (body["encryption"], None)
        tc = cfg.cluster.talconfig
        if tc is not None:
            for n in cfg.cluster.nodes:
                if cfg.scope.startswith("node ") and str(n.get("hostname")) not in cfg.scope:
                    continue
                if (cfg.role == "controlplane") != bool(n.get("controlPlane")):
                    continue
                for v in n.get("volumes") or []:
                    if isinstance(v, dict) and isinstance(v.get("encryption"), dict):
                        found.setdefault(str(v.get("name")), (v["encryption"], None))
        state = found.get("STATE")
        if state is None:
            items.append((cfg, "fail", "STATE partition is not encrypted: the machine config (cluster CA, etcd keys) "
                          "is readable from the disk", (), {"encrypted": sorted(found)}))
            continue
        kinds = _key_kinds(state[0])
        path = state[1] or ()
        if kinds & {"tpm", "kms"}:
            items.append((cfg, "pass", f"STATE encrypted (LUKS2, {', '.join(sorted(kinds))} key)", path,
                          {"encrypted": sorted(found)}))
        else:
            items.append((cfg, "warn", f"STATE encrypted only with {', '.join(sorted(kinds)) or 'no'} key(s): a nodeID "
                          "or static key is derivable from the disk or the config", path, {"encrypted": sorted(found)}))
    yield from _verdicts(inv, items)


# ---- secrets committed, generated configs ignored ---------------------------------------------------

def _plaintext_secret_fields(body) -> list[str]:
    out = []
    for path in talos.SECRET_FIELDS:
        v = talos.get_path(body, path)
        if isinstance(v, str) and v.strip() and not v.startswith("ENC[") and "${" not in v:
            out.append(".".join(path))
    return out


@check(
    id="nodes.talos-secrets-encrypted",
    title="Talos secrets and generated machine configs are never committed in plaintext",
    severity="critical",
    rationale="""
        The Talos secrets bundle (`talsecret.yaml`) and every generated machine config carry the cluster
        and etcd CA private keys, the bootstrap token and the secretbox key. Anyone with read access to the
        repository (or its history) can impersonate nodes, mint admin credentials and decrypt etcd.""",
    remediation="""
        Encrypt the bundle with SOPS (`talsecret.sops.yaml`, a `.sops.yaml` rule for the talos folder), keep
        generated `clusterconfig/` out of Git, and rotate the cluster secrets if plaintext was ever pushed.""",
    references=["https://budimanjojo.github.io/talhelper/latest/getting-started/",
                "https://www.talos.dev/latest/talos-guides/configuration/managing-pki/"],
)
def talos_secrets_encrypted(inv, options):
    found = False
    for d in inv.documents:
        if d.origin != "git" or not isinstance(d.body, dict) or d.is_manifest:
            continue
        bundle = talos.is_secrets_bundle(d.body)
        fields = _plaintext_secret_fields(d.body)
        if not bundle and not (talos.is_machine_config(d.body) and (fields or talos.has_sops(d.body))):
            continue
        found = True
        what = "Talos secrets bundle" if bundle else "Talos machine config"
        subject = f"{what} {d.path}"
        res = {"apiVersion": "v1alpha1", "kind": "TalosSecrets" if bundle else "TalosMachineConfig",
               "namespace": None, "name": d.path, "origin": "talos"}
        if talos.has_sops(d.body) and not fields:
            yield passed(inv, subject, f"{what} is SOPS-encrypted", location=Location(d.path, d.line), resource=res)
        elif fields:
            first = fields[0].split(".")
            yield failed(inv, subject, f"{what} committed unencrypted: {', '.join(fields[:4])}"
                         + (" ..." if len(fields) > 4 else "") + " in plaintext"
                         + (" (archived copy: still in Git history)" if inv.is_archived(d.path) else ""),
                         location=Location(d.path, inv.line_of(d, first)), resource=res,
                         evidence={"fields": fields})
        else:
            yield passed(inv, subject, f"{what} holds no plaintext key material", location=Location(d.path, d.line),
                         resource=res)
    for f in inv.files:
        base = posixpath.basename(f)
        if base not in ("talosconfig", "kubeconfig") and not base.endswith((".talosconfig", ".kubeconfig")):
            continue
        text = inv.text(f) or ""
        if not re.search(r"(?m)^\s*(key|client-key-data|token|ca):\s*\S", text):
            continue
        found = True
        res = {"apiVersion": "v1", "kind": "ClientConfig", "namespace": None, "name": f, "origin": "talos"}
        if "ENC[" in text and "sops" in text:
            yield passed(inv, f"client config {f}", "client credentials are SOPS-encrypted", location=Location(f, 1),
                         resource=res)
        else:
            yield failed(inv, f"client config {f}", f"{base} with client key material committed in plaintext",
                         location=Location(f, 1), resource=res)
    if not found:
        yield passed(inv, "Talos secrets", "no Talos secrets bundle, machine config or talosconfig committed in plaintext",
                     location=Location(".", None),
                     resource={"apiVersion": "v1alpha1", "kind": "TalosSecrets", "namespace": None, "name": "(none)",
                               "origin": "talos"})


def _ignored(inv, rel: str) -> str | None:
    """The .gitignore that ignores `rel` (a path that may not exist), or None."""
    import pathspec  # a slow import, needed only here (a talconfig without its own clusterconfig/.gitignore)

    parts = rel.split("/")
    for i in range(len(parts)):
        base = "/".join(parts[:i])
        gi = f"{base}/.gitignore" if base else ".gitignore"
        text = inv.text(gi) if gi in set(inv.files) or inv.text(gi) is not None else None
        if not text:
            continue
        spec = pathspec.PathSpec.from_lines("gitignore", text.splitlines())
        sub = "/".join(parts[i:])
        if spec.match_file(sub):
            return gi
    return None


@check(
    id="nodes.clusterconfig-ignored",
    title="Generated Talos machine configs are kept out of Git",
    severity="high",
    rationale="""
        `talhelper genconfig` writes one full machine config per node (with every cluster secret in
        plaintext) and a talosconfig into `clusterconfig/`. Without an ignore rule one `git add .` publishes
        them.""",
    remediation="""
        Keep the `clusterconfig/.gitignore` talhelper writes, or add `clusterconfig/` to the repository's
        `.gitignore`; remove and rotate anything already committed.""",
    references=["https://budimanjojo.github.io/talhelper/latest/getting-started/"],
)
def clusterconfig_ignored(inv, options):
    files = set(inv.files)
    for c in talos.clusters(inv):
        if c.talconfig is None:
            continue
        gen = posixpath.join(c.root, "clusterconfig") if c.root else "clusterconfig"
        subject = f"generated configs {gen}/"
        res = _resource(c)
        committed = sorted(f for f in files if f.startswith(gen + "/") and posixpath.basename(f) != ".gitignore")
        if committed:
            yield failed(inv, subject, f"generated machine configs committed: {', '.join(committed[:3])}"
                         + (" ..." if len(committed) > 3 else ""), location=Location(committed[0], 1), resource=res,
                         evidence={"files": committed})
            continue
        own = f"{gen}/.gitignore"
        by = own if own in files else _ignored(inv, f"{gen}/{c.name or 'kubernetes'}-node.yaml")
        if by:
            yield passed(inv, subject, f"{gen}/ is ignored by {by}", location=Location(by, 1), resource=res)
        else:
            yield failed(inv, subject, f"nothing ignores {gen}/: talhelper genconfig output (plaintext secrets) "
                         "would be committed by `git add`", location=Location(c.talconfig.path, 1), resource=res)
