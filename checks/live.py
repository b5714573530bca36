"""Live-only checks: what only a running cluster can tell.

Git says what should run; these compare it with what does: ExternalSecrets that did not sync, Flux
objects not Ready, Kyverno's own verdicts (PolicyReports), privileged pods nobody declared, and
drift between the repository and the cluster. Without a cluster source they yield nothing (the
engine reports them not applicable); drift also needs the repository.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict


from scanner.core.model import SEVERITY_RANK, Location, Result
from scanner.checkapi.options import CheckOptions, option
from scanner.checkapi.context import scan_options
from scanner.checkapi.registry import check

FLUX_GROUPS = {
    "Kustomization": "kustomize.toolkit.fluxcd.io",
    "HelmRelease": "helm.toolkit.fluxcd.io",
    "GitRepository": "source.toolkit.fluxcd.io",
    "OCIRepository": "source.toolkit.fluxcd.io",
    "HelmRepository": "source.toolkit.fluxcd.io",
}
REPORT_KINDS = ("PolicyReport", "ClusterPolicyReport", "Report", "ClusterReport")

# Security-relevant kinds for drift, with the API groups that define them (Policy, SecurityPolicy
# and Middleware are common kind names; Traefik moved from traefik.containo.us to traefik.io).
SECURITY_KINDS = {
    "NetworkPolicy": {"networking.k8s.io"},
    "CiliumNetworkPolicy": {"cilium.io"},
    "CiliumClusterwideNetworkPolicy": {"cilium.io"},
    "ClusterRoleBinding": {"rbac.authorization.k8s.io"},
    "RoleBinding": {"rbac.authorization.k8s.io"},
    "ClusterRole": {"rbac.authorization.k8s.io"},
    "Role": {"rbac.authorization.k8s.io"},
    "ClusterPolicy": {"kyverno.io"},
    "Policy": {"kyverno.io"},
    "SecurityPolicy": {"gateway.envoyproxy.io"},
    "Middleware": {"traefik.io", "traefik.containo.us"},
}
# Kinds whose live objects come and go by design, so "in Git, not in the cluster" says nothing.
EPHEMERAL_KINDS = frozenset({"Pod", "Job"} | set(REPORT_KINDS))

# Defaults that API servers and installers create; never in Git, never drift.
SYSTEM_PREFIXES = ("system:", "kubeadm:")
SYSTEM_NAMES = frozenset({"cluster-admin", "admin", "edit", "view"})
FLUX_LABELS = (("kustomize.toolkit.fluxcd.io/name", "kustomize.toolkit.fluxcd.io/namespace", "Kustomization"),
               ("helm.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/namespace", "HelmRelease"))
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
MAX_TEXT = 300


def live(inv) -> bool:
    return "cluster" in (getattr(inv, "sources", None) or ())


def absent(inv, kind: str) -> bool:
    """True when the live cluster does not serve `kind` (its CRD is not installed)."""
    data = getattr(inv, "cluster", None)
    return bool(data) and kind in (getattr(data, "absent_kinds", None) or ())


def _unread(inv, kind: str) -> bool:
    """The live source could not list `kind` (403 or error): no verdict can rest on its absence."""
    data = getattr(inv, "cluster", None)
    if not data:
        return True
    return kind in (data.denied_kinds or []) or kind in (getattr(data, "failed_kinds", None) or [])


def _loc(res) -> Location:
    return Location(path=res.path, line=None if res.origin == "cluster" else res.line)


def _cut(text) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


def _condition(res, ctype: str = "Ready") -> dict | None:
    status = res.body.get("status") if isinstance(res.body, dict) else None
    conditions = status.get("conditions") if isinstance(status, dict) else None
    for c in conditions if isinstance(conditions, list) else ():
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def _live(inv, *kinds, group: str | None = None):
    out = inv.of_kind(*kinds, origin="cluster")
    return [r for r in out if group is None or r.group == group]


def _ident(res) -> str:
    return f"{res.kind} {res.namespace}/{res.name}" if res.namespace else f"{res.kind} {res.name}"


# ---- ExternalSecrets ------------------------------------------------------------------------------

@check(
    id="secrets.externalsecret-synced",
    title="Every ExternalSecret in the cluster is synced",
    severity="high",
    rationale="""
        An ExternalSecret that is not Ready/SecretSynced left its target Secret missing or stale: the
        app runs without credentials it needs, or keeps a rotated-out (possibly revoked or leaked)
        credential long after the secret store changed it.""",
    remediation="""
        Read the ExternalSecret's Ready condition (`kubectl describe externalsecret`): fix the store
        reference, the remote key, or the store's own authentication, then force a refresh.""",
    references=["https://external-secrets.io/latest/api/externalsecret/"],
    needs=("ExternalSecret", "ClusterExternalSecret"),
)
def externalsecret_synced(inv, options):
    if not live(inv):
        return
    for res in _live(inv, "ExternalSecret", "ClusterExternalSecret", group="external-secrets.io"):
        ready = _condition(res)
        evidence = {"ready": ready.get("status") if ready else None, "reason": ready.get("reason") if ready else None}
        if ready and ready.get("message"):
            evidence["message"] = _cut(ready["message"])
        if res.kind == "ClusterExternalSecret":
            failed_ns = (res.body.get("status") or {}).get("failedNamespaces") or []
            if failed_ns:
                evidence["failed_namespaces"] = [f.get("namespace") if isinstance(f, dict) else f for f in failed_ns][:20]
        ok = bool(ready) and ready.get("status") == "True" and ready.get("reason") in (None, "", "SecretSynced")
        ok = ok and not evidence.get("failed_namespaces")
        if ok:
            msg = f"{_ident(res)} is synced"
        elif not ready:
            msg = f"{_ident(res)} has no Ready condition: it was never reconciled (is the operator running?)"
        else:
            msg = (f"{_ident(res)} is not synced: Ready={ready.get('status')}"
                   f" reason={ready.get('reason') or '-'}: {_cut(ready.get('message')) or 'no message'}")
        yield Result(status="pass" if ok else "fail", subject=_ident(res), message=msg, resource=res.ref(),
                     location=_loc(res), evidence=evidence, namespace=res.namespace)


