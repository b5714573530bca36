"""The review views of the HTML report (issue 17): Fix first, coverage, clusters, mitigated findings,
waivers with owner and expiry, the namespace table, the Flux checklist hook, and no local paths."""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys

from reports import html
from reports.fixfirst import fix_first, gain_per_subject, _weights
from scanner.engine.report_build import build_score
from tests.reports.test_html import Page
from tests.support.paths import EXAMPLE, ROOT
from tests.support.reports import COMMIT, IMG, SCRIPT, WEB_URL, make_report


def _finding(status, subject, ns="media", path="kubernetes/apps/x.yaml", line=3, remediation=None):
    return {"fingerprint": f"fp{abs(hash((subject, status))) % 10**12:012d}", "status": status, "severity": "high",
            "subject": subject, "message": f"{subject}: broken", "namespace": ns,
            "resource": {"kind": "Deployment", "namespace": ns, "name": subject.split("/")[-1]},
            "location": {"path": path, "line": line}, "remediation": remediation, "evidence": {}, "waiver": None}


def _check(cid, layer, severity, findings, remediation="Do the thing."):
    counts = {s: sum(1 for f in findings if f["status"] == s) for s in ("pass", "fail", "warn", "waived")}
    total = len(findings)
    score = round(100.0 * (counts["pass"] + counts["waived"] + 0.5 * counts["warn"]) / total, 2) if total else None
    return {"id": cid, "title": cid, "layer": layer, "severity": severity, "status": "fail" if counts["fail"] else "pass",
            "score": score, "subjects": {"total": total, "passing": counts["pass"], "failing": counts["fail"],
                                         "warning": counts["warn"], "waived": counts["waived"]},
            "rationale": "Why.", "remediation": remediation, "references": [], "error": None, "findings": findings}


def small_report() -> dict:
    checks = [
        # 12 namespaces without a default deny: one fix, 12 subjects (out of 14)
        _check("segmentation.default-deny", "segmentation", "high",
               [_finding("fail", f"namespace ns{i}", ns=f"ns{i}") for i in range(12)]
               + [_finding("pass", f"namespace ok{i}", ns=f"ok{i}") for i in range(2)]),
        _check("segmentation.egress", "segmentation", "low", [_finding("fail", "namespace ns0", ns="ns0")]),
        # two different remediations in one check: two items
        _check("workloads.caps", "workloads", "critical",
               [_finding("fail", "Deployment media/a", remediation="Drop ALL on a"),
                _finding("fail", "Deployment media/b", remediation="Drop ALL on b"),
                _finding("pass", "Deployment media/c")] + [_finding("pass", f"Deployment media/p{i}") for i in range(7)]),
        _check("workloads.digest", "workloads", "low",
               [_finding("warn", "Deployment media/a"), _finding("pass", "Deployment media/b")]),
    ]
    report = {"schema_version": "1.0", "tool": {"name": "gitops-posture", "version": "0"},
              "scan": {"sources": [{"type": "git", "path": "home-ops", "commit": COMMIT, "web_url": WEB_URL}],
                       "started_at": "2026-03-01T10:00:00Z", "git_commit": COMMIT},
              "checks": checks, "waivers": [], "errors": [], "gate": {"evaluated": False, "passed": True}}
    report["score"] = build_score(checks, {"segmentation": 2.0})
    return report


def test_fix_first_gain_is_the_score_rise_of_applying_the_fix():
    report = small_report()
    items = fix_first(report)
    assert [i.check["id"] for i in items] == ["segmentation.default-deny", "segmentation.egress", "workloads.caps",
                                              "workloads.caps", "workloads.digest"]
    deny = items[0]
    assert len(deny.findings) == 12  # identical fixes grouped: one item, every subject
    # The gain is exact: fixing every subject of the item and recomputing the score gives it.
    for item in items:
        fixed = copy.deepcopy(report)
        ids = {id(f) for f in item.findings}
        for c_old, c_new in zip(report["checks"], fixed["checks"]):
            for f_old, f_new in zip(c_old["findings"], c_new["findings"]):
                if id(f_old) in ids:
                    f_new["status"] = "pass"
            c_new.update(_check(c_new["id"], c_new["layer"], c_new["severity"], c_new["findings"]))
        after = build_score(fixed["checks"], {"segmentation": 2.0})["overall"]
        assert abs((after - report["score"]["overall"]) - item.gain) < 0.02, (item.check["id"], after, item.gain)
    gains = [i.gain for i in items]
    assert gains == sorted(gains, reverse=True)
    caps = [i for i in items if i.check["id"] == "workloads.caps"]
    assert sorted(i.remediation for i in caps) == ["Drop ALL on a", "Drop ALL on b"]
    warn = next(i for i in items if i.check["id"] == "workloads.digest")
    share, sev_sum = _weights(report)
    assert abs(warn.gain - 0.5 * gain_per_subject(warn.check, share, sev_sum)) < 1e-9  # a warning counts half


