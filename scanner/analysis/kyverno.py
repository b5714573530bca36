"""Admission policy facts: Kyverno (Cluster)Policies and ValidatingPolicies, Kubernetes
ValidatingAdmissionPolicies, Pod Security Admission (namespace labels, Talos defaults), and the
Pod Security Standards coverage they add up to.

Effective action of a validate rule (Kyverno `pkg/engine/api/engineresponse.go`): the rule's
`validate.failureAction` (+ `failureActionOverrides`) beats the deprecated
`spec.validationFailureAction` (+ `validationFailureActionOverrides`); either casing of
`enforce` is Enforce; anything else, and the CRD default, is Audit. `spec.admission: false`
makes a policy report-only.

Rules are mapped onto PSS controls (`scanner.pss`) by the fields they check (pattern,
anyPattern, deny conditions, foreach, CEL), and `validate.podSecurity.level` covers the whole
level minus `exclude[].controlName`. Mutate rules that set secure values are *mitigations*:
they change what gets admitted but refuse nothing (an explicit insecure value wins over an
add-if-absent `+(key)` anchor, and the rule stops applying whenever the webhook fails open), so
coverage counts them like an audit (warn), never as enforcement.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from scanner.analysis import pss
from scanner.core.model import Document, Resource

KYVERNO_GROUP = "kyverno.io"
KYVERNO_CEL_GROUP = "policies.kyverno.io"
POLICY_KINDS = ("ClusterPolicy", "Policy")
CEL_POLICY_KINDS = ("ValidatingPolicy",)
EXCEPTION_KINDS = ("PolicyException",)
POD_KINDS = {"pod", "deployment", "statefulset", "daemonset", "job", "cronjob", "replicaset",
             "replicationcontroller", "*"}
POD_RESOURCES = {"pods", "deployments", "statefulsets", "daemonsets", "jobs", "cronjobs", "replicasets", "*"}
SYSTEM_NAMESPACES = {"kube-system", "kube-public", "kube-node-lease", "flux-system", "kyverno", "cert-manager"}

# Exact library names (kyverno/policies pod-security) -> PSS controls, used when fields say nothing.
LIBRARY = {
    "disallow-capabilities": {"B4"}, "disallow-host-namespaces": {"B2"}, "disallow-host-path": {"B5"},
    "disallow-host-ports": {"B6"}, "disallow-host-ports-range": {"B6"}, "disallow-host-process": {"B1"},
    "disallow-privileged-containers": {"B3"}, "disallow-proc-mount": {"B9"}, "disallow-selinux": {"B8"},
    "restrict-apparmor-profiles": {"B7"}, "restrict-seccomp": {"B10"}, "restrict-sysctls": {"B11"},
    "disallow-capabilities-strict": {"R6"}, "disallow-privilege-escalation": {"R2"},
    "require-run-as-nonroot": {"R3"}, "require-run-as-non-root-user": {"R4"},
    "restrict-seccomp-strict": {"R5", "B10"}, "restrict-volume-types": {"R1"},
}
OTHER_CONTROLS = {
    "readOnlyRootFilesystem": "read-only root filesystem",
    "automountServiceAccountToken": "service account token automount",
    "image-tag": "image tag (no latest)",
    "resource-limits": "resource requests/limits",
    "probes": "health probes",
}

_ANCHOR = re.compile(r"^\s*([=+^X<]?)\((.*)\)\s*$")


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


def _strip_anchor(key) -> tuple[str, str]:
    """`=(seccompProfile)` -> ("seccompProfile", "="); plain keys -> (key, "")."""
    m = _ANCHOR.match(str(key))
    if m:
        return m.group(2), m.group(1) or "("
    return str(key), ""


# ---- data ---------------------------------------------------------------------------------------

@dataclass(eq=False)
class Rule:
    """One rule of a policy: its type and body, and where it sits in the policy."""

    policy: "Policy"
    name: str
    index: int
    type: str  # validate, mutate, generate, verifyImages, cel
    body: dict
    path: tuple  # key path of the rule in the resource body
    action: str | None = None  # Enforce / Audit for validate rules
    action_source: str = ""
    action_path: tuple = ()
    deprecated: list[str] = field(default_factory=list)  # deprecated forms in use
    overrides: list = field(default_factory=list)
    pod_rule: bool = False  # matches pods or pod controllers
    controls: set = field(default_factory=set)  # PSS control ids checked (validate) or mitigated (mutate)
    partial: dict = field(default_factory=dict)  # control id -> why coverage is partial
    other: set = field(default_factory=set)  # non-PSS security controls (OTHER_CONTROLS keys)
    add_if_absent: bool = False  # mutate rule only adds missing values
    excludes: dict = field(default_factory=dict)  # summary of the exclude block
    match_namespaces: list = field(default_factory=list)  # match restricted to these namespaces

    @property
    def enforced(self) -> bool:
        return self.type in ("validate", "cel") and self.action == "Enforce" and self.policy.admission

    def label(self) -> str:
        return f"{self.policy.kind} {self.policy.display}/{self.name}"


@dataclass(eq=False)
class Policy:
    """A Kyverno (or ValidatingAdmissionPolicy) policy with its failure action."""

    resource: Resource
    kind: str
    name: str
    namespace: str | None
    engine: str  # kyverno, kyverno-cel, vap
    failure_policy: str = "Fail"
    failure_policy_path: tuple = ()
    failure_policy_source: str = "default"
    background: bool = True
    admission: bool = True
    rules: list[Rule] = field(default_factory=list)

    @property
    def display(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def fail_open(self) -> bool:
        return self.failure_policy == "Ignore"


# ---- reading policies -----------------------------------------------------------------------------

def _kinds_of(block: dict) -> list[str]:
    """Kinds named in a match/exclude block (any/all/legacy resources)."""
    out = []
    for res in _resource_filters(block):
        out.extend(str(k) for k in _l(res.get("kinds")))
    return out


def _resource_filters(block: dict) -> list[dict]:
    block = _d(block)
    out = []
    for key in ("any", "all"):
        for f in _l(block.get(key)):
            if isinstance(f, dict) and isinstance(f.get("resources"), dict):
                out.append(f["resources"])
    if isinstance(block.get("resources"), dict):
        out.append(block["resources"])
    return out


def _filters(block: dict) -> list[dict]:
    block = _d(block)
    out = [f for key in ("any", "all") for f in _l(block.get(key)) if isinstance(f, dict)]
    legacy = {k: v for k, v in block.items() if k not in ("any", "all")}
    if legacy:
        out.append(legacy)
    return out


def _is_pod_kind(kind: str) -> bool:
    return kind.rsplit("/", 1)[-1].lower() in POD_KINDS


def summarise_exclude(exclude: dict) -> dict:
    """Namespaces, selectors and subjects an exclude block lets through."""
    summary = {"namespaces": [], "selectors": [], "subjects": [], "kinds": [], "wildcard": False}
    for f in _filters(exclude):
        res = _d(f.get("resources"))
        for ns in _l(res.get("namespaces")):
            summary["namespaces"].append(str(ns))
            if str(ns).strip() == "*":
                summary["wildcard"] = True
        for key in ("annotations", "selector", "namespaceSelector"):
            if res.get(key):
                summary["selectors"].append({key: res[key]})
        for k in _l(res.get("kinds")):
            summary["kinds"].append(str(k))
        if res.get("kinds") and any(str(k).strip() == "*" for k in _l(res.get("kinds"))) and not (
                res.get("names") or res.get("namespaces") or res.get("selector")):
            summary["wildcard"] = True
        for key in ("subjects", "clusterRoles", "roles"):
            for s in _l(f.get(key)):
                summary["subjects"].append({key: s})
    return {k: v for k, v in summary.items() if v}


def _action_of(value) -> str:
    return "Enforce" if str(value).strip().lower() == "enforce" else "Audit"


def _resolve_action(rule: Rule, spec: dict, vpath: tuple) -> None:
    v = _d(rule.body.get("validate"))
    if v.get("failureAction") not in (None, ""):
        raw = v["failureAction"]
        rule.action, rule.action_source = _action_of(raw), "rule validate.failureAction"
        rule.action_path = vpath + ("failureAction",)
        rule.overrides = _l(v.get("failureActionOverrides"))
        if str(raw) not in ("Audit", "Enforce"):
            rule.deprecated.append(f"validate.failureAction: {raw} (only Audit/Enforce are valid)")
    elif spec.get("validationFailureAction") not in (None, ""):
        raw = spec["validationFailureAction"]
        rule.action, rule.action_source = _action_of(raw), "spec.validationFailureAction"
        rule.action_path = ("spec", "validationFailureAction")
        rule.overrides = _l(spec.get("validationFailureActionOverrides"))
        rule.deprecated.append("spec.validationFailureAction (deprecated: use rules[].validate.failureAction)")
        if str(raw) not in ("Audit", "Enforce"):
            rule.deprecated.append(f"lower-case validationFailureAction: {raw}")
    else:
        rule.action, rule.action_source = "Audit", "default (CRD default Audit)"
        rule.action_path = vpath


def _walk_pattern(node, path: tuple, out: list) -> None:
    """Collect (dotted path of anchor-stripped keys, anchors on the way, leaf value) of a pattern."""
    if isinstance(node, dict):
        for k, v in node.items():
            name, anchor = _strip_anchor(k)
            _walk_pattern(v, path + ((name, anchor),), out)
    elif isinstance(node, list):
        for item in node:
            _walk_pattern(item, path, out)
        if not node:
            out.append((path, node))
    else:
        out.append((path, node))


def _text(node) -> str:
    try:
        return json.dumps(node, default=str)
    except (TypeError, ValueError):
        return str(node)


def _controls_from_paths(leaves: list, free_text: str) -> tuple[set, set]:
    """PSS controls and other controls referred to by pattern leaves and free text (deny, CEL, JMESPath)."""
    controls, other = set(), set()
    names = []
    for path, value in leaves:
        keys = [k for k, _ in path]
        names.append(".".join(keys).lower())
        low = [k.lower() for k in keys]
        if "seccompprofile" in low:
            i = low.index("seccompprofile")
            controls.add("B10")
            if not path[i][1]:  # required, not `=(seccompProfile)`
                controls.add("R5")
        if "capabilities" in low:
            i = low.index("capabilities")
            rest = low[i + 1:]
            if "add" in rest:
                controls.add("B4")
                if "NET_BIND_SERVICE" in _text(value) and "CHOWN" not in _text(value):
                    controls.add("R6")
            if "drop" in rest:
                controls.add("R6")
            if not rest:
                controls.add("B4")
        if "image" in low and isinstance(value, str) and "latest" in value.lower():
            other.add("image-tag")
        if "limits" in low or "requests" in low:
            other.add("resource-limits")
    blob = " ".join(names) + " " + free_text.lower()
    markers = {
        "B1": r"hostprocess", "B2": r"hostnetwork|hostpid|hostipc", "B3": r"(?<![a-z])privileged(?![a-z])",
        "B5": r"hostpath", "B6": r"hostport", "B7": r"apparmor", "B8": r"selinuxoptions",
        "B9": r"procmount", "R7": r"procmount", "B11": r"sysctls", "R2": r"allowprivilegeescalation",
        "R3": r"runasnonroot", "R4": r"runasuser",
    }
    for cid, rx in markers.items():
        if re.search(rx, blob):
            controls.add(cid)
    if "volumes" in blob and "keys(@)" in blob:
        controls.add("R1")
    if re.search(r"capabilities\.add|capabilities\[?\]?\.add", free_text.lower()):
        controls.add("B4")
    if re.search(r"capabilities\.drop|\.drop", free_text.lower()) and "capabilities" in free_text.lower():
        controls.add("R6")
    if re.search(r"seccompprofile", free_text.lower()):
        controls.update({"B10", "R5"})
    if "readonlyrootfilesystem" in blob:
        other.add("readOnlyRootFilesystem")
    if "automountserviceaccounttoken" in blob:
        other.add("automountServiceAccountToken")
    if re.search(r"readinessprobe|livenessprobe|startupprobe", blob):
        other.add("probes")
    if "latest" in free_text.lower() and "image" in free_text.lower():
        other.add("image-tag")
    return controls, other


def _validate_controls(rule: Rule) -> None:
    v = _d(rule.body.get("validate"))
    ps = v.get("podSecurity")
    if isinstance(ps, dict) and ps.get("level"):
        covered = {c.id for c in pss.controls_for_level(ps.get("level"))}
        for ex in _l(ps.get("exclude")):
            if not isinstance(ex, dict):
                continue
            images = [str(i) for i in _l(ex.get("images"))]
            for c in pss.controls_named(ex.get("controlName")):
                if c.id not in covered:
                    continue
                if not images or "*" in images:
                    covered.discard(c.id)
                else:
                    rule.partial[c.id] = f"podSecurity exclude for images {', '.join(images)}"
        rule.controls |= covered
    leaves: list = []
    for key in ("pattern", "anyPattern"):
        if key in v:
            _walk_pattern(v[key], (), leaves)
    free = []
    if "deny" in v:
        free.append(_text(v["deny"]))
    for fe in _l(v.get("foreach")):
        if isinstance(fe, dict):
            free.append(_text(fe.get("list", "")))
            for key in ("pattern", "anyPattern"):
                if key in fe:
                    _walk_pattern(fe[key], (), leaves)
            if "deny" in fe:
                free.append(_text(fe["deny"]))
    if "cel" in v:
        free.append(_text(v["cel"]))
    controls, other = _controls_from_paths(leaves, " ".join(free))
    rule.controls |= controls
    rule.other |= other
    if not rule.controls:
        rule.controls |= LIBRARY.get(rule.policy.name, set())


def _mutate_controls(rule: Rule) -> None:
    """Secure values a mutate rule writes, as PSS controls it mitigates."""
    m = _d(rule.body.get("mutate"))
    patches = []
    if "patchStrategicMerge" in m:
        patches.append(m["patchStrategicMerge"])
    for fe in _l(m.get("foreach")):
        if isinstance(fe, dict) and "patchStrategicMerge" in fe:
            patches.append(fe["patchStrategicMerge"])
    leaves: list = []
    for p in patches:
        _walk_pattern(p, (), leaves)
    json_patch = m.get("patchesJson6902")
    text = json_patch if isinstance(json_patch, str) else _text(json_patch or "")
    anchored = False
    for path, value in leaves:
        keys = [k.lower() for k, _ in path]
        if not keys:
            continue
        last = keys[-1]
        anchors = [a for _, a in path]
        sval = str(value).strip().lower()
        hit = None
        if last == "runasnonroot" and sval == "true":
            hit = "R3"
        elif last == "runasuser" and sval.isdigit() and int(sval) > 0:
            hit = "R4"
        elif last == "allowprivilegeescalation" and sval == "false":
            hit = "R2"
        elif last == "privileged" and sval == "false":
            hit = "B3"
        elif "capabilities" in keys and last == "drop" and "all" in _text(value).lower():
            hit = "R6"
        elif "seccompprofile" in keys and last == "type" and sval in ("runtimedefault", "localhost"):
            rule.controls |= {"B10", "R5"}
            anchored = anchored or "+" in anchors
        elif last == "readonlyrootfilesystem" and sval == "true":
            rule.other.add("readOnlyRootFilesystem")
        elif last == "automountserviceaccounttoken" and sval == "false":
            rule.other.add("automountServiceAccountToken")
        if hit:
            rule.controls.add(hit)
            anchored = anchored or "+" in anchors
    low = text.lower()
    for needle, cid in (("runasnonroot", "R3"), ("allowprivilegeescalation", "R2"), ("seccompprofile", "R5")):
        if needle in low:
            rule.controls.add(cid)
    rule.add_if_absent = anchored


def _pod_rule(rule: Rule) -> bool:
    kinds = _kinds_of(_d(rule.body.get("match")))
    return any(_is_pod_kind(k) for k in kinds)


def _match_namespaces(rule: Rule) -> list[str]:
    out = []
    for res in _resource_filters(_d(rule.body.get("match"))):
        out.extend(str(n) for n in _l(res.get("namespaces")))
    return out


def read_policy(res: Resource) -> Policy | None:
    """A Policy from a kyverno.io ClusterPolicy/Policy, a policies.kyverno.io ValidatingPolicy or a VAP."""
    spec = res.spec
    group = res.group
    if res.kind in POLICY_KINDS and group == KYVERNO_GROUP:
        pol = Policy(res, res.kind, res.name, res.namespace if res.kind == "Policy" else None, "kyverno")
        wh = _d(spec.get("webhookConfiguration"))
        if wh.get("failurePolicy"):
            pol.failure_policy, pol.failure_policy_source = str(wh["failurePolicy"]), "spec.webhookConfiguration.failurePolicy"
            pol.failure_policy_path = ("spec", "webhookConfiguration", "failurePolicy")
        elif spec.get("failurePolicy"):
            pol.failure_policy, pol.failure_policy_source = str(spec["failurePolicy"]), "spec.failurePolicy (deprecated)"
            pol.failure_policy_path = ("spec", "failurePolicy")
        pol.background = spec.get("background", True) is not False
        pol.admission = spec.get("admission", True) is not False
        for i, r in enumerate(_l(spec.get("rules"))):
            if not isinstance(r, dict):
                continue
            rtype = next((t for t in ("validate", "mutate", "generate", "verifyImages") if t in r), "other")
            rule = Rule(pol, str(r.get("name", f"rule-{i}")), i, rtype, r, ("spec", "rules", i))
            rule.pod_rule = _pod_rule(rule)
            rule.excludes = summarise_exclude(_d(r.get("exclude")))
            rule.match_namespaces = _match_namespaces(rule)
            if rtype == "validate":
                _resolve_action(rule, spec, ("spec", "rules", i, "validate"))
                _validate_controls(rule)
            elif rtype == "mutate":
                _mutate_controls(rule)
            pol.rules.append(rule)
        return pol
    if res.kind in CEL_POLICY_KINDS and group == KYVERNO_CEL_GROUP:
        return _cel_policy(res, "kyverno-cel", [str(a) for a in _l(spec.get("validationActions"))] or ["Audit"])
    return None


def _cel_policy(res: Resource, engine: str, actions: list[str]) -> Policy:
    spec = res.spec
    pol = Policy(res, res.kind, res.name, None, engine)
    if spec.get("failurePolicy"):
        pol.failure_policy, pol.failure_policy_source = str(spec["failurePolicy"]), "spec.failurePolicy"
        pol.failure_policy_path = ("spec", "failurePolicy")
    rule = Rule(pol, "validations", 0, "cel", spec, ("spec", "validations"))
    rule.action = "Enforce" if "Deny" in actions else ("Audit" if actions else "Unbound")
    rule.action_source = f"validationActions {actions}" if actions else "no binding"
    rule.action_path = ("spec", "validationActions")
    rules = _l(_d(spec.get("matchConstraints")).get("resourceRules"))
    rule.pod_rule = any(str(r).lower() in POD_RESOURCES for rr in rules if isinstance(rr, dict)
                        for r in _l(rr.get("resources")))
    text = " ".join(_text(v.get("expression")) for v in _l(spec.get("validations")) if isinstance(v, dict))
    rule.controls, rule.other = _controls_from_paths([], text)
    pol.rules.append(rule)
    return pol


def policies(inv) -> list[Policy]:
    """Every deployed admission policy (Kyverno, Kyverno CEL, ValidatingAdmissionPolicy)."""
    out = []
    for res in inv.of_kind(*POLICY_KINDS, *CEL_POLICY_KINDS):
        p = read_policy(res)
        if p is not None:
            out.append(p)
    bindings: dict[str, list[str]] = {}
    for b in inv.of_kind("ValidatingAdmissionPolicyBinding"):
        name = b.spec.get("policyName")
        if name:
            bindings.setdefault(str(name), []).extend(str(a) for a in _l(b.spec.get("validationActions")))
    for res in inv.of_kind("ValidatingAdmissionPolicy"):
        out.append(_cel_policy(res, "vap", bindings.get(res.name, [])))
    return out


def exceptions(inv) -> list[Resource]:
    return [r for r in inv.of_kind(*EXCEPTION_KINDS) if r.group == KYVERNO_GROUP]


# ---- Pod Security Admission ----------------------------------------------------------------------

PSA_PREFIX = "pod-security.kubernetes.io/"
@dataclass
class ClusterPSA:
    """Cluster-wide PodSecurity defaults (PodSecurityConfiguration) as far as the repo shows them."""

    known: bool  # a Talos config was found
    enforce: str = "privileged"
    audit: str = "privileged"
    warn: str = "privileged"
    exemptions: list = field(default_factory=list)  # exempt namespaces
    path: str | None = None  # file that decided it
    line: int | None = None
    note: str = ""
    steps: list = field(default_factory=list)  # how the patches were applied


def cluster_psa(inv) -> ClusterPSA:
    """Effective Talos PodSecurity admission config after every patch, from the Talos model the node
    checks judge (`scanner.analysis.talos`: Talos's own merge rules), so the policy layer and the node
    layer never disagree on it. With several control-plane configurations the weakest one counts (the
    API server a request reaches decides). A PodSecurityConfiguration without `defaults.enforce` is
    privileged (the Kubernetes default)."""
    from scanner.analysis import talos

    cfgs = [cfg for c in talos.clusters(inv) for cfg in c.configs if cfg.control_plane]
    if not cfgs:
        return ClusterPSA(known=False, note="no Talos machine configuration found: the cluster-wide PodSecurity "
                                            "default is unknown (Kubernetes default: privileged)")
    views = [(cfg, talos.pod_security(cfg)) for cfg in cfgs]
    cfg, ps = min(views, key=lambda v: (pss.LEVEL_RANK.get(v[1].level("enforce"), 0), -len(v[1].exempt_namespaces)))
    psa = ClusterPSA(known=True, enforce=ps.level("enforce"), audit=ps.level("audit"), warn=ps.level("warn"),
                     exemptions=list(ps.exempt_namespaces))
    for mode in ("enforce", "audit", "warn"):
        if getattr(psa, mode) not in pss.LEVELS:
            setattr(psa, mode, "privileged")  # a template expression or a typo: nothing known is enforced
    loc = cfg.location(inv, *talos.ADMISSION)
    if cfg.origin(*talos.ADMISSION) is not None:
        psa.path, psa.line = loc.path, loc.line
    psa.steps = [f"{frag.label}: {'/'.join(str(k) for k in kp) if not frag.opaque else 'patch'}"
                 for frag, kp in cfg.sources(*talos.ADMISSION)] + ps.cleared + ps.noops
    if ps.default:
        psa.note = "Talos default PodSecurity configuration (enforce baseline, audit/warn restricted)"
    else:
        psa.note = (f"Talos PodSecurity after patches ({cfg.subject}): enforce {psa.enforce}, audit {psa.audit}, "
                    f"warn {psa.warn}" + ("" if ps.enforce else " (no `defaults.enforce` in the PodSecurityConfiguration: "
                                                            "privileged)"))
    return psa


def namespace_psa(inv) -> dict[str, dict]:
    """Namespace -> {enforce, audit, warn, resource} from `pod-security.kubernetes.io/*` labels."""
    out: dict[str, dict] = {}
    for ns in inv.of_kind("Namespace"):
        labels = ns.labels
        modes = {m: str(labels[PSA_PREFIX + m]).lower() for m in ("enforce", "audit", "warn")
                 if PSA_PREFIX + m in labels and str(labels[PSA_PREFIX + m]).lower() in pss.LEVELS}
        if modes:
            out[ns.name] = dict(modes, resource=ns)
    return out


def effective_ns_levels(inv, namespaces) -> dict[str, dict]:
    """Namespace -> {enforce, audit, source} combining labels and the cluster default."""
    cluster = cluster_psa(inv)
    labels = namespace_psa(inv)
    out = {}
    for ns in sorted(n for n in namespaces if n):
        lab = labels.get(ns, {})
        exempt = ns in cluster.exemptions
        default = "privileged" if exempt else cluster.enforce
        default_audit = "privileged" if exempt else max(cluster.audit, cluster.warn, key=lambda x: pss.LEVEL_RANK[x])
        enforce = lab.get("enforce", default)
        audit = max(lab.get("audit", default_audit), lab.get("warn", default_audit), enforce,
                    key=lambda x: pss.LEVEL_RANK[x])
        src = "label" if "enforce" in lab else ("talos exemption" if exempt else
                                                 ("talos default" if cluster.known else "unknown default"))
        out[ns] = {"enforce": enforce, "audit": audit, "source": src}
    return out


# ---- coverage -------------------------------------------------------------------------------------

@dataclass
class ControlCoverage:
    """How one Pod Security control is covered: by which rules, mitigations or PSA labels."""

    control: pss.Control
    status: str = "missing"  # enforced, audited, mitigated, partial, missing
    enforce_rules: list = field(default_factory=list)  # Rule
    audit_rules: list = field(default_factory=list)
    mitigations: list = field(default_factory=list)
    psa_enforced: list = field(default_factory=list)  # namespaces where PSA enforces the control
    psa_gaps: list = field(default_factory=list)  # namespaces where it does not
    psa_audited: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def row(self) -> dict:
        c = self.control
        return {
            "control": c.id, "name": c.name, "level": c.level, "status": self.status,
            "kyverno_enforce": [r.label() for r in self.enforce_rules],
            "kyverno_audit": [r.label() for r in self.audit_rules],
            "mitigations": [r.label() + (" (add-if-absent)" if r.add_if_absent else "") for r in self.mitigations],
            "psa_enforced_namespaces": len(self.psa_enforced), "psa_gap_namespaces": self.psa_gaps[:30],
            "notes": self.notes,
        }

    def line(self) -> str:
        c = self.control
        parts = []
        if self.enforce_rules:
            parts.append("Kyverno Enforce: " + ", ".join(r.label() for r in self.enforce_rules))
        if self.audit_rules:
            parts.append("Kyverno Audit: " + ", ".join(r.label() for r in self.audit_rules))
        if self.mitigations:
            parts.append("mutation: " + ", ".join(r.label() for r in self.mitigations))
        total = len(self.psa_enforced) + len(self.psa_gaps)
        if total:
            parts.append(f"PSA enforce in {len(self.psa_enforced)}/{total} namespaces")
        return f"{c.id:<4} {c.name:<32} {c.level:<10} {self.status:<9} " + ("; ".join(parts) or "nothing")


def coverage(inv, pols: list[Policy] | None = None) -> list[ControlCoverage]:
    pols = policies(inv) if pols is None else pols
    namespaces = inv.workload_namespaces() or {n for n in inv.namespaces()}
    levels = effective_ns_levels(inv, namespaces)
    out = []
    for c in pss.CONTROLS:
        cov = ControlCoverage(c)
        for p in pols:
            for r in p.rules:
                if not r.pod_rule or c.id not in r.controls:
                    continue
                if r.type in ("validate", "cel"):
                    (cov.enforce_rules if r.enforced else cov.audit_rules).append(r)
                    if c.id in r.partial:
                        cov.notes.append(f"{r.label()}: {r.partial[c.id]}")
                    if r.enforced and p.fail_open:
                        cov.notes.append(f"{r.label()}: failurePolicy Ignore (fail-open)")
                elif r.type == "mutate":
                    cov.mitigations.append(r)
        for ns, lv in levels.items():
            if pss.level_covers(lv["enforce"], c):
                cov.psa_enforced.append(ns)
            else:
                cov.psa_gaps.append(ns)
                if pss.level_covers(lv["audit"], c):
                    cov.psa_audited.append(ns)
        psa_all = bool(levels) and not cov.psa_gaps
        if cov.enforce_rules and not any(c.id in r.partial for r in cov.enforce_rules):
            cov.status = "enforced"
        elif psa_all:
            cov.status = "enforced"
            cov.notes.append("Pod Security Admission enforces it in every workload namespace")
        elif cov.enforce_rules or cov.psa_enforced:
            cov.status = "partial"
        elif cov.audit_rules or (cov.psa_audited and len(cov.psa_audited) == len(cov.psa_gaps)):
            cov.status = "audited"
        elif cov.mitigations:
            cov.status = "mitigated"
        out.append(cov)
    return out


def format_table(rows: list[ControlCoverage]) -> str:
    head = f"{'id':<4} {'control':<32} {'level':<10} {'status':<9} covered by"
    return "\n".join([head] + [r.line() for r in rows])