# ---- Flux readiness -------------------------------------------------------------------------------

@check(
    id="gitops.flux-ready",
    title="Flux Kustomizations, HelmReleases and sources are Ready and not suspended",
    severity="high",
    rationale="""
        A Flux object that is not Ready, or is suspended, stops applying Git to the cluster: security
        fixes merged to the repository never arrive, and hand-made changes are no longer reverted.
        The repository then describes a cluster that does not exist.""",
    remediation="""
        `flux get all -A --status-selector ready=false` lists them; fix the reported error
        (build failure, missing dependency, chart or source fetch) and `flux resume` suspended
        objects once the reason for suspending them is gone.""",
    references=["https://fluxcd.io/flux/cheatsheets/troubleshooting/",
                "https://fluxcd.io/flux/cmd/flux_resume/"],
    needs=tuple(FLUX_GROUPS),
)
def flux_ready(inv, options):
    if not live(inv):
        return
    for res in inv.of_kind(*FLUX_GROUPS, origin="cluster"):
        if res.group != FLUX_GROUPS[res.kind]:
            continue
        status = res.body.get("status") if isinstance(res.body.get("status"), dict) else {}
        ready, stalled = _condition(res), _condition(res, "Stalled")
        suspended = res.spec.get("suspend") is True
        evidence = {"suspended": suspended, "ready": ready.get("status") if ready else None,
                    "reason": ready.get("reason") if ready else None}
        if ready and ready.get("message"):
            evidence["message"] = _cut(ready["message"])
        for key in ("lastAppliedRevision", "lastAttemptedRevision"):
            if status.get(key):
                evidence[key] = status[key]
        subject = _ident(res)
        if res.kind == "HelmRepository" and res.spec.get("type") == "oci" and not ready:
            # OCI HelmRepositories are static since Flux 2.1: no conditions by design.
            status_, msg = "pass", f"{subject} is an OCI HelmRepository (not reconciled, no Ready condition)"
        elif (ready and ready.get("status") == "False") or (stalled and stalled.get("status") == "True"):
            cond = ready if ready and ready.get("status") == "False" else stalled
            status_ = "fail"
            msg = (f"{subject} is not Ready ({cond.get('reason') or 'no reason'}): "
                   f"{_cut(cond.get('message')) or 'no message'}")
            if suspended:
                msg += "; it is also suspended"
        elif suspended:
            status_, msg = "warn", f"{subject} is suspended: Git changes to it are not applied"
        elif not ready:
            status_, msg = "warn", f"{subject} has no Ready condition: never reconciled (is the controller running?)"
        elif ready.get("status") != "True":
            status_, msg = "warn", f"{subject} is reconciling (Ready={ready.get('status')}, {ready.get('reason') or '-'})"
        elif _stale(res, status):
            status_, msg = "warn", (f"{subject} is Ready for an older generation "
                                    f"({status.get('observedGeneration')} < {res.metadata.get('generation')})")
        else:
            status_, msg = "pass", f"{subject} is Ready"
        yield Result(status=status_, subject=subject, message=msg, resource=res.ref(), location=_loc(res),
                     evidence=evidence, namespace=res.namespace)


