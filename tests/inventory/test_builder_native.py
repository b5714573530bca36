"""The native builder claims exactness only where it has it: wherever it builds, native and the real
kustomize give identical objects (kind, namespace, name, content, source file) in identical order,
and read the same files. Checked on every kustomization and every Flux Kustomization document
as written, and on every build the scanner's Flux walker makes (each child with the overlay its
parent's build gave it), in the example repo, the check examples, a fixture repo written here,
and the corpus when present (tests/inventory/test_builder_native_shapes.py holds one fixture per
shape). What it does not do exactly goes to kustomize in auto mode and is a gap in native mode."""
from __future__ import annotations

import pytest

from scanner.inventory.builder import HOW_FAILED, HOW_KUSTOMIZE, HOW_NATIVE, BuildRequest, FluxOverlay
from scanner.inventory.builder.native import UNEXPECTED
from tests.support.builder import build, engine, make_repo
from tests.support.flux_requests import flux_requests, kustomization_dirs, repo_files
from tests.support.paths import CORPUS, EXAMPLE, ROOT
from tests.support.walk_requests import outcome_view, walked_differential

CORPUS_REPOS = sorted(p.name for p in CORPUS.glob("*__*")) if CORPUS.is_dir() else []

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
    """(native builds, mismatches) over every kustomization and Flux Kustomization document."""
    files = repo_files(root)
    requests = flux_requests(root, files) + [BuildRequest(f"k:{d}", d) for d in kustomization_dirs(files)]
    native = engine(root, files, "native").build_many(requests)
    picked = [i for i, o in enumerate(native) if o.how == HOW_NATIVE]
    binary = engine(root, files, "binary").build_many([requests[i] for i in picked])
    bad = [f"{requests[i].path}: {b.how} {[e.message for e in b.errors[:1]]}" for i, b in zip(picked, binary)
           if outcome_view(native[i]) != outcome_view(b) or native[i].files_used != b.files_used]
    bad += [f"{r.path}: {g.message}" for r, o in zip(requests, native) for g in o.gaps if UNEXPECTED in g.message]
    return len(picked), bad


def test_native_equals_kustomize_on_fixtures_examples_and_check_examples(tmp_path):
    root, _files = make_repo(tmp_path / "fixture", FIXTURE)
    roots = [root, str(EXAMPLE)]
    roots += sorted(str(p) for p in (ROOT / "checks" / "examples").glob("*/*") if p.is_dir())
    claimed = 0
    for r in roots:
        n, bad = _differential(r)
        assert bad == [], (r, bad)
        claimed += n
    assert claimed >= 30  # the native builder is exercised, not vacuously exact


def test_native_equals_kustomize_on_every_build_the_walker_makes_in_the_example():
    got = walked_differential(str(EXAMPLE))
    assert got.mismatches == []
    assert got.native >= 0.9 * got.builds > 0


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is not present")
@pytest.mark.parametrize("repo", CORPUS_REPOS)
def test_native_equals_kustomize_on_the_corpus(repo):
    n, bad = _differential(str(CORPUS / repo))
    assert bad == []
    assert n > 0
    got = walked_differential(str(CORPUS / repo))
    assert got.mismatches == []
    assert got.native > 0


WIDGET = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {a: 0}\n"


def _widget_patched(name: str, *patch_lines: str) -> dict[str, str]:
    """A kustomization `name` giving one Widget one targeted patch, written as these lines."""
    patch = "".join(f"      {line}\n" for line in patch_lines)
    return {f"{name}/kustomization.yaml": "resources: [w.yaml]\npatches:\n  - target: {kind: Widget}\n"
                                          "    patch: |\n" + patch,
            f"{name}/w.yaml": WIDGET}


