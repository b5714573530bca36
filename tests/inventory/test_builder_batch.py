"""Many builds in one kustomize process give exactly what separate builds give."""
from __future__ import annotations

import pytest

from scanner.inventory.builder import HOW_KUSTOMIZE, BuildRequest, FluxOverlay
from scanner.inventory.builder import runner as runner_module
from tests.support.builder import by_id, canonical, engine, make_repo
from tests.support.flux_requests import flux_requests, repo_files
from tests.support.paths import TARGET

SHARED = {
    "components/shared/kustomization.yaml": """
        apiVersion: kustomize.config.k8s.io/v1alpha1
        kind: Component
        resources: [cm.yaml]
        """,
    "components/shared/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {a: b}\n",
}


def _app(name: str, extra: str = "") -> dict[str, str]:
    return {
        f"apps/{name}/kustomization.yaml": f"resources: [deploy.yaml]\ncomponents: [../../components/shared]\n{extra}",
        f"apps/{name}/deploy.yaml": f"""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {{name: {name}}}
            spec:
              template:
                spec:
                  containers: [{{name: c, image: busybox}}]
            """,
    }


def _singles(root, files, requests):
    return [engine(root, files).build_many([r])[0] for r in requests]


def test_a_shared_component_in_two_namespaces_is_attributed_to_each_request(tmp_path):
    root, files = make_repo(tmp_path, {**SHARED, **_app("one"), **_app("two")})
    requests = [BuildRequest("one", "apps/one", FluxOverlay(target_namespace="ns1")),
                BuildRequest("two", "apps/two", FluxOverlay(target_namespace="ns2")),
                BuildRequest("one-again", "apps/one", FluxOverlay(target_namespace="ns3", name_prefix="x-"))]
    eng = engine(root, files, workers=1)
    one, two, again = eng.build_many(requests)
    assert eng.runner.processes == 1  # all three in one kustomize process
    assert set(by_id(one)) == {("ConfigMap", "ns1", "shared"), ("Deployment", "ns1", "one")}
    assert set(by_id(two)) == {("ConfigMap", "ns2", "shared"), ("Deployment", "ns2", "two")}
    assert set(by_id(again)) == {("ConfigMap", "ns3", "x-shared"), ("Deployment", "ns3", "x-one")}
    assert by_id(two)[("ConfigMap", "ns2", "shared")].source_path == "components/shared/cm.yaml"
    assert [canonical(o) for o in (one, two, again)] == [canonical(o) for o in _singles(root, files, requests)]