def _stale(res, status: dict) -> bool:
    gen, seen = res.metadata.get("generation"), status.get("observedGeneration")
    return isinstance(gen, int) and isinstance(seen, int) and 0 <= seen < gen


# ---- PolicyReports ----------------------------------------------------------------------------------

@check(
    id="policy.policyreport-failures",
    title="Kyverno policy reports show no failing resources",
    severity="medium",
    rationale="""
        Policies in Audit mode only report: a failing result is a live resource that breaks a rule the
        cluster claims to enforce (running as root, no limits, a mutable tag...). PolicyReports are
        the policy engine's own verdict on what actually runs.""",
    remediation="""
        Fix the reported resources (or their source in Git), or add a narrowly scoped
        PolicyException when the violation is intended; then consider moving the policy to Enforce.""",
    references=["https://kyverno.io/docs/policy-reports/",
                "https://github.com/kubernetes-sigs/wg-policy-prototypes/tree/master/policy-report"],
    needs=REPORT_KINDS,
)
def policyreport_failures(inv, options):
    if not live(inv):
        return
    per_policy: dict[str, dict] = {}
    for rep in inv.of_kind(*REPORT_KINDS, origin="cluster"):
        scope = rep.body.get("scope") if isinstance(rep.body.get("scope"), dict) else None
        for r in rep.body.get("results") or ():
            if not isinstance(r, dict) or not r.get("policy"):
                continue
            agg = per_policy.setdefault(str(r["policy"]), {
                "counts": defaultdict(int), "resources": [], "namespaces": defaultdict(int), "rules": set(),
                "messages": [], "severity": None, "report": rep, "seen": set()})
            outcome = str(r.get("result") or "")
            agg["counts"][outcome] += 1
            if outcome not in ("fail", "error", "warn"):
                continue
            if r.get("rule"):
                agg["rules"].add(str(r["rule"]))
            msg = _cut(r.get("message"))
            if msg and msg not in agg["messages"] and len(agg["messages"]) < 3:
                agg["messages"].append(msg)
            sev = str(r.get("severity") or "").lower()
            if outcome == "fail" and sev in SEVERITY_RANK and (
                    agg["severity"] is None or SEVERITY_RANK[sev] > SEVERITY_RANK[agg["severity"]]):
                agg["severity"] = sev
            for subj in (r.get("resources") or r.get("subjects") or ([scope] if scope else [])):
                if not isinstance(subj, dict):
                    continue
                ns = subj.get("namespace") or rep.namespace
                key = f"{subj.get('kind')}/{ns or '-'}/{subj.get('name')}"
                if key in agg["seen"]:
                    continue
                agg["seen"].add(key)
                agg["namespaces"][ns or "-"] += 1
                if len(agg["resources"]) < 10:
                    agg["resources"].append(key)
    policies = _index(inv, "ClusterPolicy", "Policy")
    for name in sorted(per_policy):
        agg = per_policy[name]
        counts = agg["counts"]
        pol = _policy_resource(policies, name, agg["report"])
        subject = f"policy {name}"
        namespaces = {k: v for k, v in agg["namespaces"].items() if k != "-"}
        evidence = {"results": dict(counts), "rules": sorted(agg["rules"]), "resources": agg["resources"],
                    "namespaces": dict(sorted(namespaces.items())), "messages": agg["messages"]}
        if counts.get("fail"):
            status, msg = "fail", (f"{name}: {counts['fail']} failing result(s) on {len(agg['seen'])} resource(s)"
                                   f" in {len(namespaces)} namespace(s)")
        elif counts.get("error") or counts.get("warn"):
            status, msg = "warn", f"{name}: {counts.get('warn', 0)} warning(s), {counts.get('error', 0)} error(s)"
        else:
            status, msg = "pass", f"{name}: no failing results ({counts.get('pass', 0)} pass)"
        target = pol or agg["report"]
        yield Result(status=status, subject=subject, message=msg, resource=target.ref() if pol else {
            "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy" if "/" not in name else "Policy",
            "namespace": name.split("/")[0] if "/" in name else None, "name": name.split("/")[-1],
            "origin": "cluster"}, location=_loc(target), evidence=evidence,
            severity=agg["severity"] if status == "fail" else None,
            namespace=next(iter(namespaces)) if len(namespaces) == 1 else None)


