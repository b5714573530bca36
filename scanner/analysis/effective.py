"""What the cluster does to an object beyond its manifest: the one place checks ask.

For a workload:
- node defaults: the Talos kubelet applies `RuntimeDefault` seccomp to containers that set no profile
  when `machine.kubelet.defaultRuntimeSeccompProfileEnabled` is true (talhelper and `talosctl gen
  config` write it true from Talos 1.2 on) unless `extraConfig.seccompDefault` says otherwise; judged
  per node role, on the roles ordinary pods are scheduled to;
- admission mutation: deployed Kyverno mutate rules (patchStrategicMerge with anchors,
  patchesJson6902, foreach) whose match/exclude, static preconditions and PolicyExceptions select the
  pod, applied in policy order (scanner.analysis.kyverno_apply);
- admission rejection: Pod Security Admission (namespace labels, the Talos cluster default and its
  exemptions) and enforcing Kyverno validate rules, judged on the mutated pod: a rejected pod never runs.
For a namespace: cluster-wide network policies (CiliumClusterwideNetworkPolicy) that isolate it.
For a route: whether anything serves it (scanner.analysis.routeserve).

Every answer carries its evidence (`Credit`: layer, mechanism, detail, file and line), and only
deployed objects count. What the repository does not decide (a runtime variable, a subject filter)
is never credited nor blamed.
"""
from __future__ import annotations

import copy
import fnmatch
import json
import re
from dataclasses import dataclass, field

from scanner.analysis import kyverno as kyv
from scanner.analysis import kyverno_apply as ka
from scanner.analysis import netpol, pss_eval, talos
from scanner.analysis.authmap import _kyverno_excluded_namespaces
from scanner.core.memo import memo
from scanner.core.model import Container, Resource, Workload

TALOS_SECCOMP_SINCE = (1, 2)  # first Talos release whose config generator writes the seccomp default
JUDGED_SOURCES = ("manifest", "app-template")  # pods derived exactly enough to say admission rejects them


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


@dataclass(frozen=True, slots=True)
class Credit:
    """One thing another layer does to an object, with where it is declared."""

    layer: str  # a LAYERS name: nodes, policy, segmentation, perimeter, ...
    mechanism: str  # talos-kubelet-seccomp-default, kyverno-mutate, pod-security-admission, ...
    detail: str
    path: str | None = None
    line: int | None = None

    def as_dict(self) -> dict:
        return {"layer": self.layer, "mechanism": self.mechanism, "detail": self.detail, "path": self.path,
                "line": self.line}

    def where(self) -> str:
        if not self.path:
            return ""
        return f"{self.path}:{self.line}" if self.line else self.path


# ---- node defaults ---------------------------------------------------------------------------------

@dataclass(slots=True)
class SeccompDefault:
    """The kubelet seccomp default on the nodes ordinary pods run on."""

    state: str  # on (every such role), off (every such role), mixed, unknown (no Talos config)
    on: list = field(default_factory=list)  # Credit per node role applying RuntimeDefault
    off: list = field(default_factory=list)  # Credit per node role leaving pods Unconfined


def _version(v: str | None) -> tuple | None:
    m = re.match(r"v?(\d+)\.(\d+)", str(v or ""))
    return (int(m.group(1)), int(m.group(2))) if m else None


