"""kustomize's namespace transformer renames every Namespace object to the kustomization's
`namespace:` (a fixture namespace.yaml named `_` is deployed as that namespace): native and binary agree."""
from __future__ import annotations

from scanner.inventory.builder import BuildEngine, BuildRequest, BuildSettings, FluxOverlay


def _objects(root, files, mode):
    engine = BuildEngine(str(root), set(files), BuildSettings(mode=mode))
    [out] = engine.build_many([BuildRequest(key="k", path="apps", overlay=FluxOverlay())])
    return out.how, sorted((o.body["kind"], o.body["metadata"].get("namespace"), o.body["metadata"]["name"])
                           for o in out.objects)


def test_a_namespace_object_takes_the_kustomization_namespace(tmp_path):
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "kustomization.yaml").write_text("namespace: media\nresources: [./namespace.yaml, ./cm.yaml]\n")
    (tmp_path / "apps" / "namespace.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: _}\n")
    (tmp_path / "apps" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n")
    files = {"apps/kustomization.yaml", "apps/namespace.yaml", "apps/cm.yaml"}
    want = [("ConfigMap", "media", "c"), ("Namespace", None, "media")]
    assert _objects(tmp_path, files, "binary") == ("kustomize", want)
    assert _objects(tmp_path, files, "native") == ("native", want)
