"""Policy enforcement layer: Kyverno deployed by Flux, what its policies enforce, and the Pod Security
Standards coverage of Kyverno + Pod Security Admission together (see scanner/kyverno.py)."""
from __future__ import annotations

from scanner.analysis import kyverno as kyv
from scanner.core.model import Location
from scanner.checkapi.registry import check
from scanner.checkapi.results import failed, passed, warned

KYVERNO_API = "https://kyverno.io/docs/policy-types/cluster-policy/validate/"
PSS_REF = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def kyverno_releases(inv, deployed_only=True):
    out = []
    for hr in inv.of_kind("HelmRelease", deployed_only=deployed_only):
        info = inv.chart(hr)
        if (info.name or "").lower() == "kyverno" or (info.url or "").rstrip("/").endswith("/kyverno"):
            out.append(hr)
    return out


def _failure_policies(pols) -> dict:
    out: dict[str, int] = {}
    for p in pols:
        out[p.failure_policy] = out.get(p.failure_policy, 0) + 1
    return out


@check(
    id="policy.kyverno-deployed",
    title="Kyverno is deployed by Flux",
    severity="high",
    rationale="""
        An admission controller is what turns security policy into something enforced: without one, nothing
        stops a privileged pod, a hostPath mount or an unauthenticated route from being applied. Kyverno is the
        policy engine of this cluster design; its absence leaves the policy layer empty. One admission
        replica (the chart default) means every pod start waits on, or bypasses, a single pod.""",
    remediation="""
        Deploy the kyverno chart with a Flux HelmRelease (reachable from the Flux entry point, not suspended),
        with at least 3 admission controller replicas, and keep `features.forceFailurePolicyIgnore` off and
        webhook `failurePolicy: Fail` for the security policies.""",
    references=["https://kyverno.io/docs/installation/", "https://kyverno.io/policies/pod-security/",
                "CIS Kubernetes Benchmark 5.2.1", "NSA/CISA Kubernetes Hardening Guide v1.2, 'Pod security admission'"],
)
def kyverno_deployed(inv, options):
    releases = kyverno_releases(inv)
    pols = kyv.policies(inv)
    fps = _failure_policies(pols)
    if not releases:
        undeployed = kyverno_releases(inv, deployed_only=False)
        manifests = [r for r in inv.of_kind("Deployment") if "kyverno" in r.name and "admission" in r.name]
        if manifests:
            m = manifests[0]
            yield passed(inv, "Kyverno", f"Kyverno deployed from manifests ({m.kind} {m.name})", m,
                         evidence={"policies": len(pols), "policy_failure_policies": fps})
            return
        extra = (f"; a HelmRelease exists in {undeployed[0].path} but no Flux Kustomization reached from the "
                 "entry point deploys it") if undeployed else ""
        if pols and not undeployed:
            extra = f"; {len(pols)} Kyverno policies are declared but nothing deploys the engine that applies them"
        absent = set(getattr(inv.cluster, "absent_kinds", None) or ())
        if "cluster" in inv.sources and "ClusterPolicy" in absent:
            extra += "; the live cluster serves no kyverno.io API (CRDs not installed)"
        yield failed(inv, "Kyverno", "Kyverno is not deployed" + extra, undeployed[0] if undeployed else None,
                     resource=None if undeployed else {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                                                       "namespace": None, "name": "kyverno", "origin": "repository"},
                     evidence={"policies": len(pols)})
        return
    for hr in releases:
        info = inv.chart(hr)
        values = _d(hr.spec.get("values"))
        replicas = _d(values.get("admissionController")).get("replicas")
        if replicas is None:
            replicas = values.get("replicaCount")  # chart 2.x
        force_ignore = _d(_d(values.get("features")).get("forceFailurePolicyIgnore")).get("enabled") is True
        n = int(replicas) if str(replicas or "").isdigit() else 1
        evidence = {"chart_version": info.version, "admission_replicas": n,
                    "force_failure_policy_ignore": force_ignore, "policies": len(pols),
                    "policy_failure_policies": fps}
        subject = f"HelmRelease {hr.namespace}/{hr.name}"
        fp_text = ", ".join(f"{k} x{v}" for k, v in sorted(fps.items())) or "no policies"
        if hr.spec.get("suspend") is True:
            yield failed(inv, subject, "Kyverno HelmRelease is suspended", hr, ("spec", "suspend"), evidence=evidence)
        elif force_ignore:
            yield warned(inv, subject, f"Kyverno {info.version or ''} deployed, but features.forceFailurePolicyIgnore "
                         "makes every webhook fail open", hr, ("spec", "values", "features", "forceFailurePolicyIgnore"),
                         evidence=evidence)
        elif n < 3:
            yield warned(inv, subject, f"Kyverno {info.version or ''} deployed by Flux with {n} admission controller "
                         f"replica(s) (fewer than 3: not highly available); policy failurePolicy: {fp_text}", hr,
                         ("spec", "values", "admissionController", "replicas"), severity="medium", evidence=evidence)
        else:
            yield passed(inv, subject, f"Kyverno {info.version or ''} deployed by Flux ({n} admission controller "
                         f"replicas; policy failurePolicy: {fp_text})", hr, evidence=evidence)