def _index(inv, *kinds) -> dict:
    return {(r.kind, r.namespace, r.name): r for r in inv.of_kind(*kinds, origin="cluster")}


def _policy_resource(policies: dict, name: str, report):
    if "/" in name:
        ns, _, short = name.partition("/")
        return policies.get(("Policy", ns, short))
    return policies.get(("ClusterPolicy", None, name)) or policies.get(("Policy", report.namespace, name))


# ---- Undeclared privileged pods ---------------------------------------------------------------------

@check(
    id="workloads.undeclared-privileged-pods",
    title="Every privileged or host-namespace pod in the cluster is declared in Git",
    severity="high",
    rationale="""
        A privileged container or a pod in the host's network/PID/IPC namespace owns its node. When no
        Git-managed object declares it, it bypassed review: a hand-applied debug pod
        (`kubectl debug node/...`), a manual `helm install`, or an attacker's foothold.""",
    remediation="""
        Delete the pod and whatever created it, or move its definition into Git (a Flux Kustomization
        or HelmRelease) where it is reviewed; admission policies can refuse privileged pods outside
        an allow-list of namespaces.""",
    references=["https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline",
                "https://kubernetes.io/docs/tasks/debug/debug-cluster/kubectl-node-debug/"],
    needs=("Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"),
)
def undeclared_privileged_pods(inv, options):
    if not live(inv):
        return
    live_index = {(r.kind, r.namespace, r.name): r for r in inv.resources if r.origin == "cluster"}
    git_keys = _git_keys(inv) if "git" in inv.sources else set()
    git_releases = _git_release_names(inv) if "git" in inv.sources else set()
    groups: dict[tuple, dict] = {}
    any_privileged = False
    for pod in inv.of_kind("Pod", origin="cluster"):
        if ((pod.body.get("status") or {}).get("phase")) in ("Succeeded", "Failed"):
            continue  # finished pods run nothing
        flags = _privileged(pod.spec)
        if not flags:
            continue
        any_privileged = True
        owner = _owner(pod, live_index)
        g = groups.setdefault(owner[:3], {"owner": owner, "pods": [], "flags": set()})
        g["pods"].append(pod)
        g["flags"].update(flags)
    for (kind, ns, name), g in sorted(groups.items(), key=lambda kv: tuple(x or "" for x in kv[0])):
        pod, owner_res = g["pods"][0], g["owner"][3]
        subject = f"{kind} {ns}/{name}" if ns else f"{kind} {name}"
        evidence = {"privileged": sorted(g["flags"]), "pods": [p.name for p in g["pods"][:10]]}
        declared = _declared(inv, kind, ns, name, pod, owner_res, git_keys, git_releases)
        target = owner_res or pod
        what = f"{subject} is privileged" if kind in ("Pod", "StaticPod") else f"{subject} runs privileged pods"
        what += f" ({', '.join(sorted(g['flags']))})"
        if declared:
            status, msg = "pass", f"{what}, declared by {declared}"
            evidence["declared_by"] = declared
        elif owner_res is None and kind != "Pod" and _unread(inv, kind):
            status, msg = "warn", (f"{what}; its owner could not be read ({kind} not listed), so whether Git "
                                   "declares it is unknown")
        else:
            status, msg = "fail", (f"{what} and no Git-managed object declares it"
                                   + ("" if "git" in inv.sources else " (it was not applied by Flux)"))
        yield Result(status=status, subject=subject, message=msg, resource=target.ref(), location=_loc(target),
                     evidence=evidence, namespace=ns)
    if not any_privileged and inv.of_kind("Pod", origin="cluster"):
        yield Result(status="pass", subject="live pods", message="no running pod is privileged or shares a host namespace",
                     evidence={"pods": len(inv.of_kind("Pod", origin="cluster"))})


