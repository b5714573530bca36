"""Multi-tenancy: Flux's tenant isolation, judged only where several tenants share the cluster.

Items of the Flux project's security audit checklist (fluxcd/agent-skills, gitops-repo-audit) under
"Multi-Tenancy and RBAC" and "Multi-tenant mode enabled". Each check first takes the tenancy decision
(`scanner.analysis.tenancy`): a single-tenant repository gets one result per check that says "not
applicable: single tenant" with the evidence searched for (a pass with `evidence.not_applicable`,
never a silent pass and never a failure); a multi-tenant one is judged object by object.
"""
from __future__ import annotations

from scanner.analysis import fluxinstance, kyverno
from scanner.analysis import tenancy as tenancy_mod
from scanner.checkapi.registry import check
from scanner.checkapi.results import failed, passed, warned
from scanner.core.model import Location

from checks.gitops_supply_chain import FLUX_CHECKLIST, where

SOURCE_KINDS = ("GitRepository", "OCIRepository", "HelmRepository", "Bucket")
SOURCE_GROUP = "source.toolkit.fluxcd.io"
MULTITENANCY = "https://fluxcd.io/flux/installation/configuration/multitenancy/"


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


REPOSITORY = {"apiVersion": None, "kind": "Repository", "namespace": None, "name": "repository", "origin": "repository"}


def _anchor(inv) -> dict:
    """Where a repository-wide tenancy verdict points: the FluxInstance, else the Flux entry point."""
    insts = fluxinstance.instance_specs(inv)
    if insts:
        return where(inv, insts[0], "cluster") if insts[0].get("cluster") is not None else where(inv, insts[0])
    entry = getattr(inv, "entry", None)
    if entry is not None and getattr(entry, "path", None):
        return {"location": Location(entry.path, entry.line), "resource": REPOSITORY, "namespace": None}
    return {"location": Location(".", None), "resource": REPOSITORY, "namespace": None}


def decision(inv):
    """(tenancy decision, the not-applicable result when single tenant, else None)."""
    t = tenancy_mod.decide(inv)
    if t.multi_tenant:
        return t, None
    return t, passed(inv, "tenancy", f"not applicable: single tenant (evidence: {t.summary()})",
                     evidence={"not_applicable": True, "tenancy": t.as_dict()}, **_anchor(inv))


def _tenant_objects(inv, t):
    return [r for r in tenancy_mod.appliers(inv) if r.namespace in t.tenant_namespaces]


def _evidence(t, **more) -> dict:
    return dict(more, tenancy={"multi_tenant": True, "evidence": t.evidence[:10]})


def _cluster_wide_bindings(inv) -> dict[tuple[str, str], str]:
    """(namespace, ServiceAccount) -> the ClusterRoleBinding that grants it cluster-wide rights."""
    out = {}
    for crb in inv.of_kind("ClusterRoleBinding"):
        for s in crb.body.get("subjects") or [] if isinstance(crb.body, dict) else []:
            if isinstance(s, dict) and s.get("kind") == "ServiceAccount":
                out.setdefault((str(s.get("namespace") or ""), str(s.get("name") or "")), crb.name)
    return out


@check(
    id="gitops.tenant-service-accounts",
    title="Tenant Kustomizations and HelmReleases impersonate a namespaced service account",
    severity="high",
    rationale="""
        On a shared cluster Flux reconciles with its own cluster-admin rights unless an object names a
        `serviceAccountName` (or the controllers default to one): a tenant's Kustomization or HelmRelease
        without it can create ClusterRoleBindings, read every Secret and take over other tenants. Each
        tenant object should impersonate a service account bound by RoleBindings in its own namespace,
        not by a ClusterRoleBinding. With FluxInstance `cluster.multitenant: true` (or
        `--default-service-account` on the controllers) the default service account is impersonated and
        the object may omit the field. Judged only when the repository is multi-tenant.""",
    remediation="""
        Set `spec.serviceAccountName` on every tenant Kustomization and HelmRelease (or enable FluxInstance
        `cluster.multitenant: true`), and bind that ServiceAccount with RoleBindings in the tenant
        namespace only.""",
    references=[FLUX_CHECKLIST, MULTITENANCY,
                "https://fluxcd.io/flux/components/kustomize/kustomizations/#role-based-access-control"],
)
def tenant_service_accounts(inv, options):
    t, na = decision(inv)
    if na:
        yield na
        return
    default = fluxinstance.controller_flags(inv).enabled("default-service-account")
    cluster_wide = _cluster_wide_bindings(inv)
    for r in _tenant_objects(inv, t):
        subject = f"{r.kind} {r.namespace}/{r.name}"
        sa = r.spec.get("serviceAccountName")
        if sa:
            crb = cluster_wide.get((r.namespace or "", str(sa)))
            if crb:
                yield failed(inv, subject, f"impersonates ServiceAccount {sa}, which ClusterRoleBinding {crb} grants "
                                           "cluster-wide rights", evidence=_evidence(t, serviceAccountName=sa,
                                                                                     clusterRoleBinding=crb),
                             **where(inv, r, "serviceAccountName"))
            else:
                yield passed(inv, subject, f"impersonates ServiceAccount {sa}", evidence=_evidence(t, serviceAccountName=sa),
                             **where(inv, r, "serviceAccountName"))
        elif default is not None:
            yield passed(inv, subject, f"no serviceAccountName: the controllers impersonate ServiceAccount "
                                       f"{default.value} ({default.how})",
                         evidence=_evidence(t, default_service_account=default.value), **where(inv, r))
        else:
            yield failed(inv, subject, f"tenant {r.kind} without serviceAccountName reconciles with Flux's own "
                                       "cluster-admin rights", evidence=_evidence(t), **where(inv, r))


