"""Network segmentation layer: NetworkPolicies per namespace, default deny, egress control."""
from __future__ import annotations


from scanner.core.model import Location
from scanner.analysis.netpol import coverage, default_deny
from scanner.checkapi.options import CheckOptions, option
from scanner.checkapi.registry import check
from scanner.analysis.effective import Credit, clusterwide_isolation
from scanner.checkapi.results import failed, mitigated, passed, warned

POLICY_KINDS = ("NetworkPolicy", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy")
REFS = ["https://kubernetes.io/docs/concepts/services-networking/network-policies/",
        "https://docs.cilium.io/en/stable/security/policy/",
        "NSA/CISA Kubernetes Hardening Guide v1.2, 'Network separation and hardening'"]


def _ns_ident(ns: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "namespace": None, "name": ns, "origin": "git"}


def _ns_location(inv, ns: str, cov) -> Location | None:
    decl = inv.find("Namespace", ns)
    if decl:
        return inv.location(decl[0])
    if cov.groups:
        return inv.location(cov.groups[0].resource)
    return None


def _covered_by(cov, direction: str | None = None, own_only: bool = False) -> bool:
    """Every pod group isolated (in `direction`) by the namespace's own policies (own_only) or by any."""
    for g in cov.groups:
        pols = [p for p in cov.selecting.get(id(g), []) if p.namespace is not None or not own_only]
        if direction == "egress":
            ok = any(p.isolates_egress for p in pols)
        else:
            ok = any(p.effective for p in pols)
        if not ok:
            return False
    return True


def _credit(p):
    return Credit("segmentation", "clusterwide-network-policy", f"{p.label} selects the namespace's pods",
                  p.resource.path, p.resource.line)


def _subjects(inv, options):
    exempt = set(options.get("exempt_namespaces") or [])
    for ns, cov in coverage(inv).items():
        if ns in exempt:
            continue
        yield ns, cov


class ExemptNamespaces(CheckOptions):
    exempt_namespaces: list[str] = option([], description="Namespaces this check does not judge.")


def _unseen(inv, ns: str, selects_all) -> str:
    """What the verdict did not see: pods an unrendered chart or an unbuilt Kustomization may run in
    `ns`, which a policy selecting by label may miss (a policy selecting every pod covers them: "")."""
    what = inv.unseen_in_namespaces().get(ns) if not selects_all else None
    if not what:
        return ""
    return (f"; but not all of {ns} was seen ({what[0]}" + (f" and {len(what) - 1} more" if len(what) > 1 else "")
            + "): its pods may be selected by no policy")


@check(
    id="segmentation.networkpolicy-per-namespace",
    title="Every namespace with workloads is covered by a network policy",
    severity="high",
    rationale="""
        Without a NetworkPolicy (or Cilium policy) selecting its pods, a namespace is flat: any compromised
        pod in the cluster can reach every pod in it, and its pods can reach everything else. Policies are the
        only in-cluster segmentation Kubernetes has. A policy that allows everything counts as none.""",
    remediation="""
        Add a default-deny policy to the namespace (`podSelector: {}` with `policyTypes: [Ingress, Egress]`)
        and allow the flows each app needs, or a CiliumNetworkPolicy/CiliumClusterwideNetworkPolicy that
        selects the namespace's endpoints.""",
    references=REFS + ["CIS Kubernetes Benchmark 5.3.2"],
    options=ExemptNamespaces,
    mitigated_by=("segmentation",),
)
def networkpolicy_per_namespace(inv, options):
    for ns, cov in _subjects(inv, options):
        subject = f"namespace {ns}"
        uncovered = cov.uncovered()
        names = [f"{g.kind}/{g.name}" for g in cov.groups]
        ev = {"pods": names[:30], "policies": [p.label for p in cov.policies],
              "allow_all_ignored": [p.label for p in cov.ignored]}
        if not uncovered:
            own = [p for p in cov.policies if p.namespace is not None]
            p = (own or cov.policies)[0]
            if not own and not _covered_by(cov, own_only=True):
                by = clusterwide_isolation(inv, ns, None) or [_credit(p)]
                yield mitigated(inv, subject, f"namespace {ns} declares no network policy of its own; its "
                                f"{len(cov.groups)} workload(s) are selected by the cluster-wide {p.label}",
                                resource=_ns_ident(ns), location=_ns_location(inv, ns, cov), namespace=ns, evidence=ev,
                                by=by)
                continue
            unseen = _unseen(inv, ns, default_deny(inv, ns, "ingress") or default_deny(inv, ns, "egress"))
            verdict = warned if unseen else passed
            yield verdict(inv, subject, f"all {len(cov.groups)} workload(s) in {ns} are selected by a policy, e.g. {p.label}"
                          + unseen, resource=_ns_ident(ns), location=Location(p.resource.path, p.resource.line),
                          namespace=ns, evidence=dict(ev, unseen=inv.unseen_in_namespaces().get(ns, [])[:10]) if unseen else ev)
            continue
        extra = ""
        if cov.ignored:
            extra = f"; allow-all policies count as none: {', '.join(p.label for p in cov.ignored[:3])}"
        if len(uncovered) == len(cov.groups):
            msg = f"namespace {ns} runs {len(cov.groups)} workload(s) and no network policy selects them{extra}"
        else:
            msg = (f"namespace {ns}: {len(uncovered)} of {len(cov.groups)} workload(s) selected by no policy "
                   f"({', '.join(g.name for g in uncovered[:8])}){extra}")
        yield failed(inv, subject, msg, resource=_ns_ident(ns), location=_ns_location(inv, ns, cov), namespace=ns,
                     evidence=dict(ev, unselected=[g.name for g in uncovered[:30]]))


@check(
    id="segmentation.default-deny-ingress",
    title="Every namespace with workloads has a default-deny ingress policy",
    severity="high",
    rationale="""
        Per-app allow rules leave every pod that nobody wrote a rule for open. A namespace-wide default deny
        (a policy selecting all pods with policyType Ingress) makes new workloads closed by default.""",
    remediation="""
        Add `NetworkPolicy {podSelector: {}, policyTypes: [Ingress]}` to the namespace (or a Cilium policy with
        `endpointSelector: {}` and ingress rules, or a cluster-wide baseline), then allow the needed flows.""",
    references=REFS + ["CIS Kubernetes Benchmark 5.3.2"],
    options=ExemptNamespaces,
    mitigated_by=("segmentation",),
)
def default_deny_ingress(inv, options):
    for ns, cov in _subjects(inv, options):
        pols = default_deny(inv, ns, "ingress")
        subject = f"namespace {ns}"
        if pols and all(p.namespace is None for p in pols):
            yield mitigated(inv, subject, f"namespace {ns} has no ingress default deny of its own; the cluster-wide "
                            f"{pols[0].label} isolates it", resource=_ns_ident(ns), location=_ns_location(inv, ns, cov),
                            namespace=ns, evidence={"policies": [x.label for x in pols]},
                            by=clusterwide_isolation(inv, ns, "ingress"))
        elif pols:
            p = pols[0]
            yield passed(inv, subject, f"{ns} has a namespace-wide ingress default deny: {p.label}", resource=_ns_ident(ns),
                         location=Location(p.resource.path, p.resource.line), namespace=ns,
                         evidence={"policies": [x.label for x in pols]})
        else:
            yield failed(inv, subject, f"namespace {ns} has no policy selecting all its pods that isolates ingress",
                         resource=_ns_ident(ns), location=_ns_location(inv, ns, cov), namespace=ns,
                         evidence={"policies": [p.label for p in cov.policies]})


@check(
    id="segmentation.egress-control",
    title="Egress of every namespace with workloads is controlled",
    severity="medium",
    rationale="""
        Without egress policies a compromised pod can reach the Kubernetes API, node ports, the LAN and the
        internet: exfiltration and lateral movement need nothing more. Policies that allow `world`/everything
        to all pods are no control.""",
    remediation="""
        Add an egress default deny (`policyTypes: [Egress]` on `podSelector: {}`) with an explicit DNS allow
        to kube-dns, or a Cilium policy with egress rules (`toEndpoints`, `toFQDNs`) selecting the pods.""",
    references=REFS,
    options=ExemptNamespaces,
    mitigated_by=("segmentation",),
)
def egress_control(inv, options):
    for ns, cov in _subjects(inv, options):
        uncovered = cov.uncovered("egress")
        subject = f"namespace {ns}"
        egress_pols = [p.label for p in cov.policies if p.isolates_egress]
        if not uncovered and not _covered_by(cov, "egress", own_only=True):
            by = clusterwide_isolation(inv, ns, "egress") or [_credit(p) for p in cov.policies if p.isolates_egress][:1]
            yield mitigated(inv, subject, f"namespace {ns} restricts no egress itself; the cluster-wide "
                            f"{egress_pols[0]} does", resource=_ns_ident(ns), namespace=ns,
                            location=_ns_location(inv, ns, cov), evidence={"policies": egress_pols}, by=by)
        elif not uncovered:
            unseen = _unseen(inv, ns, default_deny(inv, ns, "egress"))
            yield (warned if unseen else passed)(
                inv, subject, f"egress of all {len(cov.groups)} workload(s) in {ns} is restricted, e.g. by {egress_pols[0]}"
                + unseen, resource=_ns_ident(ns), namespace=ns, location=_ns_location(inv, ns, cov),
                evidence={"policies": egress_pols, "unseen": inv.unseen_in_namespaces().get(ns, [])[:10]})
        else:
            yield failed(inv, subject, f"namespace {ns}: egress of {len(uncovered)} of {len(cov.groups)} workload(s) is not "
                         f"restricted ({', '.join(g.name for g in uncovered[:8])})", resource=_ns_ident(ns),
                         location=_ns_location(inv, ns, cov), namespace=ns,
                         evidence={"policies": egress_pols, "unrestricted": [g.name for g in uncovered[:30]]})