def _privileged(spec: dict) -> set[str]:
    flags = {h for h in HOST_NAMESPACES if spec.get(h) is True}
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or ():
            if isinstance(c, dict) and ((c.get("securityContext") or {}).get("privileged") is True):
                flags.add(f"privileged container {c.get('name')}")
    return flags


_JOB_SUFFIX = re.compile(r"^(?P<base>.+)-\d{6,}$")  # CronJob jobs: <cronjob>-<scheduled minute>


def _owner(pod, live_index: dict) -> tuple:
    """(kind, namespace, name, live Resource or None) of the workload that owns the pod."""
    refs = [r for r in pod.metadata.get("ownerReferences") or () if isinstance(r, dict)]
    ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    ns = pod.namespace
    if pod.annotations.get("kubernetes.io/config.mirror") or (ref and ref.get("kind") == "Node"):
        return ("StaticPod", ns, pod.name, None)
    if not ref:
        return ("Pod", ns, pod.name, pod)
    kind, name = str(ref.get("kind")), str(ref.get("name"))
    if kind == "ReplicaSet":  # <deployment>-<pod-template-hash>; ReplicaSets are not read
        h = pod.labels.get("pod-template-hash")
        kind, name = "Deployment", name[: -len(h) - 1] if h and name.endswith("-" + h) else name.rsplit("-", 1)[0]
    elif kind == "Job":
        job = live_index.get(("Job", ns, name))
        jrefs = [r for r in (job.metadata.get("ownerReferences") or ()) if isinstance(r, dict)] if job else []
        cron = next((r for r in jrefs if r.get("kind") == "CronJob"), None)
        m = _JOB_SUFFIX.match(name)
        if cron:
            kind, name = "CronJob", str(cron.get("name"))
        elif job is None and m and ("CronJob", ns, m["base"]) in live_index:
            kind, name = "CronJob", m["base"]
    return (kind, ns, name, live_index.get((kind, ns, name)))


def _declared(inv, kind, ns, name, pod, owner_res, git_keys, git_releases) -> str | None:
    """What declares the owner in Git (text for the report), or None."""
    if kind == "StaticPod":
        return "the node's configuration (static pod)"
    if (kind, ns, name) in git_keys or (kind, None, name) in git_keys:
        return f"{kind} {ns}/{name} in Git" if ns else f"{kind} {name} in Git"
    holder = owner_res or (pod if kind == "Pod" else None)
    if holder is None:
        return None
    labels = holder.labels
    for name_label, ns_label, flux_kind in FLUX_LABELS:
        if labels.get(name_label):
            fns, fname = labels.get(ns_label), labels[name_label]
            in_git = "git" in inv.sources and (flux_kind, fns, fname) in git_keys
            return f"Flux {flux_kind} {fns}/{fname}" + (" (in Git)" if in_git else "")
    release = holder.annotations.get("meta.helm.sh/release-name")
    if release and (holder.annotations.get("meta.helm.sh/release-namespace"), release) in git_releases:
        return f"HelmRelease for release {release} in Git"
    return None


def _git_keys(inv) -> set[tuple]:
    keys = set()
    for r in inv.resources:
        if r.origin == "git" and r.deployed:
            keys.add((r.kind, r.namespace, r.name))
    for w in getattr(inv, "workloads", None) or ():  # app-template HelmReleases render workloads
        if getattr(w.resource, "origin", "git") == "git" and getattr(w.resource, "deployed", False):
            keys.add((w.kind, w.namespace, w.name))
    return keys