def test_fix_first_section_leads_the_page_with_subjects_files_and_a_waiver():
    report = small_report()
    out = html.render(report, {})
    top = out.index('id="fix-first"')
    assert top < out.index('id="findings"')
    assert out.index('id="depth"') < out.index('id="coverage"') < top
    page = Page(out)
    items = page.find("li", **{"class": "fix-item"})
    assert [i["data-chk"] for i in items][:3] == ["segmentation.default-deny", "segmentation.egress", "workloads.caps"]
    gains = [float(i["data-gain"]) for i in items]
    assert gains == sorted(gains, reverse=True)
    first = out[top:].split('class="fix-item"')[1]
    assert "12 subjects" in first and "+" in first
    assert f"{WEB_URL}/blob/{COMMIT}/kubernetes/apps/x.yaml#L3" in first
    assert "waivers:\n  - check: segmentation.default-deny\n    resource: &#39;Deployment/ns" in first
    assert "expires: 2026-05-30" in first  # scan date + 90 days


def test_failing_rows_carry_a_waiver_target_and_passing_rows_do_not():
    out = html.render(small_report(), {})
    rows = [a for t, a in Page(out).tags if t == "tr" and a.get("class") == "f"]
    failing = [a for a in rows if a["data-t"] in ("fail", "warn")]
    assert failing and all(a["data-r"].startswith("Deployment/") and a["data-fp"] for a in failing)
    assert not any("data-r" in a for a in rows if a["data-t"] == "pass")
    assert out.count('class="wv"') == len(failing)


def test_coverage_block_near_the_top():
    report = small_report()
    out = html.render(report, {})
    assert "carries no coverage section" in out  # silence is not "everything seen"
    report["coverage"] = {
        "percent": 91.5,
        "clusters": {"main": {"percent": 95.0}, "staging": {"percent": 80}},
        "gaps": [{"kind": "remote_resource", "path": "kubernetes/apps/a/kustomization.yaml", "line": 4,
                  "message": "https://example.org/x.yaml not fetched " + SCRIPT},
                 {"kind": "opaque_chart", "path": "kubernetes/apps/b/helmrelease.yaml", "line": 1,
                  "message": "chart not rendered"},
                 {"kind": "opaque_chart", "location": {"path": "kubernetes/apps/c/helmrelease.yaml", "line": 9},
                  "detail": "chart not rendered"}],
    }
    out = html.render(report, {})
    cov = out[out.index('id="coverage"'):out.index('id="fix-first"')]
    assert "main" in cov and "95 %" in cov and "staging" in cov and "80 %" in cov and "92 %" in cov
    assert re.search(r"opaque chart <b>2</b>", cov) and re.search(r"remote resource <b>1</b>", cov)
    assert f"{WEB_URL}/blob/{COMMIT}/kubernetes/apps/c/helmrelease.yaml#L9" in cov
    assert SCRIPT not in cov and "&lt;script&gt;" in cov


