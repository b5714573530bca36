"""Kyverno reading, effective actions, PSS coverage with PSA labels and Talos defaults, and the policy checks."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scanner.analysis import kyverno as kyv
from tests.support.paths import TARGET
from tests.support.scanning import scan


def repo(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "repo"
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def run(root: Path, *checks: str):
    r = scan(str(root), only=list(checks))
    return {c["id"]: c for c in r.report.to_json_dict()["checks"]}, r.inventory


def findings(check: dict, status: str | None = None) -> list[dict]:
    return [f for f in check["findings"] if status is None or f["status"] == status]


KYVERNO_HR = """
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: kyverno, namespace: kyverno}
spec:
  chart: {spec: {chart: kyverno, version: 3.4.0, sourceRef: {kind: HelmRepository, name: kyverno}}}
  values:
    admissionController: {replicas: 3}
"""


def policy(name: str, spec_action: str | None, rule_action: str | None, body: str = None, extra_spec: str = "") -> str:
    spec_line = f"  validationFailureAction: {spec_action}\n" if spec_action else ""
    rule_line = f"        failureAction: {rule_action}\n" if rule_action else ""
    body = body or """        pattern:
          spec:
            containers:
              - =(securityContext):
                  =(privileged): "false"
"""
    return (f"apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: {name}}}\nspec:\n{spec_line}{extra_spec}"
            "  rules:\n    - name: r\n      match: {any: [{resources: {kinds: [Pod]}}]}\n      validate:\n"
            f"{rule_line}{body}")


# ---- effective action ------------------------------------------------------------------------------

@pytest.mark.parametrize("spec_action,rule_action,expected,source", [
    ("Audit", "Enforce", "Enforce", "rule"),
    ("Enforce", "Audit", "Audit", "rule"),
    ("enforce", None, "Enforce", "spec"),
    ("audit", None, "Audit", "spec"),
    (None, None, "Audit", "default"),
    (None, "Enforce", "Enforce", "rule"),
])
def test_effective_action(tmp_path, spec_action, rule_action, expected, source):
    root = repo(tmp_path, {"p.yaml": policy("p", spec_action, rule_action)})
    _, inv = run(root, "policy.kyverno-enforce-mode")
    [p] = kyv.policies(inv)
    rule = p.rules[0]
    assert rule.action == expected
    assert rule.action_source.startswith({"rule": "rule", "spec": "spec", "default": "default"}[source])
    if spec_action and spec_action.islower() and not rule_action:
        assert any("lower-case" in d for d in rule.deprecated)


def test_enforce_mode_verdicts_and_lines(tmp_path):
    root = repo(tmp_path, {
        "a.yaml": policy("audit-pol", "Audit", None),
        "b.yaml": policy("rule-enforce", "Audit", "Enforce"),
        "c.yaml": policy("fail-open", None, "Enforce", extra_spec="  failurePolicy: Ignore\n"),
        "d.yaml": policy("fail-open-new", None, "Enforce", extra_spec="  webhookConfiguration: {failurePolicy: Ignore}\n"),
        "e.yaml": policy("report-only", "Enforce", None, extra_spec="  admission: false\n"),
    })
    checks, _ = run(root, "policy.kyverno-enforce-mode")
    c = checks["policy.kyverno-enforce-mode"]
    by = {f["subject"].split()[1]: f for f in c["findings"]}
    assert by["audit-pol"]["status"] == "fail"
    assert by["audit-pol"]["location"]["line"] == 5  # spec.validationFailureAction
    assert by["rule-enforce"]["status"] == "pass"
    assert by["rule-enforce"]["location"]["line"] == 10  # rules[0].validate.failureAction
    assert by["fail-open"]["status"] == "warn" and by["fail-open"]["location"]["line"] == 5  # spec.failurePolicy
    assert by["fail-open-new"]["status"] == "warn"
    assert by["report-only"]["status"] == "fail" and "report-only" in by["report-only"]["message"]
    assert c["status"] == "fail"


def test_no_validate_policy_is_a_failing_subject(tmp_path):
    root = repo(tmp_path, {"hr.yaml": KYVERNO_HR})
    checks, _ = run(root, "policy.kyverno-enforce-mode")
    assert checks["policy.kyverno-enforce-mode"]["status"] == "fail"


# ---- kyverno-deployed --------------------------------------------------------------------------------

def test_kyverno_absent_scores_zero(tmp_path):
    root = repo(tmp_path, {"d.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: x, namespace: default}
        """})
    checks, _ = run(root, "policy.kyverno-deployed")
    c = checks["policy.kyverno-deployed"]
    assert c["status"] == "fail" and c["score"] == 0


