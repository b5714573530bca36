"""Flux roots: one per cluster, never a templated or missing sync path taken literally."""
from __future__ import annotations

from scanner.core.model import Document
from scanner.inventory.roots import cluster_names, find_roots, normalise_url, resolve_prefix


def _doc(path: str, body: dict, line: int = 1) -> Document:
    return Document(path, line, 0, body)


def _instance(path: str, sync_path: str, kind: str = "GitRepository", url: str = "https://github.com/example/ops") -> Document:
    return _doc(path, {"apiVersion": "fluxcd.controlplane.io/v1", "kind": "FluxInstance",
                       "metadata": {"name": "flux", "namespace": "flux-system"},
                       "spec": {"sync": {"kind": kind, "url": url, "path": sync_path}}})


DIRS = {"", "kubernetes", "kubernetes/main", "kubernetes/main/flux", "kubernetes/main/flux/cluster",
        "kubernetes/utility", "kubernetes/utility/flux", "kubernetes/utility/flux/cluster", "archive", "archive/old"}


def test_two_clusters_get_two_roots_with_distinct_names():
    docs = [_instance("kubernetes/main/flux/instance.yaml", "kubernetes/main/flux/cluster"),
            _instance("kubernetes/utility/flux/instance.yaml", "./kubernetes/utility/flux/cluster")]
    found = find_roots(docs, DIRS)
    assert [(r.name, r.path, r.kind) for r in found.roots] == [
        ("main", "kubernetes/main/flux/cluster", "FluxInstance"),
        ("utility", "kubernetes/utility/flux/cluster", "FluxInstance")]
    assert found.gaps == []


def test_a_templated_sync_path_is_a_gap_not_a_root():
    found = find_roots([_instance("kubernetes/flux/instance.yaml", "${CLUSTER_SYNC_PATH}")], DIRS)
    assert found.roots == []
    [gap] = found.gaps
    assert (gap.code, gap.path, gap.subject) == ("root-unresolved", "kubernetes/flux/instance.yaml", "${CLUSTER_SYNC_PATH}")
    assert "--root" in gap.message


def test_a_missing_sync_path_is_a_gap():
    found = find_roots([_instance("kubernetes/flux/instance.yaml", "clusters/nowhere")], DIRS)
    assert found.roots == [] and [g.code for g in found.gaps] == ["root-unresolved"]


def test_a_sync_of_another_repository_is_a_gap_when_the_remote_is_known():
    doc = _instance("kubernetes/flux/instance.yaml", "kubernetes/main/flux/cluster", url="https://github.com/other/repo")
    found = find_roots([doc], DIRS, repo_url="https://x-access-token:t@github.com/example/ops.git")
    assert found.roots == [] and [g.code for g in found.gaps] == ["root-other-repository"]
    same = find_roots([_instance("a.yaml", "kubernetes/main/flux/cluster")], DIRS, repo_url="git@github.com:example/ops.git")
    assert [r.path for r in same.roots] == ["kubernetes/main/flux/cluster"]


def test_explicit_roots_replace_discovery():
    docs = [_instance("kubernetes/flux/instance.yaml", "${CLUSTER_SYNC_PATH}")]
    found = find_roots(docs, DIRS, explicit=["kubernetes/main/flux/cluster", "does/not/exist"])
    assert [r.path for r in found.roots] == ["kubernetes/main/flux/cluster"]
    assert [g.code for g in found.gaps] == ["root-not-found"]


def test_archived_entry_points_are_ignored_and_no_root_means_the_repository_root():
    found = find_roots([_instance("archive/old/instance.yaml", "kubernetes/main/flux/cluster")], DIRS)
    [root] = found.roots
    assert root.implicit and root.path == "" and found.gaps == []


def test_oci_artifact_pushed_from_a_sub_folder_resolves_its_prefix():
    dirs = {"", "kubernetes", "kubernetes/clusters", "kubernetes/clusters/cluster-00"}
    assert resolve_prefix(dirs, "./clusters/cluster-00") == "kubernetes"
    assert resolve_prefix(dirs, "kubernetes/clusters/cluster-00") == ""
    assert resolve_prefix(dirs, "clusters/other") is None
    found = find_roots([_instance("kubernetes/flux.yaml", "./clusters/cluster-00", kind="OCIRepository",
                                  url="oci://ghcr.io/example/manifests")], dirs)
    [root] = found.roots
    assert (root.path, root.prefix, root.source_kind) == ("kubernetes/clusters/cluster-00", "kubernetes", "OCIRepository")


def test_gotk_sync_and_values_forms_dedupe_to_one_root():
    gotk = _doc("kubernetes/main/flux/cluster/gotk-sync.yaml", {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "flux-system", "namespace": "flux-system"},
        "spec": {"path": "./kubernetes/main/flux/cluster", "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}})
    values = _doc("kubernetes/main/flux/values.yaml", {"instance": {"sync": {"path": "kubernetes/main/flux/cluster"}}})
    found = find_roots([gotk, values, _instance("kubernetes/main/flux/instance.yaml", "kubernetes/main/flux/cluster")], DIRS)
    [root] = found.roots
    assert root.kind == "FluxInstance"


def test_names_and_urls():
    assert cluster_names(["clusters/staging", "clusters/production"]) == ["staging", "production"]
    assert cluster_names(["k/a/flux", "k/b/flux"]) == ["a", "b"]
    assert cluster_names(["x"]) == ["cluster"]
    assert normalise_url("https://user:tok@GitHub.com/Example/Ops.git?ref=main") == "github.com/example/ops"
    assert normalise_url("ssh://git@github.com/example/ops") == "github.com/example/ops"