def test_an_id_clash_falls_back_and_every_request_is_still_right(tmp_path):
    root, files = make_repo(tmp_path, {
        "a/kustomization.yaml": "resources: [role.yaml]\n",
        "a/role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: x-reader}\nrules: []\n",
        # The prefix makes the same id; the batch prediction does not see kustomization prefixes.
        "b/kustomization.yaml": "namePrefix: x-\nresources: [role.yaml]\n",
        "b/role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules: []\n",
        "c/kustomization.yaml": "resources: [cm.yaml]\n",
        "c/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    })
    requests = [BuildRequest(k, k) for k in ("a", "b", "c")]
    eng = engine(root, files, workers=1)
    outs = eng.build_many(requests)
    assert [o.how for o in outs] == [HOW_KUSTOMIZE] * 3
    assert [set(by_id(o)) for o in outs] == [{("ClusterRole", None, "x-reader")}, {("ClusterRole", None, "x-reader")},
                                             {("ConfigMap", None, "c")}]
    assert eng.runner.processes == 3  # the clashing batch, the batch without b, b alone
    assert [canonical(o) for o in outs] == [canonical(o) for o in _singles(root, files, requests)]


def test_two_requests_that_clash_with_each_other_are_each_built_alone(tmp_path):
    # The failure names one of two requests: the other is built alone at once, then the named one
    # (deferring both would retry the same pair forever). The prefix hides the clash from the
    # batch prediction.
    root, files = make_repo(tmp_path, {
        "a/kustomization.yaml": "resources: [role.yaml]\n",
        "a/role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: x-reader}\nrules: []\n",
        "b/kustomization.yaml": "namePrefix: x-\nresources: [role.yaml]\n",
        "b/role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules: [{verbs: [get]}]\n",
    })
    requests = [BuildRequest(k, k) for k in ("a", "b")]
    eng = engine(root, files, workers=1)
    outs = eng.build_many(requests)
    assert [o.how for o in outs] == [HOW_KUSTOMIZE] * 2
    assert [o.objects[0].body["rules"] for o in outs] == [[], [{"verbs": ["get"]}]]
    assert eng.runner.processes == 3  # the pair, then each alone


def test_a_request_with_configurations_is_built_alone(tmp_path):
    # kustomize merges every request's transformer configurations into a batch's top, where the
    # name-reference fix-up runs: b's nameReference entry would rename a's reference.
    hr = """
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata: {name: app}
        spec: {valuesFrom: [{kind: ConfigMap, name: values}]}
        """
    gen = "configMapGenerator:\n  - name: values\n    literals: [a=b]\n"
    root, files = make_repo(tmp_path, {
        "a/kustomization.yaml": "resources: [hr.yaml]\n" + gen,
        "a/hr.yaml": hr,
        "b/kustomization.yaml": "resources: [hr.yaml]\nconfigurations: [config.yaml]\n" + gen,
        "b/hr.yaml": hr,
        "b/config.yaml": """
            nameReference:
              - kind: ConfigMap
                version: v1
                fieldSpecs: [{path: spec/valuesFrom/name, kind: HelmRelease}]
            """,
    })
    requests = [BuildRequest("a", "a", FluxOverlay(target_namespace="a")),
                BuildRequest("b", "b", FluxOverlay(target_namespace="b"))]
    a, b = engine(root, files, workers=1).build_many(requests)

    def ref(outcome):
        return next(o.body for o in outcome.objects if o.body["kind"] == "HelmRelease")["spec"]["valuesFrom"][0]["name"]

    assert ref(a) == "values"
    assert ref(b).startswith("values-") and ref(b) != "values"
    assert [canonical(o) for o in (a, b)] == [canonical(o) for o in _singles(root, files, requests)]


def test_a_reference_renamed_by_another_request_of_the_batch_is_rebuilt_alone(tmp_path, monkeypatch):
    # In one kustomize build, kustomize rewrites b's reference to `settings` to the hashed name of
    # the ConfigMap that a generates in the same namespace; built alone (as Flux does), b keeps it.
    root, files = make_repo(tmp_path, {
        "a/kustomization.yaml": "configMapGenerator:\n  - name: settings\n    literals: [A=1]\n",
        "b/kustomization.yaml": "resources: [deploy.yaml]\n",
        "b/deploy.yaml": """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              template:
                spec:
                  containers: [{name: c, image: busybox, envFrom: [{configMapRef: {name: settings}}]}]
            """,
    })
    requests = [BuildRequest("a", "a", FluxOverlay(target_namespace="shared")),
                BuildRequest("b", "b", FluxOverlay(target_namespace="shared"))]

    def ref(outcome):
        dep = by_id(outcome)[("Deployment", "shared", "web")].body
        return dep["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"]

    eng = engine(root, files, workers=1)
    _a, b = eng.build_many(requests)
    assert ref(b) == "settings"
    assert eng.runner.processes == 2

    # Without the check the batch gives the wrong answer: the check is what keeps it exact.
    monkeypatch.setattr(runner_module, "_cross_renamed", lambda plans, results: [])
    _a, b = engine(root, files, workers=1).build_many(requests)
    assert ref(b).startswith("settings-")


def test_placeholders_shared_by_many_apps_do_not_split_the_batch(tmp_path, monkeypatch):
    # Each app includes a component whose cluster-scoped PersistentVolume is named with a Flux
    # placeholder: before substitution every app emits the same id, which kustomize refuses in one
    # build. The placeholders are made request-unique in the scratch copy and restored after.
    component = {
        "components/volsync/kustomization.yaml": """
            apiVersion: kustomize.config.k8s.io/v1alpha1
            kind: Component
            resources: [pv.yaml, src.yaml]
            """,
        "components/volsync/pv.yaml": """
            apiVersion: v1
            kind: PersistentVolume
            metadata: {name: "volsync-${APP}-pv", labels: {app: "${APP}"}}
            spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], nfs: {server: "${NAS}", path: /x}}
            """,
        "components/volsync/src.yaml": """
            apiVersion: volsync.backube/v1alpha1
            kind: ReplicationSource
            metadata: {name: "${APP}"}
            spec: {sourcePVC: "${APP}"}
            """,
    }
    apps = {}
    for name in ("one", "two", "three"):
        apps.update(_app(name))
    # An app whose generator reads placeholder text keeps it as written (the hash covers it).
    apps["apps/gen/kustomization.yaml"] = ("components: [../../components/volsync]\n"
                                           "configMapGenerator:\n  - name: cfg\n    literals:\n      - HOST=${APP}.example.com\n")
    for name in ("one", "two", "three"):
        apps[f"apps/{name}/kustomization.yaml"] = (
            "resources: [deploy.yaml]\ncomponents: [../../components/volsync]\n")
    root, files = make_repo(tmp_path, {**component, **apps})
    requests = [BuildRequest(n, f"apps/{n}", FluxOverlay(target_namespace=n)) for n in ("one", "two", "three", "gen")]
    eng = engine(root, files, workers=1)
    outs = eng.build_many(requests)
    assert [o.how for o in outs] == [HOW_KUSTOMIZE] * 4
    # One process: the three apps' placeholders are made unique; the generator app keeps its own
    # as written (its hash covers them), which leaves one PersistentVolume id written as is.
    assert eng.runner.processes == 1
    assert [p.tokenise for p in (eng.planner.plan(r) for r in requests)] == [False] * 4  # fresh plans
    from scanner.inventory.builder.batching import placeholders_may_be_tokenised
    assert [placeholders_may_be_tokenised(eng.planner.plan(r), eng.repo) for r in requests] == [True] * 3 + [False]
    for o in outs[:3]:
        assert ("PersistentVolume", None, "volsync-${APP}-pv") in by_id(o)
        pv = by_id(o)[("PersistentVolume", None, "volsync-${APP}-pv")].body
        assert pv["metadata"]["labels"] == {"app": "${APP}"} and pv["spec"]["nfs"]["server"] == "${NAS}"
    gen = next(o for o in outs[3].objects if o.generated_by)
    assert gen.body["data"] == {"HOST": "${APP}.example.com"}
    assert [canonical(o) for o in outs] == [canonical(o) for o in _singles(root, files, requests)]
    assert not any("_P" in c for o in outs for c in canonical(o))  # no token left anywhere

    # Without the tokens the shared PersistentVolume id splits the batch.
    from scanner.inventory.builder import engine as engine_module
    monkeypatch.setattr(engine_module, "placeholders_may_be_tokenised", lambda plan, repo: False)
    plain = engine(root, files, workers=1)
    assert [canonical(o) for o in plain.build_many(requests)] == [canonical(o) for o in outs]
    assert plain.runner.processes == 4


@pytest.mark.skipif(not TARGET.is_dir(), reason="the shared corpus is not present")
def test_batches_equal_single_builds_on_the_target_repo():
    root = str(TARGET)
    files = repo_files(root)
    requests = flux_requests(root, files)
    eng = engine(root, files, "binary")
    batched = eng.build_many(requests)
    assert eng.runner.processes < len(requests) / 10
    singles = _singles(root, files, requests)
    assert [(o.how, canonical(o)) for o in batched] == [(o.how, canonical(o)) for o in singles]