@check(
    id="policy.kyverno-enforce-mode",
    title="Kyverno validate rules enforce (and fail closed)",
    severity="high",
    rationale="""
        A validate rule in Audit mode only writes a PolicyReport: the insecure pod is admitted. The effective
        action is per rule (`validate.failureAction` beats the deprecated `spec.validationFailureAction`; the
        CRD default is Audit). `failurePolicy: Ignore` admits everything while Kyverno is down or slow, which
        is when an attacker would try.""",
    remediation="""
        Set `validate.failureAction: Enforce` on each security rule once its PolicyReport is clean (exclude the
        few workloads that must violate it with a PolicyException), and `webhookConfiguration.failurePolicy:
        Fail` on security policies.""",
    references=[KYVERNO_API, "https://kyverno.io/docs/writing-policies/policy-settings/",
                "https://main.kyverno.io/docs/guides/migration/"],
)
def kyverno_enforce_mode(inv, options):
    pols = kyv.policies(inv)
    seen = False
    for p in pols:
        for r in p.rules:
            if r.type not in ("validate", "cel"):
                continue
            seen = True
            subject = f"{p.kind} {p.display} rule {r.name}"
            ev = {"action": r.action, "action_from": r.action_source, "failure_policy": p.failure_policy,
                  "failure_policy_from": p.failure_policy_source, "background": p.background,
                  "pss_controls": sorted(r.controls), "other_controls": sorted(r.other)}
            if r.deprecated:
                ev["deprecated"] = r.deprecated
            if r.overrides:
                ev["overrides"] = r.overrides
            if r.excludes:
                ev["exclude"] = r.excludes
            security = bool(r.controls or r.other - {"probes"})
            sev = None if security else "low"
            if not p.admission:
                yield failed(inv, subject, f"{subject}: spec.admission: false (report-only, never blocks)", p.resource,
                             ("spec", "admission"), severity=sev, evidence=ev)
            elif r.action != "Enforce":
                yield failed(inv, subject, f"{subject} is {r.action} ({r.action_source}): violations are reported, "
                             "not blocked", p.resource, r.action_path, severity=sev, evidence=ev)
            elif p.fail_open:
                yield warned(inv, subject, f"{subject} enforces, but failurePolicy Ignore ({p.failure_policy_source}) "
                             "admits everything while Kyverno is unavailable", p.resource, p.failure_policy_path,
                             severity="medium", evidence=ev)
            else:
                yield passed(inv, subject, f"{subject} enforces ({r.action_source})", p.resource, r.action_path,
                             evidence=ev)
    if not seen:
        first = pols[0].resource if pols else None
        yield failed(inv, "Kyverno validate policies", "no deployed validate policy: nothing is enforced at admission"
                     + (f" ({len(pols)} mutate/generate policies only)" if pols else ""), first,
                     resource=None if first else {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
                                                  "namespace": None, "name": "(none)", "origin": "repository"})