def _git_release_names(inv) -> set[tuple]:
    """(namespace, release name) Helm sees for each HelmRelease in Git."""
    out = set()
    for hr in inv.of_kind("HelmRelease", origin="git"):
        target = hr.spec.get("targetNamespace") or hr.namespace
        default = f"{target}-{hr.name}" if hr.spec.get("targetNamespace") else hr.name
        out.add((target, str(hr.spec.get("releaseName") or default)))
    return out


# ---- TLS certificates (--inspect-tls) ---------------------------------------------------------------

WEAK_HASHES = frozenset({"md5", "sha1"})


class CertificateOptions(CheckOptions):
    warn_days: int = option(21, gt=0, description="Warn when a certificate expires within this many days.")
    fail_days: int = option(7, gt=0, description="Fail when a certificate expires within this many days.")
    min_rsa_bits: int = option(2048, gt=0, description="Smallest acceptable RSA key.")
    min_ec_bits: int = option(256, gt=0, description="Smallest acceptable EC key.")

@check(
    id="perimeter.tls-certificates",
    title="TLS certificates served from the cluster are current, with strong keys",
    severity="high",
    rationale="""
        An expired certificate takes a service down or trains users to click through warnings; a
        short RSA key or a SHA-1 signature can be broken or forged. Expiry and key come from each
        cert-manager Certificate's status (`notAfter`, Ready) and spec (`privateKey`), so no Secret is
        read: a TLS Secret carries the private key, and reading one means holding it. With
        `--inspect-tls` (which needs `get` on those Secrets) the certificates in kubernetes.io/tls
        Secrets are parsed as well.""",
    remediation="""
        Renew the certificate (check the cert-manager Certificate and its issuer: `cmctl status
        certificate`), and issue RSA >= 2048-bit or ECDSA P-256+ keys signed with SHA-256 or better.""",
    references=["https://cert-manager.io/docs/troubleshooting/",
                "https://cert-manager.io/docs/reference/api-docs/#cert-manager.io/v1.CertificateStatus",
                "https://csrc.nist.gov/pubs/sp/800/131/a/r2/final"],
    options=CertificateOptions,
    needs=("Certificate",),
)
def tls_certificates(inv, options):
    if not live(inv):
        return
    today = scan_options(inv).today or dt.date.today()
    yield from _certificate_status(inv, options, today)
    certs = getattr(inv.cluster, "tls_certificates", None) or []
    secrets = _index(inv, "Secret")
    for c in certs:  # --inspect-tls: the certificates inside TLS Secrets
        ns, name = c.get("namespace"), c.get("name")
        res = secrets.get(("Secret", ns, name))
        subject = f"TLS Secret {ns}/{name}"
        fails, warns = _expiry(c.get("not_after"), today, options)
        days = _days(c.get("not_after"), today)
        key_type, bits = str(c.get("key_type") or ""), c.get("key_size")
        fails += _weak_key(key_type, bits, options)
        if str(c.get("signature_hash") or "").lower() in WEAK_HASHES:
            fails.append(f"signed with {c['signature_hash']}")
        evidence = {k: c.get(k) for k in ("not_after", "key_type", "key_size", "signature_hash", "issuer", "subject",
                                           "dns_names")}
        evidence["days_left"] = days
        status = "fail" if fails else "warn" if warns else "pass"
        msg = f"{subject}: " + ("; ".join(fails + warns) if fails or warns else
                                f"valid for {days} more days, {key_type} {bits} bits")
        yield Result(status=status, subject=subject, message=msg, resource=res.ref() if res else {
            "apiVersion": "v1", "kind": "Secret", "namespace": ns, "name": name, "origin": "cluster"},
            location=Location(path=f"cluster://Secret/{ns}/{name}", line=None), evidence=evidence, namespace=ns)


def _days(not_after, today: dt.date) -> int | None:
    try:
        return (dt.date.fromisoformat(str(not_after)[:10]) - today).days if not_after else None
    except ValueError:
        return None