def _role_seccomp(inv, cfg: talos.TalosConfig) -> tuple[bool, Credit]:
    base = ("machine", "kubelet")
    extra = dict(_d(cfg.get(*base, "extraConfig")))
    extra_frag = (cfg.prov.get(base + ("extraConfig", "seccompDefault")) or [None])[-1] if "seccompDefault" in extra else None
    for frag, body in cfg.documents:
        if body.get("kind") == "KubeletConfig" and "seccompDefault" in _d(body.get("extraConfig")):
            extra["seccompDefault"] = body["extraConfig"]["seccompDefault"]
            extra_frag = (frag, ("extraConfig", "seccompDefault"))
    scope = cfg.scope
    if "seccompDefault" in extra:  # the kubelet configuration key itself: it wins over the Talos field
        on = extra["seccompDefault"] is True or str(extra["seccompDefault"]).lower() == "true"
        frag, kp = extra_frag if extra_frag else (None, ())
        loc = (frag.doc.path, inv.line_of(frag.doc, kp)) if frag else (cfg.cluster.label, None)
        return on, Credit("nodes", "kubelet-seccomp-default",
                          f"kubelet extraConfig.seccompDefault: {str(on).lower()} on Talos {scope}", *loc)
    value = cfg.get(*base, "defaultRuntimeSeccompProfileEnabled")
    entries = cfg.prov.get(base + ("defaultRuntimeSeccompProfileEnabled",))  # this key itself, not `kubelet:`
    if entries:
        frag, kp = entries[-1]
        return value is True, Credit("nodes", "talos-kubelet-seccomp-default",
                                     f"Talos {scope}: defaultRuntimeSeccompProfileEnabled: {str(value is True).lower()} "
                                     f"(the kubelet {'applies RuntimeDefault to' if value is True else 'leaves Unconfined'} "
                                     "every container without a profile)", frag.doc.path, inv.line_of(frag.doc, kp))
    anchor = cfg.cluster.anchor
    where = (anchor.path, anchor.line) if anchor else (cfg.cluster.label, None)
    if cfg.defaults:  # talhelper/talosctl generate the field before any patch
        version = _version(cfg.cluster.talos_version)
        if version is not None and version < TALOS_SECCOMP_SINCE:
            return False, Credit("nodes", "talos-kubelet-seccomp-default",
                                 f"Talos {scope}: Talos {cfg.cluster.talos_version} predates the generated seccomp "
                                 "default", *where)
        return True, Credit("nodes", "talos-kubelet-seccomp-default",
                            f"Talos {scope}: defaultRuntimeSeccompProfileEnabled: true by the config generator's "
                            "default (talhelper/talosctl; no patch turns it off): the kubelet applies RuntimeDefault "
                            "to every container without a profile", *where)
    return False, Credit("nodes", "talos-kubelet-seccomp-default",
                         f"Talos {scope}: the machine config does not set defaultRuntimeSeccompProfileEnabled "
                         "(the kubelet leaves containers without a profile Unconfined)", *where)


def _scheduling_roles(cluster: talos.TalosCluster) -> list:
    """Node configs ordinary pods land on: the workers, unless control planes take workloads too."""
    workers = [c for c in cluster.configs if c.role == "worker"]
    open_cp = any(c.get("cluster", "allowSchedulingOnControlPlanes") is True for c in cluster.configs)
    if workers and not open_cp:
        return workers
    return list(cluster.configs)


def seccomp_default(inv) -> SeccompDefault:
    return memo(inv, "effective.seccomp_default", lambda: _seccomp_default(inv))


def _seccomp_default(inv) -> SeccompDefault:
    out = SeccompDefault("unknown")
    for cluster in talos.clusters(inv):
        for cfg in _scheduling_roles(cluster):
            on, credit = _role_seccomp(inv, cfg)
            (out.on if on else out.off).append(credit)
    if out.on and not out.off:
        out.state = "on"
    elif out.off and not out.on:
        out.state = "off"
    elif out.on:
        out.state = "mixed"
    return out


# ---- Kyverno mutate rules ---------------------------------------------------------------------------

@dataclass(eq=False, slots=True)
class KyvernoRule:
    """A deployed Kyverno rule and the policy that holds it."""

    policy: Resource
    index: int
    name: str
    body: dict

    @property
    def label(self) -> str:
        ns = f"{self.policy.namespace}/" if self.policy.kind == "Policy" else ""
        return f"{self.policy.kind} {ns}{self.policy.name} rule {self.name}"

    @property
    def path(self) -> tuple:
        return ("spec", "rules", self.index)

    def credit(self, inv, layer: str, mechanism: str, detail: str) -> Credit:
        return Credit(layer, mechanism, f"{self.label}: {detail}", self.policy.path,
                      inv.line_of(self.policy, self.path))


def kyverno_engine(inv) -> bool:
    """Is a Kyverno admission controller deployed (chart, manifests, or a live cluster that serves its API)?"""
    def build():
        for hr in inv.of_kind("HelmRelease"):
            info = inv.chart(hr)
            if (info.name or "").lower() == "kyverno" or (info.url or "").rstrip("/").endswith("/kyverno"):
                return True
        if any("kyverno" in w.name and w.resource.deployed for w in inv.workloads):
            return True
        return any(r.origin == "cluster" for r in inv.of_kind("ClusterPolicy", "Policy"))
    return memo(inv, "effective.kyverno_engine", build)


