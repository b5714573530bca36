"""The Flux project's security checklist: every item is covered by registered checks, the catalogue
maps it, and a scan reads as the checklist (the view and the Markdown report), with multi-tenancy
items "not applicable" and never failing on single-tenant repositories."""
from __future__ import annotations

import pytest

from checks import flux_checklist
from reports import checklist, markdown
from reports.interface import RenderOptions
from scanner.engine.catalogue import markdown as catalogue_markdown
from scanner.engine.plugins import discover
from tests.support.paths import CORPUS, EXAMPLE
from tests.support.reports import as_model, minimal_report
from tests.support.scanning import scan

TENANCY = ("gitops.tenant-service-accounts", "gitops.tenant-default-service-account",
           "gitops.tenant-cross-namespace-refs", "gitops.tenant-source-admission")


@pytest.fixture(scope="module")
def homelab():
    if not EXAMPLE.is_dir():
        pytest.skip("examples/homelab not present")
    return scan(str(EXAMPLE)).report


def test_every_item_has_a_registered_check():
    cl = flux_checklist.load()
    registered = {s.id for s in discover()[0]}
    assert len(cl.items) == 28 and len({i.id for i in cl.items}) == 28
    for item in cl.items:
        assert item.checks, f"checklist item {item.id!r} has no check"
        unknown = [c for c in item.checks if c not in registered]
        assert not unknown, f"checklist item {item.id!r} names unregistered checks {unknown}"
    assert all(c in registered for c, _ in cl.additional)


def test_an_item_without_a_check_is_caught(monkeypatch):
    """The coverage test above can fail: a loaded checklist with an empty item is seen as such."""
    cl = flux_checklist.load()
    broken = flux_checklist.Checklist(cl.title, cl.url, cl.commit,
                                      cl.items[:-1] + (flux_checklist.ChecklistItem("x", "s", "t", "", ()),), ())
    assert [i.id for i in broken.items if not i.checks] == ["x"]


def test_catalogue_maps_every_item():
    specs = [s for s in discover()[0] if s.module.startswith("checks.")]
    doc = catalogue_markdown(specs)
    table = doc[doc.index("## Flux security checklist coverage"):]
    for n, item in enumerate(flux_checklist.load().items, 1):
        row = next(line for line in table.splitlines() if line.startswith(f"| {n} |"))
        assert item.title in row and all(f"`{c}`" in row for c in item.checks), row
    assert "not registered" not in table


def test_homelab_reads_as_the_checklist(homelab):
    rows = checklist.checklist_view(homelab)
    assert [r["id"] for r in rows] == [i.id for i in flux_checklist.load().items]
    by_id = {r["id"]: r for r in rows}
    assert not [r["id"] for r in rows if r["verdict"] == "not_run"]
    for item in ("tenant-service-accounts", "no-cross-namespace-refs", "default-service-account", "multi-tenant-mode"):
        assert by_id[item]["verdict"] == "not_applicable"
        assert by_id[item]["reason"].startswith("not applicable: single tenant (evidence:")
    # the deliberate gaps of the example repo (examples/homelab/README.md)
    for item in ("read-only-git-credentials", "workload-identity", "github-app-auth", "immutable-tags",
                 "no-helmrepository-oci", "distribution-registry", "push-credentials-separated",
                 "push-branch-isolation", "tag-filtering", "no-plaintext-secrets"):
        assert by_id[item]["verdict"] == "fail", (item, by_id[item]["verdict"])
        f = by_id[item]["findings"][0]
        assert f["path"] and f["line"], f
    for item in ("flux-controller-network-policies", "network-policies-not-disabled", "no-insecure-sources",
                 "credentials-helmreleases", "credentials-configmaps"):
        assert by_id[item]["verdict"] == "pass", (item, by_id[item]["verdict"])
    tags = by_id["immutable-tags"]["findings"]
    assert {f["check"] for f in tags} == {"gitops.oci-immutable-ref", "gitops.chart-version-pinned"}


def test_narrowed_items_take_only_their_places(tmp_path):
    """The credential items show the findings of their own places, not the whole check's."""
    repo = tmp_path / "r"
    (repo / "apps").mkdir(parents=True)
    (repo / "apps" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\n"
                                           "data: {DB_PASSWORD: Zq7Vt3pLm9wKx2}\n")
    rows = {r["id"]: r for r in checklist.checklist_view(scan(str(repo)).report)}
    assert rows["credentials-configmaps"]["verdict"] == "fail"
    assert rows["credentials-configmaps"]["findings"][0]["path"] == "apps/cm.yaml"
    for other in ("credentials-helmreleases", "credentials-kustomizations", "credentials-kustomize-overlay",
                  "no-plaintext-secrets-in-overlays"):
        assert rows[other]["verdict"] == "pass" and not rows[other]["findings"], other


def test_markdown_shows_the_checklist(homelab):
    out = markdown.render(homelab, RenderOptions())
    section = out[out.index("<details><summary>Flux security checklist"):]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| #")]
    assert len(rows) == 28
    assert "Push branch isolation | ❌ fail" in section and "➖ n/a" in section
    assert "kubernetes/flux/meta/image-automation.yaml:101" in section
    assert len(out) < markdown.LIMIT
    assert "Flux security checklist" not in markdown.render(homelab, RenderOptions(checklist=False))


def test_markdown_without_checklist_checks_has_no_section():
    report = dict(minimal_report(), checks=[{"id": "nodes.talos-api-access", "title": "t", "layer": "nodes",
                                             "severity": "high", "status": "pass", "score": 100.0}])
    assert "Flux security checklist" not in markdown.render(as_model(report), RenderOptions())


def _tenancy_failures(model) -> list:
    report = model.to_json_dict()
    return [(c["id"], f["subject"]) for c in report["checks"] if c["id"] in TENANCY
            for f in c["findings"] if f["status"] != "pass" or not f["evidence"].get("not_applicable")]


def test_single_tenant_home_lab_gets_not_applicable(homelab):
    assert _tenancy_failures(homelab) == []
    for c in homelab.to_json_dict()["checks"]:
        if c["id"] in TENANCY:
            (f,) = c["findings"]
            assert f["subject"] == "tenancy" and f["evidence"]["tenancy"]["multi_tenant"] is False
            assert f["location"]["path"] == "kubernetes/apps/flux-system/flux-instance/app/helm-values.yaml"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not present")
@pytest.mark.parametrize("repo", sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else [])
def test_corpus_repos_are_single_tenant(repo):
    report = scan(str(CORPUS / repo), only=list(TENANCY)).report
    assert _tenancy_failures(report) == []