def _flag_verdict(inv, t, flag: str, subject: str, ok: str, missing: str):
    setting = fluxinstance.controller_flags(inv).enabled(flag)
    off = fluxinstance.controller_flags(inv).effective(flag)
    if setting is not None:
        return passed(inv, subject, ok.format(value=setting.value, how=setting.how), location=setting.where,
                      evidence=_evidence(t, flag=f"--{flag}", value=setting.value, set_by=setting.how))
    at = _anchor(inv)
    if off is not None:
        at["location"] = off.where
    return failed(inv, subject, missing + (f" ({off.how} sets --{flag}={off.value})" if off is not None else ""),
                  evidence=_evidence(t, flag=f"--{flag}"), **at)


@check(
    id="gitops.tenant-default-service-account",
    title="Flux controllers impersonate a default service account (multi-tenancy lockdown)",
    severity="high",
    rationale="""
        `--default-service-account` makes kustomize-controller and helm-controller impersonate a
        (rights-less by default) service account whenever an object omits `serviceAccountName`, so a
        tenant cannot fall back to Flux's cluster-admin rights by leaving the field out. FluxInstance
        `cluster.multitenant: true` sets it (with `tenantDefaultServiceAccount`); bootstrap installs set
        it with a kustomize patch on the controllers. Judged only when the repository is multi-tenant.""",
    remediation="""
        Set FluxInstance `cluster.multitenant: true`, or patch kustomize-controller and helm-controller with
        `--default-service-account=default` (Flux multi-tenancy lockdown).""",
    references=[FLUX_CHECKLIST, MULTITENANCY],
)
def tenant_default_service_account(inv, options):
    t, na = decision(inv)
    if na:
        yield na
        return
    yield _flag_verdict(inv, t, "default-service-account", "Flux controllers --default-service-account",
                        "the controllers impersonate ServiceAccount {value} by default ({how})",
                        "multi-tenant cluster and the controllers have no --default-service-account (nor FluxInstance "
                        "cluster.multitenant: true): a tenant object without serviceAccountName gets Flux's "
                        "cluster-admin rights")


def _cross_refs(r) -> list[tuple[tuple, str, str]]:
    """(key path, kind/name, namespace) of each source reference that leaves the object's namespace."""
    out = []
    refs = [(("spec", "sourceRef"), _d(r.spec.get("sourceRef"))), (("spec", "chartRef"), _d(r.spec.get("chartRef"))),
            (("spec", "chart", "spec", "sourceRef"), _d(_d(_d(r.spec.get("chart")).get("spec")).get("sourceRef")))]
    for path, ref in refs:
        ns = ref.get("namespace")
        if ref.get("name") and ns and str(ns) != (r.namespace or ""):
            out.append((path, f"{ref.get('kind') or 'source'} {ref['name']}", str(ns)))
    return out


@check(
    id="gitops.tenant-cross-namespace-refs",
    title="Tenants reference only sources in their own namespace",
    severity="high",
    rationale="""
        A tenant Kustomization or HelmRelease whose `sourceRef`/`chartRef` names a source in another
        namespace reads (and applies) what another tenant or the platform fetched, with that source's
        credentials: it bypasses tenant isolation. `--no-cross-namespace-refs=true` on the controllers
        (set by FluxInstance `cluster.multitenant: true`) makes Flux refuse such references. Both the
        references and the flag are judged, only when the repository is multi-tenant.""",
    remediation="""
        Give each tenant its own GitRepository/OCIRepository/HelmRepository in its namespace, and set
        `--no-cross-namespace-refs=true` on the controllers (FluxInstance `cluster.multitenant: true`, or a
        kustomize patch for bootstrap installs).""",
    references=[FLUX_CHECKLIST, MULTITENANCY],
)
def tenant_cross_namespace_refs(inv, options):
    t, na = decision(inv)
    if na:
        yield na
        return
    yield _flag_verdict(inv, t, "no-cross-namespace-refs", "Flux controllers --no-cross-namespace-refs",
                        "cross-namespace references are refused ({how})",
                        "multi-tenant cluster and the controllers allow cross-namespace references (no "
                        "--no-cross-namespace-refs=true, no FluxInstance cluster.multitenant: true)")
    for r in _tenant_objects(inv, t):
        subject = f"{r.kind} {r.namespace}/{r.name}"
        crossing = _cross_refs(r)
        if crossing:
            path, what, ns = crossing[0]
            yield failed(inv, subject, f"references {what} in namespace {ns}, outside its own ({r.namespace})",
                         evidence=_evidence(t, references=[f"{w} in {n}" for _, w, n in crossing]),
                         **where(inv, r, *path[1:]))
        else:
            yield passed(inv, subject, "references sources in its own namespace only", evidence=_evidence(t),
                         **where(inv, r))