def kyverno_rules(inv, rtype: str) -> list[KyvernoRule]:
    """Deployed rules of one type (mutate, validate) in the order Kyverno applies them (policy name, rule)."""
    def build():
        if not kyverno_engine(inv):
            return []
        out = []
        pols = [p for p in inv.of_kind("ClusterPolicy", "Policy") if p.group == kyv.KYVERNO_GROUP]
        for pol in sorted(pols, key=lambda p: (p.kind != "ClusterPolicy", p.namespace or "", p.name)):
            if pol.spec.get("admission") is False:
                continue
            for i, r in enumerate(_l(pol.spec.get("rules"))):
                if not isinstance(r, dict) or rtype not in r:
                    continue
                if rtype == "mutate" and _d(r["mutate"]).get("targets"):
                    continue  # mutates other, existing objects: not the one admitted
                out.append(KyvernoRule(pol, i, str(r.get("name") or f"rule-{i}"), r))
        return out
    return memo(inv, f"effective.kyverno_rules.{rtype}", build)


def _ns_labels(inv, ns: str | None) -> dict:
    labels = memo(inv, "netpol.namespace_labels", lambda: netpol.namespace_labels(inv))
    return labels.get(ns or "", {"kubernetes.io/metadata.name": ns or ""})


def _excepted(inv, rule: KyvernoRule, facts: ka.Facts) -> bool | None:
    """Is the object exempted from the rule by a PolicyException? None when it may be."""
    for ex in kyv.exceptions(inv):
        names = [(str(_d(e).get("policyName")), [str(x) for x in _l(_d(e).get("ruleNames"))])
                 for e in _l(ex.spec.get("exceptions"))]
        if not any(fnmatch.fnmatchcase(rule.policy.name, p) or p.endswith("/" + rule.policy.name)
                   for p, rules in names if any(fnmatch.fnmatchcase(rule.name, r) for r in rules)):
            continue
        got = ka.block_matches(_d(ex.spec.get("match")), facts)
        if got is not False:
            return got
    return False


def rule_selects(inv, rule: KyvernoRule, facts: ka.Facts) -> bool | None:
    """Match, exclude, namespace filters of the Kyverno install, PolicyExceptions: True/False/None."""
    if rule.policy.kind == "Policy" and rule.policy.namespace != facts.namespace:
        return False
    if facts.namespace in memo(inv, "authmap.kyverno_excluded", lambda: _kyverno_excluded_namespaces(inv)):
        return False
    got = ka.block_matches(_d(rule.body.get("match")), facts)
    if got is not True:
        return got
    if rule.body.get("exclude"):
        ex = ka.block_matches(_d(rule.body.get("exclude")), facts)
        if ex is None:
            return None
        if ex:
            return False
    exc = _excepted(inv, rule, facts)
    if exc is None:
        return None
    return not exc


# ---- the workload view ------------------------------------------------------------------------------

@dataclass(eq=False, slots=True)
class Applied:
    rule: KyvernoRule
    changes: list  # changed key paths (container name in place of the index)

    def keys(self) -> set[str]:
        return {str(k) for path in self.changes for k in path}


@dataclass(eq=False, slots=True)
class Rejection:
    """Admission refuses the workload's pods: it never runs."""

    credit: Credit
    reasons: list


@dataclass(eq=False, slots=True)
class EffectiveWorkload:
    """A workload as the cluster runs it."""

    workload: Workload
    admitted: Workload  # after admission mutation (the manifest's workload when nothing mutates it)
    applied: list  # [Applied] mutate rules that changed it
    undecided: list  # [KyvernoRule] that may mutate it (not static): never credited nor blamed
    seccomp: SeccompDefault
    rejection: Rejection | None = None

    def credits(self, inv, fields: tuple) -> list[Credit]:
        """The mutate rules that changed any of `fields` (key names), as evidence."""
        out = []
        for a in self.applied:
            hit = sorted(a.keys() & set(fields))
            if hit:
                out.append(a.rule.credit(inv, "policy", "kyverno-mutate", f"sets {', '.join(hit)} at admission"))
        return out

    def runtime(self) -> Workload:
        """The admitted workload with the node defaults applied (kubelet seccomp default)."""
        if self.seccomp.state != "on":
            return self.admitted
        w = self.admitted
        psc = _d(w.pod.get("securityContext"))
        if _d(psc.get("seccompProfile")).get("type"):
            return w
        containers = []
        for c in w.containers:
            sc = _d(c.spec.get("securityContext"))
            if _d(sc.get("seccompProfile")).get("type") or sc.get("privileged") is True:
                containers.append(c)
                continue
            spec = dict(c.spec, securityContext=dict(sc, seccompProfile={"type": "RuntimeDefault"}))
            containers.append(Container(c.name, spec, c.init, c.path))
        return _rebuilt(w, w.pod, containers, w.labels)