@check(
    id="policy.pod-security-coverage",
    title="Every Pod Security Standards control is enforced (Kyverno or Pod Security Admission)",
    severity="high",
    rationale="""
        The Pod Security Standards are the baseline of workload isolation. Each control must be enforced at
        admission by a Kyverno rule in Enforce mode or by Pod Security Admission (namespace label
        `pod-security.kubernetes.io/enforce` or the cluster default, Talos: baseline unless
        `admissionControl` is overridden) in every namespace that runs workloads. Audit-only rules, PSA
        audit/warn, and mutating policies that set secure defaults are mitigations (warn): they refuse
        nothing, an explicit insecure value wins over an add-if-absent default.""",
    remediation="""
        Keep Talos' PodSecurity `defaults.enforce: baseline` (do not override `admissionControl` without
        `defaults`), label namespaces `pod-security.kubernetes.io/enforce: restricted` where the apps allow
        it, and/or deploy the Kyverno pod-security policies (or one `validate.podSecurity` rule) with
        `failureAction: Enforce`.""",
    references=["https://kubernetes.io/docs/concepts/security/pod-security-standards/",
                "https://kubernetes.io/docs/concepts/security/pod-security-admission/",
                "https://kyverno.io/docs/policy-types/cluster-policy/validate/#pod-security",
                "https://www.talos.dev/latest/kubernetes-guides/configuration/pod-security/"],
)
def pod_security_coverage(inv, options):
    pols = kyv.policies(inv)
    rows = kyv.coverage(inv, pols)
    cluster = kyv.cluster_psa(inv)
    ns_labels = kyv.namespace_psa(inv)
    table = [r.line() for r in rows]
    psa = {"cluster_default": {"enforce": cluster.enforce, "audit": cluster.audit, "warn": cluster.warn,
                               "known": cluster.known, "exemptions": cluster.exemptions, "note": cluster.note,
                               "from": f"{cluster.path}:{cluster.line}" if cluster.path else None,
                               "steps": cluster.steps},
           "namespace_labels": {ns: {k: v for k, v in d.items() if k != "resource"} for ns, d in sorted(ns_labels.items())}}
    loc = Location(cluster.path, cluster.line) if cluster.path else None
    for cov in rows:
        c = cov.control
        subject = f"PSS {c.level} {c.id} {c.name}"
        ev = {"row": cov.row(), "coverage_table": table, "psa": psa}
        first_rule = (cov.enforce_rules or cov.audit_rules or cov.mitigations or [None])[0]
        res = first_rule.policy.resource if first_rule else None
        path = first_rule.path if first_rule else ()
        kw = {"location": loc} if res is None and loc else {}
        if res is None and not loc:
            kw["resource"] = {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "namespace": None,
                              "name": f"(no policy for {c.name})", "origin": "repository"}
        gaps = f"{len(cov.psa_gaps)} namespace(s) without PSA enforce {c.level}" if cov.psa_gaps else ""
        if cov.status == "enforced":
            how = ("Kyverno Enforce: " + ", ".join(r.label() for r in cov.enforce_rules)) if cov.enforce_rules \
                else f"Pod Security Admission in all {len(cov.psa_enforced)} workload namespaces"
            yield passed(inv, subject, f"{c.id} {c.name} enforced ({how})", res, path, evidence=ev, **kw)
        elif cov.status == "missing":
            unknown = "" if cluster.known else " (cluster-wide PodSecurity default not in the repo: taken as privileged)"
            yield failed(inv, subject, f"{c.id} {c.name} [{c.level}] is neither enforced nor audited"
                         + (f": {gaps}" if gaps else "") + unknown, res, path, severity="high" if c.level == "baseline" else "medium",
                         evidence=ev, **kw)
        else:
            what = {"audited": "only audited", "partial": "enforced only in part",
                    "mitigated": "only mitigated by a mutating default"}[cov.status]
            parts = []
            if cov.enforce_rules:
                parts.append("Enforce: " + ", ".join(r.label() for r in cov.enforce_rules))
            if cov.audit_rules:
                parts.append("Audit: " + ", ".join(r.label() for r in cov.audit_rules))
            if cov.mitigations:
                parts.append("mutation: " + ", ".join(r.label() for r in cov.mitigations))
            if cov.psa_enforced:
                parts.append(f"PSA enforce in {len(cov.psa_enforced)} namespace(s)")
            if gaps:
                parts.append(gaps)
            yield warned(inv, subject, f"{c.id} {c.name} [{c.level}] is {what} ({'; '.join(parts)})", res, path,
                         evidence=ev, **kw)


SYSTEM_OPT_OUT_HINT = "a workload that sets the excluded annotation/label opts itself out of the policy"