def _expiry(not_after, today: dt.date, options) -> tuple[list[str], list[str]]:
    days = _days(not_after, today)
    if days is None:
        return [], []
    if days < 0:
        return [f"expired {-days} day(s) ago ({not_after})"], []
    if days < options["fail_days"]:
        return [f"expires in {days} day(s) ({not_after})"], []
    if days < options["warn_days"]:
        return [], [f"expires in {days} day(s) ({not_after})"]
    return [], []


def _weak_key(key_type: str, bits, options) -> list[str]:
    if isinstance(bits, int) and not isinstance(bits, bool):
        if ((key_type.upper() == "RSA" and bits < options["min_rsa_bits"])
                or (key_type.upper().startswith("EC") and bits < options["min_ec_bits"])):
            return [f"weak key: {key_type} {bits} bits"]
    return []


def _certificate_status(inv, options, today: dt.date):
    """cert-manager Certificates as the cluster reports them: expiry from status.notAfter, the key
    from spec.privateKey (cert-manager's defaults: RSA 2048, ECDSA 256), readiness from Ready."""
    for res in _live(inv, "Certificate", group="cert-manager.io"):
        status = res.body.get("status") if isinstance(res.body.get("status"), dict) else {}
        spec = res.spec
        subject = f"Certificate {res.namespace}/{res.name}"
        fails, warns = _expiry(status.get("notAfter"), today, options)
        key = spec.get("privateKey") if isinstance(spec.get("privateKey"), dict) else {}
        algorithm = str(key.get("algorithm") or "RSA")
        size = key.get("size") if isinstance(key.get("size"), int) else {"RSA": 2048, "ECDSA": 256}.get(algorithm.upper())
        fails += _weak_key("EC" if algorithm.upper() == "ECDSA" else algorithm, size, options)
        ready = _condition(res)
        if ready is not None and ready.get("status") != "True":
            fails.append(f"not Ready: {ready.get('reason') or ''} {_cut(ready.get('message'))}".strip())
        if not status.get("notAfter") and not fails:
            warns.append("no notAfter in its status yet (never issued?)")
        days = _days(status.get("notAfter"), today)
        verdict = "fail" if fails else "warn" if warns else "pass"
        msg = f"{subject}: " + ("; ".join(fails + warns) if fails or warns else
                                f"valid for {days} more days ({status.get('notAfter')}), {algorithm} {size} bits")
        yield Result(status=verdict, subject=subject, message=msg, resource=res.ref(), location=_loc(res),
                     namespace=res.namespace,
                     evidence={"not_after": status.get("notAfter"), "days_left": days, "secret": spec.get("secretName"),
                               "key_algorithm": algorithm, "key_size": size,
                               "renewal_time": status.get("renewalTime")})


# ---- Drift ----------------------------------------------------------------------------------------------