def test_kyverno_deployed_reports_version_replicas_failure_policy(tmp_path):
    root = repo(tmp_path, {"hr.yaml": KYVERNO_HR, "p.yaml": policy("p", None, "Enforce",
                                                                   extra_spec="  webhookConfiguration: {failurePolicy: Ignore}\n")})
    checks, _ = run(root, "policy.kyverno-deployed")
    [f] = checks["policy.kyverno-deployed"]["findings"]
    assert f["status"] == "pass"
    assert f["evidence"]["chart_version"] == "3.4.0"
    assert f["evidence"]["admission_replicas"] == 3
    assert f["evidence"]["policy_failure_policies"] == {"Ignore": 1}


def test_kyverno_single_replica_warns_and_suspended_fails(tmp_path):
    one = KYVERNO_HR.replace("admissionController: {replicas: 3}", "features: {}")
    checks, _ = run(repo(tmp_path / "a", {"hr.yaml": one}), "policy.kyverno-deployed")
    assert checks["policy.kyverno-deployed"]["status"] == "warn"
    suspended = KYVERNO_HR.replace("spec:\n", "spec:\n  suspend: true\n", 1)
    checks, _ = run(repo(tmp_path / "b", {"hr.yaml": suspended}), "policy.kyverno-deployed")
    assert checks["policy.kyverno-deployed"]["status"] == "fail"


# ---- rule -> PSS control mapping ------------------------------------------------------------------------

def _rule_controls(tmp_path, body: str) -> set:
    root = repo(tmp_path, {"p.yaml": policy("p", "Enforce", None, body=body)})
    _, inv = run(root, "policy.kyverno-enforce-mode")
    return kyv.policies(inv)[0].rules[0].controls


def test_mapping_by_fields(tmp_path):
    assert _rule_controls(tmp_path / "1", """        pattern:
          spec:
            =(hostNetwork): "false"
            =(hostPID): "false"
""") == {"B2"}
    # conditional anchor: only forbids Unconfined (baseline); required key: restricted too
    assert _rule_controls(tmp_path / "2", """        pattern:
          spec:
            =(securityContext):
              =(seccompProfile):
                =(type): "RuntimeDefault | Localhost"
""") == {"B10"}
    assert _rule_controls(tmp_path / "3", """        pattern:
          spec:
            securityContext:
              seccompProfile:
                type: "RuntimeDefault | Localhost"
""") == {"B10", "R5"}
    assert _rule_controls(tmp_path / "4", """        deny:
          conditions:
            any:
              - key: "{{ request.object.spec.containers[].securityContext.capabilities.drop[] }}"
                operator: AnyNotIn
                value: [ALL]
""") >= {"R6"}
    assert _rule_controls(tmp_path / "5", """        podSecurity:
          level: baseline
          version: latest
          exclude:
            - controlName: Host Ports
            - controlName: Capabilities
              images: [ghcr.io/example/*]
""") == {c.id for c in kyv.pss.controls_for_level("baseline")} - {"B6"}


def test_podsecurity_subrule_with_image_exclude_is_partial(tmp_path):
    body = """        podSecurity:
          level: restricted
          exclude:
            - controlName: Capabilities
              images: [ghcr.io/example/*]
"""
    root = repo(tmp_path, {"p.yaml": policy("p", None, "Enforce", body=body)})
    _, inv = run(root, "policy.pod-security-coverage")
    rows = {r.control.id: r for r in kyv.coverage(inv)}
    assert rows["B3"].status == "enforced"
    assert rows["B4"].status == "partial" and rows["R6"].status == "partial"


# ---- coverage: Kyverno + PSA labels + Talos ------------------------------------------------------------------

WORKLOAD = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: apps}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec:
      containers: [{name: a, image: "ghcr.io/example/a:1.0"}]
