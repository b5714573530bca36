"""Network segmentation layer: NetworkPolicies per namespace."""
from __future__ import annotations

from scanner.model import Location
from scanner.registry import check
from scanner.results import failed, passed

POLICY_KINDS = ("NetworkPolicy", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy")


@check(
    id="segmentation.networkpolicy-per-namespace",
    title="Every namespace with workloads is covered by a network policy",
    severity="high",
    rationale="""
        Without a NetworkPolicy (or Cilium policy) selecting its pods, a namespace is flat: any compromised
        pod in the cluster can reach every pod in it, and its pods can reach everything else. Policies are the
        only in-cluster segmentation Kubernetes has.""",
    remediation="""
        Add a default-deny policy to the namespace (`podSelector: {}` with `policyTypes: [Ingress, Egress]`)
        and allow the flows each app needs, or a CiliumNetworkPolicy/CiliumClusterwideNetworkPolicy that
        selects the namespace's endpoints.""",
    references=[
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/",
        "https://docs.cilium.io/en/stable/security/policy/",
        "NSA/CISA Kubernetes Hardening Guide v1.2, 'Network separation and hardening'",
        "CIS Kubernetes Benchmark 5.3.2",
    ],
    options={"exempt_namespaces": []},
)
def networkpolicy_per_namespace(inv, options):
    exempt = set(options.get("exempt_namespaces") or [])
    by_ns: dict[str, list] = {}
    for pol in inv.of_kind(*POLICY_KINDS[:2]):
        if pol.namespace:
            by_ns.setdefault(pol.namespace, []).append(pol)
    clusterwide = inv.of_kind("CiliumClusterwideNetworkPolicy")
    for ns in sorted(inv.workload_namespaces()):
        if ns in exempt:
            continue
        subject = f"namespace {ns}"
        resource = {"apiVersion": "v1", "kind": "Namespace", "namespace": None, "name": ns, "origin": "git"}
        decl = inv.find("Namespace", ns)
        loc = inv.location(decl[0]) if decl else None
        pols = by_ns.get(ns, [])
        if pols:
            p = pols[0]
            yield passed(inv, subject, f"namespace {ns} has {len(pols)} policy(ies), e.g. {p.kind} {p.name}",
                         resource=resource, location=Location(p.path, p.line), namespace=ns,
                         evidence={"policies": [f"{x.kind}/{x.name}" for x in pols]})
        elif clusterwide:
            c = clusterwide[0]
            yield passed(inv, subject, f"namespace {ns} is covered by cluster-wide policy {c.name}",
                         resource=resource, location=Location(c.path, c.line), namespace=ns,
                         evidence={"policies": [f"{x.kind}/{x.name}" for x in clusterwide]})
        else:
            ws = [w for w in inv.workloads if w.namespace == ns and w.resource.deployed]
            if loc is None and ws:
                loc = inv.location(ws[0].resource)
            yield failed(inv, subject, f"namespace {ns} runs {len(ws)} workload(s) and no network policy selects them",
                         resource=resource, location=loc, namespace=ns,
                         evidence={"workloads": [w.key() for w in ws[:20]]})