@check(
    id="gitops.cluster-drift",
    title="The cluster matches Git: nothing declared is missing, no security object was applied by hand",
    severity="high",
    rationale="""
        A security object applied by hand (a ClusterRoleBinding, a permissive NetworkPolicy, a Kyverno
        policy) changes the cluster's posture without review and without a trace in Git; an object in
        Git that is missing from the cluster means the posture reviewed in Git is not the one in force.""",
    remediation="""
        Move hand-applied objects into Git (or delete them); for objects missing from the cluster,
        look at the Flux Kustomization that should apply them (`flux get kustomizations -A`).""",
    references=["https://fluxcd.io/flux/components/kustomize/kustomizations/#prune",
                "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#default-roles-and-role-bindings"],
    needs=tuple(SECURITY_KINDS),
)
def cluster_drift(inv, options):
    if not (live(inv) and "git" in inv.sources):
        return
    data = inv.cluster
    read = set(getattr(data, "read_kinds", None) or ())
    groups = _kind_groups()
    live_objs = [r for r in inv.resources if r.origin == "cluster"]
    live_keys = {(r.kind, r.namespace, r.name) for r in live_objs}
    live_names = {(r.kind, r.name) for r in live_objs}
    git = [r for r in inv.resources if r.origin == "git" and r.deployed]
    git_keys = {(r.kind, r.namespace, r.name) for r in git}
    git_names = {(r.kind, r.name) for r in git if r.namespace is None}
    found = False
    # Git -> cluster
    for r in git:
        kind = r.kind
        if kind in EPHEMERAL_KINDS or kind not in groups or r.group not in groups[kind] or "${" in r.name:
            continue
        security = kind in SECURITY_KINDS
        subject = f"{_ident(r)} (Git)"
        if absent(inv, kind):
            found = True
            yield Result(status="fail" if security else "warn", subject=subject, resource=r.ref(), location=_loc(r),
                         message=f"{_ident(r)} is declared in Git but the cluster has no {kind} API (CRD not installed)",
                         severity=None if security else "medium", namespace=r.namespace,
                         evidence={"direction": "git-only", "crd_installed": False})
            continue
        if kind not in read:
            continue  # denied or failed: the source error already says so
        present = (kind, r.namespace, r.name) in live_keys if r.namespace else (kind, r.name) in live_names
        if present:
            if security:
                found = True
                yield Result(status="pass", subject=subject, message=f"{_ident(r)} is in Git and in the cluster",
                             resource=r.ref(), location=_loc(r), namespace=r.namespace,
                             evidence={"direction": "both"})
            continue
        found = True
        yield Result(status="fail" if security else "warn", subject=subject, resource=r.ref(), location=_loc(r),
                     message=f"{_ident(r)} is declared in Git but missing from the cluster",
                     severity=None if security else "medium", namespace=r.namespace,
                     evidence={"direction": "git-only"})
    # cluster -> Git (security kinds only)
    for r in live_objs:
        if r.kind not in SECURITY_KINDS or r.group not in SECURITY_KINDS[r.kind]:
            continue
        if (r.kind, r.namespace, r.name) in git_keys or (r.kind, r.name) in git_names:
            continue
        why = _managed_elsewhere(r)
        if why:
            continue
        found = True
        yield Result(status="fail", subject=f"{_ident(r)} (cluster)", resource=r.ref(), location=_loc(r),
                     message=f"{_ident(r)} exists in the cluster but not in Git (applied by hand?)",
                     namespace=r.namespace, evidence={"direction": "cluster-only", **_provenance(r)})
    if not found:
        yield Result(status="pass", subject="cluster vs Git", message="no drift in the kinds compared",
                     evidence={"kinds": sorted(k for k in read if k not in EPHEMERAL_KINDS)})


def _kind_groups() -> dict[str, set[str]]:
    """kind -> API groups it may carry in Git, for the kinds the live source knows."""
    from scanner.sources.kube_types import RESOURCE_TYPES

    out: dict[str, set[str]] = {}
    for t in RESOURCE_TYPES:
        out.setdefault(t.kind, set()).add(t.group)
    for kind, groups in SECURITY_KINDS.items():
        out.setdefault(kind, set()).update(groups)
    return out


def _managed_elsewhere(r) -> str | None:
    """Why a live object legitimately has no Git manifest of its own (None: it should have one)."""
    labels, name = r.labels, r.name
    if labels.get("kustomize.toolkit.fluxcd.io/name") or labels.get("helm.toolkit.fluxcd.io/name"):
        return "applied by Flux"
    if labels.get("app.kubernetes.io/managed-by") in ("Helm", "kyverno") or any(
            k.startswith("generate.kyverno.io/") for k in labels):
        return "rendered by Helm or generated by a Kyverno policy"
    if labels.get("kubernetes.io/bootstrapping") == "rbac-defaults":
        return "Kubernetes default RBAC"
    if name.startswith(SYSTEM_PREFIXES) or (r.kind in ("ClusterRole", "ClusterRoleBinding") and name in SYSTEM_NAMES):
        return "system default"
    if any(isinstance(o, dict) and o.get("controller") for o in r.metadata.get("ownerReferences") or ()):
        return "created by a controller for its owner"
    return None


def _provenance(r) -> dict:
    md = r.metadata
    out = {}
    if md.get("creationTimestamp"):
        out["created"] = md["creationTimestamp"]
    if "kubectl.kubernetes.io/last-applied-configuration" in r.annotations:  # value dropped by the source
        out["applied_with"] = "kubectl apply"
    return out