def _rebuilt(w: Workload, pod: dict, containers: list, labels: dict) -> Workload:
    return Workload(name=w.name, namespace=w.namespace, kind=w.kind, resource=w.resource, pod=pod,
                    containers=containers, source=w.source, pod_path=w.pod_path, pod_paths=w.pod_paths,
                    chart_version=w.chart_version, labels=labels)


def _pod_annotations(w: Workload) -> dict:
    if w.source == "manifest":
        meta = w.resource.body
        for k in w.pod_path[:-1]:
            meta = _d(meta).get(k)
        return dict(_d(_d(_d(meta).get("metadata")).get("annotations")))
    return {}


def pod_object(w: Workload) -> dict:
    """The Pod admission sees for this workload (name and namespace of its controller)."""
    spec = copy.deepcopy(w.pod)
    for key, init in (("initContainers", True), ("containers", False)):
        spec[key] = [copy.deepcopy(c.spec) for c in w.containers if c.init == init]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": w.name, "namespace": w.namespace, "labels": dict(w.labels),
                         "annotations": _pod_annotations(w)},
            "spec": spec}


def _from_pod(w: Workload, obj: dict) -> Workload:
    spec = _d(obj.get("spec"))
    paths = {(c.name, c.init): c.path for c in w.containers}
    containers = []
    for key, init in (("initContainers", True), ("containers", False)):
        for c in _l(spec.get(key)):
            if isinstance(c, dict):
                name = str(c.get("name"))
                containers.append(Container(name, c, init, paths.get((name, init), w.pod_path)))
    pod = {k: v for k, v in spec.items() if k not in ("containers", "initContainers")}
    return _rebuilt(w, pod, containers, dict(_d(_d(obj.get("metadata")).get("labels"))))


def _facts(inv, w: Workload, obj: dict) -> ka.Facts:
    md = _d(obj.get("metadata"))
    return ka.Facts("Pod", w.name, w.namespace, _d(md.get("labels")), _d(md.get("annotations")),
                    _ns_labels(inv, w.namespace))


def _ctx(obj: dict) -> dict:
    return {"request": {"object": obj, "operation": "CREATE", "namespace": _d(obj.get("metadata")).get("namespace")}}


def _mutate(inv, w: Workload) -> tuple[Workload, list, list]:
    rules = kyverno_rules(inv, "mutate")
    if not rules or not w.namespace:
        return w, [], []
    obj = pod_object(w)
    applied, undecided = [], []
    for rule in rules:
        kinds = ka.rule_kinds(rule.body)
        if "Pod" not in kinds and "*" not in kinds:
            continue  # rules on controllers only, or on other kinds: the pod template is judged as the Pod
        facts = _facts(inv, w, obj)
        sel = rule_selects(inv, rule, facts)
        if sel is None:
            undecided.append(rule)
            continue
        if not sel:
            continue
        trial = copy.deepcopy(obj)
        try:
            if not ka.conditions_hold(rule.body.get("preconditions"), _ctx(trial)):
                continue
            changes = ka.mutate(trial, rule.body, _ctx(trial))
        except ka.Unknown:
            undecided.append(rule)
            continue
        if changes:
            obj = trial
            applied.append(Applied(rule, changes))
    return (_from_pod(w, obj) if applied else w), applied, undecided


def _label_patches(inv) -> set:
    """Namespaces a kustomize or Flux Kustomization labels for Pod Security through a patch or common
    labels (None: a kustomization without a namespace of its own): the Namespace the inventory shows may
    not carry that label yet, so the level there is not decided by what we see."""
    out = set()
    for d in inv.documents:
        if d.kind != "Kustomization" or not isinstance(d.body, dict):
            continue
        if kyv.PSA_PREFIX + "enforce" not in json.dumps(d.body, default=str):
            continue
        spec = _d(d.body.get("spec"))
        out.add(d.body.get("namespace") or spec.get("targetNamespace"))
    return out