DECLINED = {
    # A List kind: kustomize inlines its items.
    "list/kustomization.yaml": "resources: [l.yaml]\n",
    "list/l.yaml": "apiVersion: v1\nkind: List\nitems: []\n",
    # Values the readers or kustomize's JSON round trip change: a float, a sexagesimal number, a date.
    "float/kustomization.yaml": "resources: [f.yaml]\n",
    "float/f.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: f}\ndata: {}\nspec: {t: 1.0}\n",
    "sexagesimal/kustomization.yaml": "resources: [s.yaml]\n",
    "sexagesimal/s.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\nspec: {t: 1:30}\n",
    "date/kustomization.yaml": "resources: [d.yaml]\n",
    "date/d.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: {when: 2024-01-01}\n",
    # A custom tag.
    "tag/kustomization.yaml": "resources: [t.yaml]\n",
    "tag/t.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: t}\ndata: {a: !custom x}\n",
    # A folded block keeping its trailing blank lines: go-yaml keeps one line break more than libyaml.
    "folded/kustomization.yaml": "resources: [f.yaml]\n",
    "folded/f.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: f}\ndata:\n  a: >+\n    kept\n\n  b: c\n",
    # Label field specs of one's own, and images where an object has containers.
    "labels/kustomization.yaml": "resources: [cm.yaml]\nlabels: [{pairs: {app: x}, fields: [{path: data}]}]\n",
    "images/kustomization.yaml": "resources: [../schema/d.yaml]\nimages: [{name: busybox, newTag: '1.37'}]\n",
    "labels/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n",
    # A strategic merge into a Kubernetes kind that holds lists (kustomize merges by its schema).
    "schema/kustomization.yaml": """
        resources: [d.yaml]
        patches:
          - patch: |
              apiVersion: apps/v1
              kind: Deployment
              metadata: {name: d}
              spec: {replicas: 2}
        """,
    "schema/d.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: d}
        spec: {template: {spec: {containers: [{name: c, image: busybox}]}}}
        """,
    # $patch directives, a JSON patch operation the native builder does not do.
    "directive/kustomization.yaml": """
        resources: [w.yaml]
        patches:
          - patch: |
              apiVersion: example.com/v1
              kind: Widget
              metadata: {name: w}
              spec: {$patch: replace, a: 1}
        """,
    "directive/w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {a: 0, b: 1}\n",
    **_widget_patched("move", '[{"op": "move", "from": "/spec/a", "path": "/spec/c"}]'),
    # A JSON patch written in YAML is read as YAML 1.1 by kustomize: `on` is a boolean there,
    **_widget_patched("yaml11", "- {op: add, path: /spec/b, value: on}"),
    # `y` and `N` too, as values...
    **_widget_patched("yaml11y", "- {op: add, path: /spec/b, value: [y, N]}"),
    # ... and as keys (`true` to kustomize).
    **_widget_patched("yaml11key", "- {op: add, path: /spec/b, value: {y: 1}}"),
    # goyaml.v2 lets a `<<` written after a key override it.
    **_widget_patched("yaml11merge", "- {op: add, path: /spec/b, value: {a: 1, <<: {a: 2}}}"),
    # kustomize reads the first document of a JSON patch in YAML only (here an empty one: no operation).
    **_widget_patched("firstdoc", "---", "---", "- {op: add, path: /spec/b, value: x}"),
    # A JSON string kustomize prints raw and reads back otherwise (NEL becomes a space).
    **_widget_patched("nel", '[{"op": "add", "path": "/spec/b", "value": "a\\u0085b"}]'),
    # A lone surrogate, U+FFFD to Go.
    **_widget_patched("surrogate", '[{"op": "add", "path": "/spec/b", "value": "\\ud800"}]'),
    # A `<<` key in JSON: a merge key once kustomize prints it.
    **_widget_patched("jsonmerge", '[{"op": "add", "path": "/spec/b", "value": {"<<": {"a": 1}}}]'),
    # A generator merging into another object.
    "merge/kustomization.yaml": "configMapGenerator:\n  - name: g\n    behavior: merge\n    literals: [a=b]\n",
    # Keys goyaml.v2's writer orders in no one way (1a < 9 < 10 < 1a: Go's unstable sort picks one
    # order), and a key beyond ASCII (Go's and Python's Unicode tables differ in age).
    "keycycle/kustomization.yaml": "resources: [c.yaml]\n",
    "keycycle/c.yaml": 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {"1a": x, "9": x, "10": x}\n',
    "unicodekey/kustomization.yaml": "resources: [c.yaml]\n",
    "unicodekey/c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {é: x, z: x}\n",
    # Nesting deeper than the native builder walks.
    "deep/kustomization.yaml": "resources: [d.yaml]\n",
    "deep/d.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\nspec: " + "[" * 150 + "]" * 150 + "\n",
    # A Kubernetes kind whose scope is not in the table, under a namespace transformer.
    "scope/kustomization.yaml": "namespace: x\nresources: [s.yaml]\n",
    "scope/s.yaml": "apiVersion: storage.k8s.io/v2\nkind: Thing\nmetadata: {name: s}\n",
}


def test_native_declines_what_it_cannot_do_exactly(tmp_path):
    root, files = make_repo(tmp_path, {**FIXTURE, **DECLINED})
    media = build(root, files, "apps/media/app", FluxOverlay(target_namespace="media"), mode="native")
    assert media.how == HOW_NATIVE
    issuer = next(o for o in media.objects if o.body["kind"] == "ClusterIssuer")
    assert issuer.body["metadata"]["namespace"] == "media"  # as kustomize does
    for path in sorted({k.split("/")[0] for k in DECLINED}):
        out = build(root, files, path, mode="native")
        assert out.how == HOW_FAILED and out.gaps[-1].code == "native-unsupported", path
        auto = build(root, files, path, mode="auto")
        assert auto.how in (HOW_KUSTOMIZE, HOW_FAILED), path
        assert auto.how == HOW_KUSTOMIZE or path == "merge", (path, auto.errors)
    prefixed = build(root, files, "apps/media/app", FluxOverlay(name_prefix="p-"), mode="native")
    assert prefixed.how == HOW_FAILED