@check(
    id="policy.policy-exceptions",
    title="Policy exceptions and exclusions are narrow",
    severity="medium",
    rationale="""
        Every PolicyException and every rule `exclude` is a hole in admission control. Wildcard namespaces or
        kinds turn a policy off; an exclusion keyed on an annotation or label lets any workload author opt
        out of the policy by adding that label; `features.policyExceptions.namespace: "*"` lets exceptions
        be created anywhere.""",
    remediation="""
        Exclude by exact namespace (system namespaces only) or by a PolicyException naming the policy, rule,
        namespace and workload; never by a label/annotation the workload itself controls, never with `*`.""",
    references=["https://kyverno.io/docs/exceptions/", "https://kyverno.io/docs/writing-policies/match-exclude/"],
)
def policy_exceptions(inv, options):
    for hr in kyverno_releases(inv):
        pe = _d(_d(_d(hr.spec.get("values")).get("features")).get("policyExceptions"))
        subject = f"HelmRelease {hr.namespace}/{hr.name} policyExceptions"
        if pe.get("enabled") is True and str(pe.get("namespace", "")) == "*":
            yield failed(inv, subject, "Kyverno accepts PolicyExceptions from every namespace "
                         "(features.policyExceptions.namespace: \"*\")", hr,
                         ("spec", "values", "features", "policyExceptions", "namespace"), evidence=pe)
        else:
            yield passed(inv, subject, "PolicyExceptions " + ("enabled in namespace " + str(pe.get("namespace"))
                                                               if pe.get("enabled") else "disabled (chart default)"),
                         hr, evidence=pe)
    for ex in kyv.exceptions(inv):
        spec = ex.spec
        subject = f"PolicyException {ex.namespace}/{ex.name}"
        targets = [f"{e.get('policyName')}:{','.join(map(str, e.get('ruleNames') or []))}"
                   for e in spec.get("exceptions") or [] if isinstance(e, dict)]
        match = kyv.summarise_exclude(_d(spec.get("match")))
        wildcard = match.get("wildcard") or any(str(n) == "*" for n in match.get("namespaces", [])) or \
            any(str(r).endswith(":*") or ":*," in str(r) for r in targets)
        ev = {"exceptions": targets, "match": match}
        if wildcard:
            yield failed(inv, subject, f"{subject} exempts with a wildcard ({'; '.join(targets)})", ex,
                         ("spec", "match"), evidence=ev)
        else:
            yield warned(inv, subject, f"{subject} exempts {', '.join(match.get('namespaces', []) or ['(by name)'])} "
                         f"from {'; '.join(targets)}", ex, ("spec", "exceptions"), severity="low", evidence=ev)
    for p in kyv.policies(inv):
        for r in p.rules:
            if r.type not in ("validate", "cel") or not r.pod_rule:
                continue
            subject = f"{p.kind} {p.display} rule {r.name} exclude"
            ex = r.excludes
            ns = ex.get("namespaces", [])
            non_system = [n for n in ns if n not in kyv.SYSTEM_NAMESPACES]
            path = r.path + ("exclude",)
            ev = {"exclude": ex, "non_system_namespaces": non_system}
            if ex.get("wildcard"):
                yield failed(inv, subject, f"{subject}: excludes with a wildcard, the rule applies to nothing", p.resource,
                             path, evidence=ev)
            elif ex.get("selectors"):
                keys = sorted({k for s in ex["selectors"] for v in s.values() if isinstance(v, dict)
                               for k in (v.get("matchLabels") or v) if isinstance(k, str) and k != "matchExpressions"}
                              | {str(e.get("key")) for s in ex["selectors"] for v in s.values() if isinstance(v, dict)
                                 for e in (v.get("matchExpressions") or []) if isinstance(e, dict)})
                yield warned(inv, subject, f"{subject}: excludes by annotation/label ({', '.join(keys) or 'selector'}): "
                             f"{SYSTEM_OPT_OUT_HINT}", p.resource, path, evidence=ev)
            elif len(non_system) > 3:
                yield warned(inv, subject, f"{subject}: excludes {len(non_system)} application namespaces "
                             f"({', '.join(non_system)})", p.resource, path, severity="low", evidence=ev)
            else:
                yield passed(inv, subject, f"{subject}: " + (f"excludes {', '.join(ns)}" if ns else "no exclusion"),
                             p.resource, path if ex else r.path, evidence=ev)


# What a mutate rule may write that weakens every pod it selects.
_WEAK_VALUES = (
    ("privileged", lambda v: v is True, "privileged: true"),
    ("allowPrivilegeEscalation", lambda v: v is True, "allowPrivilegeEscalation: true"),
    ("runAsNonRoot", lambda v: v is False, "runAsNonRoot: false"),
    ("runAsUser", lambda v: str(v) == "0", "runAsUser: 0"),
    ("hostNetwork", lambda v: v is True, "hostNetwork: true"),
    ("hostPID", lambda v: v is True, "hostPID: true"),
    ("hostIPC", lambda v: v is True, "hostIPC: true"),
    ("readOnlyRootFilesystem", lambda v: v is False, "readOnlyRootFilesystem: false"),
)