def test_cluster_scores_filter_and_mitigated_findings():
    report = small_report()
    report["score"]["clusters"] = {
        "main": {"overall": 70.0, "layers": {"segmentation": {"score": 10.0}, "workloads": {"score": 80.0}}},
        "lab": {"overall": 90.0, "layers": {"segmentation": {"score": 95.0}, "workloads": {"score": 85.0}}}}
    for i, f in enumerate(report["checks"][0]["findings"]):
        f["cluster"] = "main" if i % 2 else "lab"
    mit = report["checks"][2]["findings"][2]
    mit.update(status="mitigated", mitigation={"layer": "nodes", "evidence": "Talos applies RuntimeDefault",
                                               "location": {"path": "talos/patch.yaml", "line": 12}})
    out = html.render(report, {})
    depth = out[out.index('id="depth"'):out.index('id="coverage"')]
    assert ">main</th>" in depth and ">lab</th>" in depth and "overall" in depth
    assert '<select name="c">' in out and 'value="lab"' in out
    assert 'data-c="main"' in out
    assert "mitigated by nodes: Talos applies RuntimeDefault at talos/patch.yaml:12" in out
    credit = {"layer": "policy", "mechanism": "kyverno-mutate", "detail": "ClusterPolicy add-seccomp " + SCRIPT,
              "path": "kubernetes/kyverno/p.yaml", "line": 7}
    mit.pop("mitigation")
    mit["mitigated_by"] = [credit]
    out = html.render(report, {})
    assert "mitigated by policy: ClusterPolicy add-seccomp &lt;script&gt;" in out and SCRIPT not in out
    assert 'data-t="mitigated"' in out and 'value="mitigated"' in out
    report["score"]["without_mitigations"] = {"overall": 41.5, "grade": "F", "mitigated_findings": 1,
                                              "layers": {"workloads": 33.0, "segmentation": 10.0}}
    depth = html.render(report, {}).split('id="depth"')[1].split('id="coverage"')[0]
    assert "Without mitigations" in depth and "would be 41.5 (F)" in depth and ">33</td>" in depth
    # mitigated counts as passing: it is not something to fix first
    assert all(f["status"] != "mitigated" for i in fix_first(report) for f in i.findings)


def test_waived_findings_show_reason_owner_and_days_to_expiry():
    report = small_report()
    f = report["checks"][0]["findings"][0]
    f.update(status="waived", waiver={"reason": "vendor chart " + IMG, "expires": "2026-03-11", "owner": "alice"})
    report["waivers"] = [{"check": "segmentation.default-deny", "resource": "Deployment/ns0/ns0", "reason": "vendor",
                          "owner": "alice", "expires": "2026-03-11", "expired": False, "matched": 1}]
    out = html.render(report, {})
    waived = out[out.index('id="waived"'):]
    assert "alice" in waived and "10 days left" in waived and "&#34;&gt;&lt;img" in waived
    assert '<td data-v="10">10</td>' in waived


def test_namespace_table_ranks_by_worst_open_finding():
    report = make_report(60)
    out = html.render(report, {})
    matrix = out[out.index('id="namespaces"'):out.index("</table>", out.index('id="namespaces"'))]
    first_cells = re.findall(r'<tr><th scope="row"[^>]*>.*?</th><td data-v="(\d+)"', matrix)
    assert first_cells and [int(x) for x in first_cells] == sorted((int(x) for x in first_cells), reverse=True)
    assert 'class="sev critical"' in matrix or 'class="sev high"' in matrix


def test_flux_checklist_hook_renders_when_present():
    report = small_report()
    assert 'id="flux-checklist"' not in html.render(report, {})
    report["flux_checklist"] = {"source": "fluxcd security audit checklist",
                                "items": [{"id": "F1", "title": "Sources use signed commits", "status": "fail",
                                           "reason": "no spec.verify " + SCRIPT, "checks": ["gitops.source-verify"]},
                                          {"id": "F2", "title": "Tenants", "status": "not_applicable",
                                           "reason": "single tenant"}]}
    out = html.render(report, {})
    sec = out[out.index('id="flux-checklist"'):]
    assert "Sources use signed commits" in sec and 'href="#chk-gitops.source-verify"' in sec
    assert "not applicable" in sec and SCRIPT not in sec


def test_a_typed_report_model_is_read_through_its_dump():
    from tests.support.scanning import run_scan

    model = run_scan(EXAMPLE)
    assert html.render(model) == html.render(model.to_json_dict(), {})


def test_no_absolute_local_path_in_any_report(tmp_path):
    out = tmp_path / "o"
    p = subprocess.run([sys.executable, "-m", "scanner", "scan", str(EXAMPLE.resolve()), "--format",
                        "json,html,markdown,sarif,junit", "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    files = sorted(f for f in out.iterdir() if f.name != ".posture.lock")  # (the output directory's lock)
    assert len(files) == 5
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert str(EXAMPLE.resolve()) not in text, f.name
        assert str(ROOT) not in text, f.name
    report = json.loads((out / "posture-report.json").read_text())
    assert report["scan"]["sources"][0]["path"] == "homelab"