"""


def _statuses(checks) -> dict:
    return {f["subject"].split()[2]: f["status"] for f in checks["policy.pod-security-coverage"]["findings"]}


def test_coverage_without_any_control_fails(tmp_path):
    checks, _ = run(repo(tmp_path, {"w.yaml": WORKLOAD}), "policy.pod-security-coverage")
    st = _statuses(checks)
    assert set(st.values()) == {"fail"} and len(st) == 19
    f = checks["policy.pod-security-coverage"]["findings"][0]
    assert len(f["evidence"]["coverage_table"]) == 19


def test_coverage_audit_is_warn_mutation_is_mitigation(tmp_path):
    mutate = """
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: default-security-context}
spec:
  rules:
    - name: defaults
      match: {any: [{resources: {kinds: [Pod]}}]}
      mutate:
        patchStrategicMerge:
          spec:
            containers:
              - (name): "*"
                securityContext:
                  +(allowPrivilegeEscalation): false
                  +(runAsNonRoot): true
"""
    checks, inv = run(repo(tmp_path, {"w.yaml": WORKLOAD, "a.yaml": policy("audit", "Audit", None), "m.yaml": mutate}),
                      "policy.pod-security-coverage")
    st = _statuses(checks)
    assert st["B3"] == "warn"  # audited
    assert st["R2"] == "warn" and st["R3"] == "warn"  # mitigated by mutation
    rows = {r.control.id: r for r in kyv.coverage(inv)}
    assert rows["R2"].status == "mitigated" and rows["R2"].mitigations[0].add_if_absent
    assert st["B2"] == "fail"


def test_coverage_psa_namespace_label(tmp_path):
    ns = """
apiVersion: v1
kind: Namespace
metadata:
  name: apps
  labels:
    pod-security.kubernetes.io/enforce: restricted
"""
    checks, _ = run(repo(tmp_path, {"w.yaml": WORKLOAD, "ns.yaml": ns}), "policy.pod-security-coverage")
    assert set(_statuses(checks).values()) == {"pass"}


TALCONFIG = """
clusterName: home
talosVersion: v1.10.0
kubernetesVersion: v1.33.0
nodes:
  - {hostname: cp1, ipAddress: 10.0.0.1, controlPlane: true}
controlPlane:
  patches:
{patches}
"""


def test_talos_default_enforces_baseline_audits_restricted(tmp_path):
    files = {"w.yaml": WORKLOAD, "talos/talconfig.yaml": TALCONFIG.replace("{patches}", '    - "@./patches/x.yaml"'),
             "talos/patches/x.yaml": "machine:\n  network: {hostname: x}\n"}
    checks, inv = run(repo(tmp_path, files), "policy.pod-security-coverage")
    psa = kyv.cluster_psa(inv)
    assert (psa.known, psa.enforce, psa.audit) == (True, "baseline", "restricted")
    st = _statuses(checks)
    assert st["B3"] == "pass" and st["B12"] == "pass"
    assert st["R2"] == "warn"  # PSA audit/warn restricted: audited


def test_talos_admission_control_emptied_by_strategic_patch_keeps_baseline(tmp_path):
    # Talos merges `admissionControl` by plugin name: `[]` in a strategic merge patch adds nothing, and the
    # later PodSecurity entry deep-merges into the default (exemptions appended, defaults kept). The node
    # layer reads the same model (nodes.pod-security-admission warns on the exemption).
    files = {"w.yaml": WORKLOAD,
             "talos/talconfig.yaml": TALCONFIG.replace("{patches}", '    - "@./patches/reset.yaml"\n    - "@./patches/psa.yaml"'),
             "talos/patches/reset.yaml": "cluster:\n  apiServer:\n    admissionControl: []\n",
             "talos/patches/psa.yaml": """
cluster:
  apiServer:
    admissionControl:
      - name: PodSecurity
        configuration:
          apiVersion: pod-security.admission.config.k8s.io/v1beta1
          kind: PodSecurityConfiguration
          exemptions:
            namespaces: [openebs-system]