def _kyverno_kinds(match: dict) -> list[str]:
    """Kinds a Kyverno match block names (any/all filters and the legacy `resources`)."""
    blocks = [f for key in ("any", "all") for f in match.get(key) or [] if isinstance(f, dict)] + [match]
    return [str(k) for b in blocks for k in _d(b.get("resources")).get("kinds") or []]


def _source_url_rules(inv):
    """(policy, rule, enforced) of admission rules that validate Flux source URLs."""
    out = []
    for pol in kyverno.policies(inv):
        for rule in pol.rules:
            if rule.type not in ("validate", "cel"):
                continue
            body = rule.body
            if pol.engine == "kyverno":
                kinds = _kyverno_kinds(_d(body.get("match")))
                about_sources = any(str(k).rsplit("/", 1)[-1] in SOURCE_KINDS for k in kinds)
                text = str(body.get("validate"))
            else:
                rules = _d(body.get("matchConstraints")).get("resourceRules") or []
                about_sources = any(SOURCE_GROUP in (rr.get("apiGroups") or []) or "*" in (rr.get("apiGroups") or [])
                                    for rr in rules if isinstance(rr, dict))
                text = str(body.get("validations"))
            if about_sources and "url" in text.lower():
                out.append((pol, rule, rule.enforced))
    for r in [c for c in inv.resources if c.deployed and c.group == "constraints.gatekeeper.sh"]:
        kinds = [k for m in _d(r.spec.get("match")).get("kinds") or [] if isinstance(m, dict) for k in m.get("kinds") or []]
        if any(k in SOURCE_KINDS for k in kinds):
            out.append((r, None, r.spec.get("enforcementAction", "deny") == "deny"))
    return out


@check(
    id="gitops.tenant-source-admission",
    title="An admission policy restricts the source URLs tenants may use",
    severity="medium",
    rationale="""
        Without an admission policy over Flux sources, a tenant can point a GitRepository,
        OCIRepository, HelmRepository or Bucket at any server: pull unreviewed manifests and charts,
        or make source-controller (inside the cluster network) fetch internal URLs for them. A Kyverno
        ClusterPolicy, a ValidatingAdmissionPolicy or a Gatekeeper constraint that validates `spec.url`
        of Flux sources against an allow-list closes that; in Audit mode it only reports (warn). Judged
        only when the repository is multi-tenant.""",
    remediation="""
        Deploy a policy in Enforce mode that matches the Flux source kinds and validates `spec.url`
        against your allowed organisations/registries (Kyverno's `verify-flux-sources` sample, or a
        ValidatingAdmissionPolicy with a CEL `object.spec.url.startsWith(...)` rule).""",
    references=[FLUX_CHECKLIST, "https://kyverno.io/policies/flux/verify-flux-sources/verify-flux-sources/",
                MULTITENANCY],
)
def tenant_source_admission(inv, options):
    t, na = decision(inv)
    if na:
        yield na
        return
    rules = _source_url_rules(inv)
    subject = "tenant source URLs"
    enforced = [x for x in rules if x[2]]
    if enforced:
        pol, rule, _ = enforced[0]
        res = pol.resource if hasattr(pol, "resource") else pol
        label = rule.label() if rule is not None else f"{res.kind} {res.name}"
        yield passed(inv, subject, f"{label} validates Flux source URLs and is enforced",
                     evidence=_evidence(t, policies=[(x[1].label() if x[1] else x[0].name) for x in rules]),
                     **where(inv, res, *(rule.path[1:] if rule is not None else ())))
    elif rules:
        pol, rule, _ = rules[0]
        res = pol.resource if hasattr(pol, "resource") else pol
        yield warned(inv, subject, f"{rule.label() if rule else res.name} validates Flux source URLs but only audits: "
                                   "tenants can still use any URL", evidence=_evidence(t),
                     **where(inv, res, *(rule.path[1:] if rule is not None else ())))
    else:
        yield failed(inv, subject, "multi-tenant cluster and no admission policy (Kyverno, ValidatingAdmissionPolicy, "
                                   "Gatekeeper) validates the URLs of Flux sources: tenants can fetch from anywhere",
                     evidence=_evidence(t), **_anchor(inv))