def _psa_rejection(inv, w: Workload, spec: dict) -> Rejection | None:
    levels = memo(inv, "effective.ns_levels",  # one read of the Talos config, not one per workload
                  lambda: kyv.effective_ns_levels(inv, {x.namespace for x in inv.workloads if x.namespace}))
    lv = levels.get(w.namespace)
    if not lv or lv["enforce"] == "privileged" or lv["source"] == "unknown default":
        return None
    if lv["source"] != "label":
        patched = memo(inv, "effective.psa_label_patches", lambda: _label_patches(inv))
        if w.namespace in patched or None in patched:
            return None  # a kustomization may label the namespace: its level is not decided here
    found = pss_eval.violations(spec, lv["enforce"])
    if not found:
        return None
    if lv["source"] == "label":
        ns = inv.find("Namespace", w.namespace)
        loc = (ns[0].path, inv.line_of(ns[0], ("metadata", "labels", kyv.PSA_PREFIX + "enforce"))) if ns else (None, None)
        how = f"namespace {w.namespace} label pod-security.kubernetes.io/enforce: {lv['enforce']}"
    else:
        psa = memo(inv, "effective.cluster_psa", lambda: kyv.cluster_psa(inv))
        anchor = next((c.anchor for c in talos.clusters(inv) if c.anchor), None)
        loc = (psa.path, psa.line) if psa.path else ((anchor.path, anchor.line) if anchor else (None, None))
        how = f"the Talos cluster default PodSecurity enforce: {lv['enforce']} (namespace {w.namespace} sets no label)"
    return Rejection(Credit("policy", "pod-security-admission", f"Pod Security Admission rejects its pods: {how}", *loc),
                     [f"{cid} {what}" for cid, what in found])


def _override_audits(rule: KyvernoRule, ns: str | None, ns_labels: dict) -> bool | None:
    v = _d(rule.body.get("validate"))
    overrides = _l(v.get("failureActionOverrides")) or _l(rule.policy.spec.get("validationFailureActionOverrides"))
    for o in overrides:
        o = _d(o)
        if str(o.get("action", "")).lower() == "enforce":
            continue
        if any(fnmatch.fnmatchcase(ns or "", str(n)) for n in _l(o.get("namespaces"))):
            return True
        if o.get("namespaceSelector") is not None:
            return None
    return False


def _kyverno_rejection(inv, w: Workload, obj: dict) -> Rejection | None:
    enforced = memo(inv, "effective.enforced_rules", lambda: {
        (p.resource.path, p.resource.name, r.index): r for p in kyv.policies(inv) for r in p.rules if r.enforced})
    for rule in kyverno_rules(inv, "validate"):
        info = enforced.get((rule.policy.path, rule.policy.name, rule.index))
        if info is None:
            continue
        kinds = ka.rule_kinds(rule.body)
        if "Pod" not in kinds:
            continue
        facts = _facts(inv, w, obj)
        if rule_selects(inv, rule, facts) is not True:
            continue
        if _override_audits(rule, w.namespace, facts.ns_labels) is not False:
            continue
        v = _d(rule.body.get("validate"))
        try:
            if not ka.conditions_hold(rule.body.get("preconditions"), _ctx(obj)):
                continue
            ps = _d(v.get("podSecurity"))
            if ps:
                skip = frozenset(c.id for ex in _l(ps.get("exclude")) for c in kyv.pss.controls_named(_d(ex).get("controlName")))
                found = pss_eval.violations(_d(obj.get("spec")), str(ps.get("level") or ""), skip)
                if not found:
                    continue
                reasons = [f"{cid} {what}" for cid, what in found]
            elif ka.validate(obj, rule.body, _ctx(obj)):
                continue
            else:
                reasons = [str(v.get("message") or "the pod does not match the rule's pattern")]
        except ka.Unknown:
            continue
        return Rejection(rule.credit(inv, "policy", "kyverno-validate", "an enforcing validate rule rejects its pods"),
                         reasons)
    return None


def workload(inv, w: Workload) -> EffectiveWorkload:
    """The workload as the cluster runs it (memoised per workload for the scan)."""
    cache = memo(inv, "effective.workloads", dict)
    hit = cache.get(id(w))
    if hit is not None and hit.workload is w:
        return hit
    admitted, applied, undecided = _mutate(inv, w)
    eff = EffectiveWorkload(w, admitted, applied, undecided, seccomp_default(inv))
    if w.source in JUDGED_SOURCES and w.namespace and w.resource.deployed:
        obj = pod_object(admitted)
        eff.rejection = _psa_rejection(inv, admitted, obj["spec"]) or _kyverno_rejection(inv, admitted, obj)
    cache[id(w)] = eff
    return eff


# ---- network ------------------------------------------------------------------------------------------

def clusterwide_isolation(inv, ns: str, direction: str | None) -> list[Credit]:
    """Cluster-wide policies that select every pod of `ns` and isolate `direction` (None: either)."""
    out = []
    for d in ("ingress", "egress") if direction is None else (direction,):
        for p in netpol.default_deny(inv, ns, d):
            if p.namespace is None:
                out.append(Credit("segmentation", "clusterwide-network-policy",
                                  f"{p.label} isolates {d} of every pod in namespace {ns}", p.resource.path,
                                  p.resource.line))
    return out