"""}
    checks, inv = run(repo(tmp_path, files), "policy.pod-security-coverage")
    psa = kyv.cluster_psa(inv)
    assert psa.enforce == "baseline" and psa.exemptions == ["kube-system", "openebs-system"]
    assert len(psa.steps) == 2 and "cannot empty it" in psa.steps[1]
    f = next(f for f in checks["policy.pod-security-coverage"]["findings"] if " B3 " in f["subject"])
    assert f["status"] == "pass"
    assert f["evidence"]["psa"]["cluster_default"]["from"] == "talos/patches/psa.yaml:3"


def test_talos_merge_by_name_keeps_defaults_and_json_remove_drops_them(tmp_path):
    merge = {"w.yaml": WORKLOAD,
             "talos/talconfig.yaml": TALCONFIG.replace("{patches}", '    - "@./patches/psa.yaml"'),
             "talos/patches/psa.yaml": "cluster:\n  apiServer:\n    admissionControl:\n      - name: PodSecurity\n"
                                       "        configuration:\n          exemptions: {namespaces: [rook-ceph]}\n"}
    _, inv = run(repo(tmp_path / "a", merge), "policy.pod-security-coverage")
    psa = kyv.cluster_psa(inv)
    assert psa.enforce == "baseline" and psa.exemptions == ["kube-system", "rook-ceph"]
    remove = dict(merge)
    remove["talos/patches/psa.yaml"] = "- op: remove\n  path: /cluster/apiServer/admissionControl\n"
    _, inv = run(repo(tmp_path / "b", remove), "policy.pod-security-coverage")
    assert kyv.cluster_psa(inv).enforce == "privileged"


def test_psa_privileged_label_opens_gap_under_talos_default(tmp_path):
    ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n  labels: {pod-security.kubernetes.io/enforce: privileged}\n"
    other = WORKLOAD.replace("namespace: apps", "namespace: web")
    files = {"w.yaml": WORKLOAD, "w2.yaml": other, "ns.yaml": ns,
             "talos/talconfig.yaml": TALCONFIG.replace("{patches}", "    - {machine: {network: {hostname: x}}}")}
    checks, _ = run(repo(tmp_path, files), "policy.pod-security-coverage")
    f = next(f for f in checks["policy.pod-security-coverage"]["findings"] if " B3 " in f["subject"])
    assert f["status"] == "warn" and f["evidence"]["row"]["psa_gap_namespaces"] == ["apps"]


# ---- exceptions -------------------------------------------------------------------------------------

def test_policy_exceptions(tmp_path):
    annotated = policy("p", None, "Enforce").replace(
        "      validate:", "      exclude: {any: [{resources: {annotations: {skip: 'true'}}}]}\n      validate:")
    exc = """
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: all, namespace: kyverno}
spec:
  exceptions: [{policyName: p, ruleNames: [r]}]
  match: {any: [{resources: {kinds: [Pod], namespaces: ["*"]}}]}
"""
    narrow = exc.replace('namespaces: ["*"]', "namespaces: [media], names: [plex-*]").replace("name: all", "name: plex")
    hr = KYVERNO_HR.replace("admissionController: {replicas: 3}",
                            "admissionController: {replicas: 3}\n    features: {policyExceptions: {enabled: true, namespace: '*'}}")
    checks, _ = run(repo(tmp_path, {"p.yaml": annotated, "e.yaml": exc, "n.yaml": narrow, "hr.yaml": hr}),
                    "policy.policy-exceptions")
    st = {f["subject"]: f["status"] for f in checks["policy.policy-exceptions"]["findings"]}
    assert st["PolicyException kyverno/all"] == "fail"
    assert st["PolicyException kyverno/plex"] == "warn"
    assert st["ClusterPolicy p rule r exclude"] == "warn"
    assert st["HelmRelease kyverno/kyverno policyExceptions"] == "fail"


# ---- the target cluster ------------------------------------------------------------------------------------

@pytest.mark.skipif(not TARGET.is_dir(), reason="corpus not available")
def test_target_cluster_policy_layer(capsys):
    r = scan(str(TARGET), only=["policy"])
    checks = {c["id"]: c for c in r.report.to_json_dict()["checks"]}
    assert checks["policy.kyverno-deployed"]["status"] == "pass"
    assert checks["policy.kyverno-enforce-mode"]["status"] == "fail"
    assert all(f["status"] == "fail" for f in checks["policy.kyverno-enforce-mode"]["findings"])
    cov = checks["policy.pod-security-coverage"]
    assert cov["status"] == "fail"
    st = {f["subject"].split()[2]: f["status"] for f in cov["findings"]}
    # Talos's baseline default stands (`admissionControl: []` is a no-op in a strategic patch); namespaces
    # labelled privileged or exempt leave it partial.
    assert st["B3"] == "warn"
    assert st["R2"] == "warn" and st["R3"] == "warn"  # default-security-context audits them
    psa = kyv.cluster_psa(r.inventory)
    assert psa.enforce == "baseline" and psa.exemptions == ["kube-system", "openebs-system"]
    print(kyv.format_table(kyv.coverage(r.inventory)))

