"""sourceRefs resolved as Flux resolves them: this repository, an ExternalArtifact generated from it,
or a gap naming any other source."""
from __future__ import annotations

from scanner.core.model import Gap
from scanner.inventory.roots import Root
from scanner.inventory.sources import SourceResolver, SourceTree, copy_into

FILES = frozenset({
    "kubernetes/apps/base/media/app/kustomization.yaml", "kubernetes/apps/base/media/app/helmrelease.yaml",
    "kubernetes/apps/base/media/ks.yaml", "kubernetes/components/common/kustomization.yaml", "README.md",
})


def _resolver(objects: dict, root: Root | None = None) -> SourceResolver:
    root = root or Root("cluster", "kubernetes/clusters/c0", "FluxInstance", source_kind="OCIRepository",
                        source_url="oci://ghcr.io/example/manifests", prefix="kubernetes")

    def lookup(kind, ns, name):
        return objects.get((kind, ns, name))

    def objects_of(kind, ns):
        return [v for (k, n, _), v in objects.items() if k == kind and n == ns]

    return SourceResolver(root, FILES, lookup, objects_of)


def test_the_root_source_and_same_url_sources_are_this_repository():
    r = _resolver({("OCIRepository", "flux-system", "mirror"): {"spec": {"url": "oci://ghcr.io/example/manifests"}}})
    tree = r.resolve({"kind": "OCIRepository", "name": "flux-system"}, "flux-system", "ks.yaml")
    assert isinstance(tree, SourceTree) and tree.prefix == "kubernetes"
    assert tree.repo_path("./apps/base/media/app") == "kubernetes/apps/base/media/app"
    assert r.resolve({"kind": "OCIRepository", "name": "mirror"}, "flux-system", "ks.yaml") is tree


def test_another_repository_is_a_gap_never_built_from_local_files():
    r = _resolver({("GitRepository", "flux-system", "other"): {"spec": {"url": "https://github.com/other/repo"}}})
    gap = r.resolve({"kind": "GitRepository", "name": "other"}, "flux-system", "apps/ks.yaml", 7)
    assert isinstance(gap, Gap) and (gap.code, gap.subject, gap.path, gap.line) == (
        "external-source", "GitRepository/flux-system/other", "apps/ks.yaml", 7)
    assert isinstance(r.resolve({"kind": "Bucket", "name": "b"}, "ns", "x.yaml"), Gap)
    assert isinstance(r.resolve({"kind": "GitRepository", "name": "undeclared"}, "ns", "x.yaml"), Gap)


def test_external_artifact_is_built_from_exactly_the_files_its_copy_rules_stage():
    gen = {"spec": {"sources": [{"alias": "repo", "kind": "OCIRepository", "name": "flux-system"}],
                    "artifacts": [{"name": "media", "copy": [
                        {"from": "@repo/apps/base/media/app/", "to": "@artifact/apps/base/media/app/"}]}]}}
    r = _resolver({("ArtifactGenerator", "flux-system", "gen"): gen})
    tree = r.resolve({"kind": "ExternalArtifact", "name": "media", "namespace": "flux-system"}, "media", "ks.yaml")
    assert isinstance(tree, SourceTree) and tree.prefix is None
    # cp -r semantics (source-watcher): a directory is copied as a sub-directory of the destination
    assert dict(tree.files) == {
        "apps/base/media/app/app/kustomization.yaml": "kubernetes/apps/base/media/app/kustomization.yaml",
        "apps/base/media/app/app/helmrelease.yaml": "kubernetes/apps/base/media/app/helmrelease.yaml"}
    missing = r.resolve({"kind": "ExternalArtifact", "name": "nope", "namespace": "flux-system"}, "media", "ks.yaml")
    assert isinstance(missing, Gap) and missing.code == "artifact-unknown"


def test_copy_rules_globs_files_and_failures():
    tree = SourceTree("repo:", tuple(sorted((f, f) for f in FILES)), prefix="")
    staged: dict[str, str] = {}
    assert copy_into(staged, {"from": "@repo/kubernetes/apps/base/media/**", "to": "@artifact/x/"}, {"repo": tree}) is None
    assert sorted(staged) == ["x/app/helmrelease.yaml", "x/app/kustomization.yaml", "x/ks.yaml"]
    staged = {}
    assert copy_into(staged, {"from": "@repo/README.md", "to": "@artifact/docs/"}, {"repo": tree}) is None
    assert staged == {"docs/README.md": "README.md"}
    staged = {}
    assert copy_into(staged, {"from": "@repo/README.md", "to": "@artifact/renamed.md"}, {"repo": tree}) is None
    assert staged == {"renamed.md": "README.md"}
    assert "does not exist" in copy_into({}, {"from": "@repo/nope/", "to": "@artifact/"}, {"repo": tree})
    assert copy_into({}, {"from": "@repo/nope/", "to": "@artifact/", "optional": True}, {"repo": tree}) is None
    assert "leaves the artifact" in copy_into({}, {"from": "@repo/README.md", "to": "@artifact/../x"}, {"repo": tree})
    assert "alias" in copy_into({}, {"from": "@other/README.md", "to": "@artifact/"}, {"repo": tree})
