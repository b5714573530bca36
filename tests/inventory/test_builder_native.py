"""The native builder claims exactness only where it has it: native and the real kustomize give
identical objects (kind, namespace, name, content, source file) on every kustomization it accepts,
in the examples, the check examples, fixture repos written here, and the corpus when present."""
from __future__ import annotations

from pathlib import Path

import pytest

from scanner.inventory.builder import HOW_FAILED, HOW_NATIVE, BuildRequest, FluxOverlay
from tests.support.builder import build, canonical, engine, make_repo
from tests.support.flux_requests import flux_requests, kustomization_dirs, repo_files

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"

FIXTURE = {
    "apps/kustomization.yaml": "resources: [media, infra, plain]\n",
    "apps/media/kustomization.yaml": "namespace: media\nresources: [app, ks.yaml]\n",
    "apps/media/ks.yaml": """
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {name: media, namespace: flux-system}
        spec: {path: ./apps/media/app, targetNamespace: media, sourceRef: {kind: GitRepository, name: flux-system}}
        """,
    "apps/media/app/kustomization.yaml": "resources: [hr.yaml, pvc.yaml, issuer.yaml]\n",
    "apps/media/app/hr.yaml": """
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata: {name: plex, namespace: other}
        spec:
          values: {port: 32400, enabled: true, host: "plex.example.com", note: "0.0", empty: null}
        """,
    "apps/media/app/pvc.yaml": "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n",
    # A cluster-scoped custom resource: kustomize does not know its scope and sets a namespace.
    "apps/media/app/issuer.yaml": "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: le}\n",
    "apps/infra/kustomization.yaml": "namespace: infra\nresources: [ns.yaml, crb.yaml]\n",
    "apps/infra/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: infra}\n",
    "apps/infra/crb.yaml": """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata: {name: admin}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
        subjects: [{kind: ServiceAccount, name: default, namespace: infra}]
        """,
    "apps/plain/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {when: 2024-01-01, n: yes}\n",
    "apps/plain/sub/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
}


def _differential(root: str) -> tuple[int, list[str]]:
    """(native builds, mismatches) over every kustomization and Flux Kustomization of a repo."""
    files = repo_files(root)
    requests = flux_requests(root, files) + [BuildRequest(f"k:{d}", d) for d in kustomization_dirs(files)]
    native = engine(root, files, "native").build_many(requests)
    picked = [i for i, o in enumerate(native) if o.how == HOW_NATIVE]
    binary = engine(root, files, "binary").build_many([requests[i] for i in picked])
    bad = [f"{requests[i].path}: {b.errors[:1]}" for i, b in zip(picked, binary)
           if canonical(native[i]) != canonical(b) or native[i].files_used != b.files_used]
    return len(picked), bad


def test_native_equals_kustomize_on_fixtures_examples_and_check_examples(tmp_path):
    root, _files = make_repo(tmp_path / "fixture", FIXTURE)
    roots = [root, str(ROOT / "examples")]
    roots += sorted(str(p) for p in (ROOT / "checks" / "examples").glob("*/*") if p.is_dir())
    claimed = 0
    for r in roots:
        n, bad = _differential(r)
        assert bad == [], (r, bad)
        claimed += n
    assert claimed >= 10  # the native builder is exercised, not vacuously exact


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is not present")
@pytest.mark.parametrize("repo", sorted(p.name for p in CORPUS.glob("*__*")) if CORPUS.is_dir() else [])
def test_native_equals_kustomize_on_the_corpus(repo):
    n, bad = _differential(str(CORPUS / repo))
    assert bad == []
    assert n > 0


def test_native_declines_what_it_cannot_do_exactly(tmp_path):
    root, files = make_repo(tmp_path, {
        **FIXTURE,
        "gen/kustomization.yaml": "configMapGenerator:\n  - name: g\n    literals: [a=b]\n",
        "list/kustomization.yaml": "resources: [l.yaml]\n",
        "list/l.yaml": "apiVersion: v1\nkind: List\nitems: []\n",
        "float/kustomization.yaml": "resources: [f.yaml]\n",
        "float/f.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: f}\ndata: {}\nspec: {t: 0.0}\n",
    })
    media = build(root, files, "apps/media/app", FluxOverlay(target_namespace="media"), mode="native")
    assert media.how == HOW_NATIVE
    issuer = next(o for o in media.objects if o.body["kind"] == "ClusterIssuer")
    assert issuer.body["metadata"]["namespace"] == "media"  # as kustomize does
    for path in ("gen", "list", "float", "apps/infra", "apps/plain"):
        out = build(root, files, path, mode="native")
        assert out.how == HOW_FAILED and out.gaps[-1].code == "native-unsupported", path
        auto = build(root, files, path, mode="auto")
        assert auto.how == "kustomize", path
    patched = build(root, files, "apps/media/app", FluxOverlay(name_prefix="p-"), mode="native")
    assert patched.how == HOW_FAILED
