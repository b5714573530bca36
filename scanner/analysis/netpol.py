"""Network policy selection semantics: which policies select which pods, in which direction.

- NetworkPolicy (`networking.k8s.io/v1`): `podSelector` in its namespace; `policyTypes` (default
  Ingress, plus Egress when `egress` is present) are the isolated directions.
- CiliumNetworkPolicy (`cilium.io/v2`, also the `specs:` list form): `endpointSelector` in its
  namespace; a direction is isolated when the spec has rules for it (`ingress`/`ingressDeny`,
  `egress`/`egressDeny`), unless `enableDefaultDeny.<dir>: false`.
- CiliumClusterwideNetworkPolicy: the same, cluster-wide; `io.kubernetes.pod.namespace` (optionally
  `k8s:`-prefixed) and `io.cilium.k8s.namespace.labels.*` keys in the selector restrict namespaces.
  `nodeSelector` policies are host policies and select no pods.
- A policy that allows everything in a direction (`from: [{}]`, `namespaceSelector: {}` without a
  pod selector, `0.0.0.0/0`, Cilium `fromEntities/toEntities: [all|world]`) isolates nothing there.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from scanner.core.memo import memo
from scanner.inventory.helm import release_name
from scanner.core.model import Resource

POLICY_KINDS = ("NetworkPolicy", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy")
_WIDE = ("0.0.0.0/0", "::/0")


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


def _strip(k: str) -> str:
    k = str(k)
    for p in ("k8s:", "any:"):
        if k.startswith(p):
            return k[len(p):]
    return k


def selector_matches(sel, labels: dict, *, unknown: bool = False) -> bool:
    """Label selector semantics. With `unknown` labels (chart pods) only trivially satisfied terms match."""
    if sel is None:
        return True
    sel = _d(sel)
    for k, v in _d(sel.get("matchLabels")).items():
        k = _strip(k)
        if str(labels.get(k)) != str(v):
            return False
    for e in _l(sel.get("matchExpressions")):
        e = _d(e)
        k, op, vals = _strip(e.get("key", "")), e.get("operator"), [str(x) for x in _l(e.get("values"))]
        have = labels.get(k)
        if op == "In" and (have is None or str(have) not in vals):
            return False
        if op == "NotIn" and have is not None and str(have) in vals:
            return False
        if op == "Exists" and have is None:
            return False
        if op == "DoesNotExist" and have is not None:
            return False
    return True


def _is_empty(sel) -> bool:
    sel = _d(sel)
    return not _d(sel.get("matchLabels")) and not _l(sel.get("matchExpressions"))


@dataclass(slots=True)
class PodGroup:
    """Pods of one workload (or chart release) in a namespace."""

    name: str
    namespace: str
    labels: dict
    unknown_labels: bool
    resource: Resource
    kind: str


@dataclass(slots=True, eq=False)
class Policy:
    """A network policy (Kubernetes or Cilium): what it selects and which directions it isolates."""

    resource: Resource
    kind: str
    namespace: str | None  # None for cluster-wide
    selector: dict | None  # pod/endpoint selector (namespace keys kept for CCNP)
    ingress: bool  # isolates ingress
    egress: bool
    allow_all_ingress: bool = False
    allow_all_egress: bool = False
    host_policy: bool = False
    index: int | None = None  # position in `specs:`

    @property
    def label(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.resource.name}" + (f" (specs[{self.index}])" if self.index is not None else "")

    def selects_all(self) -> bool:
        sel = _d(self.selector)
        pod_terms = {k: v for k, v in _d(sel.get("matchLabels")).items() if not _ns_key(k)}
        exprs = [e for e in _l(sel.get("matchExpressions")) if not _ns_key(_d(e).get("key", ""))]
        return not pod_terms and not exprs

    def applies_to_namespace(self, ns: str, ns_labels: dict) -> bool:
        if self.host_policy:
            return False
        if self.namespace is not None:
            return self.namespace == ns
        sel = _d(self.selector)
        labels = _ns_view(ns, ns_labels)
        for k, v in _d(sel.get("matchLabels")).items():
            if _ns_key(k) and labels.get(_strip(k)) != str(v):
                return False
        for e in _l(sel.get("matchExpressions")):
            if _ns_key(_d(e).get("key", "")) and not selector_matches({"matchExpressions": [e]}, labels):
                return False
        return True

    def selects(self, group: PodGroup, ns_labels: dict) -> bool:
        if not self.applies_to_namespace(group.namespace, ns_labels):
            return False
        sel = _d(self.selector)
        pod_sel = {"matchLabels": {k: v for k, v in _d(sel.get("matchLabels")).items() if not _ns_key(k)},
                   "matchExpressions": [e for e in _l(sel.get("matchExpressions")) if not _ns_key(_d(e).get("key", ""))]}
        return selector_matches(pod_sel, group.labels, unknown=group.unknown_labels)

    @property
    def isolates_ingress(self) -> bool:
        return self.ingress and not self.allow_all_ingress

    @property
    def isolates_egress(self) -> bool:
        return self.egress and not self.allow_all_egress

    @property
    def effective(self) -> bool:
        return self.isolates_ingress or self.isolates_egress


def _ns_key(k) -> bool:
    k = _strip(str(k))
    return k == "io.kubernetes.pod.namespace" or k.startswith("io.cilium.k8s.namespace.labels.")


def _ns_view(ns: str, ns_labels: dict) -> dict:
    out = {"io.kubernetes.pod.namespace": ns}
    for k, v in ns_labels.items():
        out[f"io.cilium.k8s.namespace.labels.{k}"] = str(v)
    return out


def _np_allow_all(rules: list, peer_key: str) -> bool:
    for r in rules:
        r = _d(r)
        if r.get("ports"):
            continue
        peers = r.get(peer_key)
        if peers is None or peers == []:
            return True  # a rule without peers admits every source/destination
        for p in _l(peers):
            p = _d(p)
            if not p:
                return True
            if "namespaceSelector" in p and _is_empty(p.get("namespaceSelector")) and _is_empty(p.get("podSelector")):
                return True
            if str(_d(p.get("ipBlock")).get("cidr")) in _WIDE and not _d(p.get("ipBlock")).get("except"):
                return True
    return False


def _cilium_allow_all(rules: list, direction: str) -> bool:
    ents_key = "fromEntities" if direction == "ingress" else "toEntities"
    cidr_key = "fromCIDR" if direction == "ingress" else "toCIDR"
    for r in rules:
        r = _d(r)
        if r.get("toPorts"):
            continue
        if not r:
            return False  # `{}` selects nothing in Cilium: it is a deny-all
        ents = {str(e) for e in _l(r.get(ents_key))}
        if "all" in ents or "world" in ents:
            return True
        if any(str(c) in _WIDE for c in _l(r.get(cidr_key))):
            return True
    return False


def policies_of(res: Resource) -> list[Policy]:
    kind = res.kind
    if kind == "NetworkPolicy":
        if res.group != "networking.k8s.io":
            return []
        spec = res.spec
        types = [str(t) for t in _l(spec.get("policyTypes"))] or (["Ingress"] + (["Egress"] if "egress" in spec else []))
        ing = _l(spec.get("ingress"))
        eg = _l(spec.get("egress"))
        return [Policy(res, kind, res.namespace, _d(spec.get("podSelector")), "Ingress" in types, "Egress" in types,
                       allow_all_ingress="Ingress" in types and _np_allow_all(ing, "from"),
                       allow_all_egress="Egress" in types and _np_allow_all(eg, "to"))]
    if kind not in ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"):
        return []
    specs = []
    if isinstance(res.body.get("spec"), dict):
        specs.append((None, res.body["spec"]))
    for i, s in enumerate(_l(res.body.get("specs"))):
        if isinstance(s, dict):
            specs.append((i, s))
    out = []
    for idx, spec in specs:
        dd = _d(spec.get("enableDefaultDeny"))
        has_in = "ingress" in spec or "ingressDeny" in spec
        has_eg = "egress" in spec or "egressDeny" in spec
        ing = has_in and dd.get("ingress") is not False
        eg = has_eg and dd.get("egress") is not False
        out.append(Policy(res, kind, res.namespace if kind == "CiliumNetworkPolicy" else None,
                          _d(spec.get("endpointSelector")) if "endpointSelector" in spec else None,
                          ing, eg,
                          allow_all_ingress=ing and _cilium_allow_all(_l(spec.get("ingress")), "ingress") and not spec.get("ingressDeny"),
                          allow_all_egress=eg and _cilium_allow_all(_l(spec.get("egress")), "egress") and not spec.get("egressDeny"),
                          host_policy="nodeSelector" in spec and "endpointSelector" not in spec, index=idx))
    return out


def all_policies(inv) -> list[Policy]:
    out = []
    for res in inv.of_kind(*POLICY_KINDS):
        out.extend(policies_of(res))
    return out


def namespace_labels(inv) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for ns in inv.of_kind("Namespace"):
        labels = {str(k): str(v) for k, v in ns.labels.items()}
        labels["kubernetes.io/metadata.name"] = ns.name
        out.setdefault(ns.name, {}).update(labels)
    return out


def pod_groups(inv) -> dict[str, list[PodGroup]]:
    """Deployed pods per namespace: derived workloads, raw workload manifests, and every other
    HelmRelease (any chart deploys pods; their labels are unknown beyond the release ones)."""
    out: dict[str, list[PodGroup]] = {}
    seen_hr = set()
    for w in inv.workloads:
        if not w.resource.deployed or not w.namespace:
            continue
        out.setdefault(w.namespace, []).append(PodGroup(w.name, w.namespace, dict(w.labels), False, w.resource, w.kind))
        if w.resource.kind == "HelmRelease":
            seen_hr.add(id(w.resource))
    for hr in inv.of_kind("HelmRelease"):
        if id(hr) in seen_hr or hr.group != "helm.toolkit.fluxcd.io":
            continue
        ns = hr.spec.get("targetNamespace") or hr.namespace
        if not ns:
            continue
        rel = release_name(hr)
        chart = inv.chart(hr).name or rel
        labels = {"app.kubernetes.io/instance": rel, "app.kubernetes.io/name": chart, "release": rel, "app": chart}
        out.setdefault(ns, []).append(PodGroup(rel, ns, labels, True, hr, "HelmRelease"))
    return out


@dataclass
class NamespaceCoverage:
    """Which network policies select which pods of a namespace."""

    namespace: str
    groups: list[PodGroup]
    selecting: dict = field(default_factory=dict)  # group name -> [Policy]
    policies: list[Policy] = field(default_factory=list)  # effective policies selecting some pod here
    ignored: list[Policy] = field(default_factory=list)  # allow-all policies selecting pods here

    def uncovered(self, direction: str | None = None) -> list[PodGroup]:
        out = []
        for g in self.groups:
            pols = self.selecting.get(id(g), [])
            if direction == "ingress":
                ok = any(p.isolates_ingress for p in pols)
            elif direction == "egress":
                ok = any(p.isolates_egress for p in pols)
            else:
                ok = any(p.effective for p in pols)
            if not ok:
                out.append(g)
        return out


def _policies_memo(inv) -> list[Policy]:
    return memo(inv, "netpol.all_policies", lambda: all_policies(inv))


def _ns_labels_memo(inv) -> dict[str, dict]:
    return memo(inv, "netpol.namespace_labels", lambda: namespace_labels(inv))


def coverage(inv) -> dict[str, NamespaceCoverage]:
    """Per namespace with pods: which policies select which pod groups (computed once per inventory;
    callers read it, never change it)."""
    return memo(inv, "netpol.coverage", lambda: _coverage(inv))


def _coverage(inv) -> dict[str, NamespaceCoverage]:
    pols = _policies_memo(inv)
    ns_labels = _ns_labels_memo(inv)
    # A namespaced policy only ever selects pods of its own namespace: per namespace, only the
    # cluster-wide policies and its own are candidates (kept in `pols` order).
    pos_by_ns: dict = {}
    cluster_wide = []
    for i, p in enumerate(pols):
        if p.namespace is None:
            cluster_wide.append(i)
        else:
            pos_by_ns.setdefault(p.namespace, []).append(i)
    out = {}
    for ns, groups in sorted(pod_groups(inv).items()):
        cov = NamespaceCoverage(ns, groups)
        labels = ns_labels.get(ns, {"kubernetes.io/metadata.name": ns})
        candidates = [pols[i] for i in sorted(cluster_wide + pos_by_ns.get(ns, []))]
        for g in groups:
            if g.namespace != ns:
                candidates = pols  # not expected (groups are keyed by their namespace); stay exact
            sel = [p for p in candidates if p.selects(g, labels)]
            cov.selecting[id(g)] = sel
            for p in sel:
                if p.effective and p not in cov.policies:
                    cov.policies.append(p)
                elif not p.effective and p not in cov.ignored:
                    cov.ignored.append(p)
        out[ns] = cov
    return out


def default_deny(inv, ns: str, direction: str) -> list[Policy]:
    """Policies that select every pod of `ns` and isolate `direction` (a namespace-wide baseline)."""
    labels = _ns_labels_memo(inv).get(ns, {"kubernetes.io/metadata.name": ns})
    out = []
    for p in _policies_memo(inv):
        if not p.applies_to_namespace(ns, labels) or not p.selects_all():
            continue
        if (direction == "ingress" and p.isolates_ingress) or (direction == "egress" and p.isolates_egress):
            out.append(p)
    return out