def _weakening(patch, path=()) -> list[tuple[tuple, str]]:
    """(key path, what) of insecure values a mutate patch writes."""
    from scanner.analysis.kyverno_apply import anchor
    from scanner.analysis.pss import DANGEROUS_CAPABILITIES, cap_name

    out = []
    if isinstance(patch, dict):
        for k, v in patch.items():
            key, _ = anchor(k)
            p = path + (k,)
            for name, bad, what in _WEAK_VALUES:
                if key == name and bad(v):
                    out.append((p, what))
            if key == "type" and str(v) == "Unconfined" and any("seccompProfile" in str(x) for x in path):
                out.append((p, "seccompProfile Unconfined"))
            if key == "add" and any("capabilities" in str(x) for x in path) and isinstance(v, list):
                caps = [cap_name(c) for c in v if cap_name(c) in DANGEROUS_CAPABILITIES]
                if caps:
                    out.append((p, f"capabilities.add {', '.join(caps)}"))
            if key == "hostPath":
                out.append((p, "a hostPath volume"))
            if isinstance(v, (dict, list)):
                out.extend(_weakening(v, p))
    elif isinstance(patch, list):
        for i, v in enumerate(patch):
            out.extend(_weakening(v, path + (i,)))
    return out


def _json_patch_ops(ops) -> list:
    if isinstance(ops, str):
        from scanner.sources.yamlload import load_documents
        docs, _ = load_documents(ops)
        ops = docs[0].body if docs else []
    return ops if isinstance(ops, list) else []


@check(
    id="policy.weakening-mutations",
    title="No admission mutation weakens the pods it selects",
    severity="high",
    rationale="""
        A Kyverno mutate rule rewrites every pod it matches before anything validates it: one that sets
        `privileged: true`, adds a dangerous capability, turns on a host namespace, sets UID 0 or an
        Unconfined seccomp profile overrides what each manifest says, for every workload it selects, without
        a line in those manifests. The workload checks judge the mutated pods; this check names the rule.""",
    remediation="""
        Remove the insecure value from the mutate rule, or narrow its `match` to the one workload that needs
        it (and document why); secure defaults belong in mutate rules, privileges in the workload's own
        manifest where reviewers see them.""",
    references=["https://kyverno.io/docs/writing-policies/mutate/", PSS_REF],
)
def weakening_mutations(inv, options):
    from scanner.analysis import effective

    rules = effective.kyverno_rules(inv, "mutate")
    affected: dict = {}
    for w in inv.workloads:
        if not w.resource.deployed:
            continue
        for a in effective.workload(inv, w).applied:
            affected.setdefault(id(a.rule), []).append(f"{w.kind} {w.namespace}/{w.name}")
    for rule in rules:
        m = rule.body.get("mutate") if isinstance(rule.body.get("mutate"), dict) else {}
        found = []
        for key in ("patchStrategicMerge",):
            if key in m:
                found += [(("mutate", key) + p, what) for p, what in _weakening(m[key])]
        for i, fe in enumerate(m.get("foreach") or []):
            if isinstance(fe, dict) and "patchStrategicMerge" in fe:
                found += [(("mutate", "foreach", i, "patchStrategicMerge") + p, what)
                          for p, what in _weakening(fe["patchStrategicMerge"])]
        for op in _json_patch_ops(m.get("patchesJson6902")):
            if isinstance(op, dict) and op.get("op") in ("add", "replace"):
                leaf = str(op.get("path", "")).rstrip("/").rsplit("/", 1)[-1]
                for p, what in _weakening({leaf: op.get("value")}, tuple(str(op.get("path", "")).split("/")[:-1])):
                    found.append((("mutate", "patchesJson6902"), what))
        subject = rule.label
        hit = affected.get(id(rule), [])
        ev = {"workloads": hit[:30], "workload_count": len(hit)}
        if found:
            p, _ = found[0]
            yield failed(inv, subject, f"{subject} writes {', '.join(dict.fromkeys(w for _, w in found))} into the pods it "
                         f"selects ({len(hit)} workload(s) in the repository)", rule.policy, rule.path + p,
                         evidence=dict(ev, weakens=[w for _, w in found]))
        else:
            yield passed(inv, subject, f"{subject} writes no insecure pod setting", rule.policy, rule.path, evidence=ev)
