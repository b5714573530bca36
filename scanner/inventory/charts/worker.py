"""The render worker: a child process that renders charts for the scan, one request at a time.

Helm's engine runs in-process in helm-python-sdk and cannot be interrupted or bounded from Python
(engines.md B), so it runs here, under an address-space limit, and the scan kills this process
when a render outlives its time. Protocol: one JSON request per line on stdin, one JSON answer
per line on the original stdout (fd 1 is pointed at stderr so native code cannot corrupt it),
after a first `{"ready": true}` once the Helm library is loaded.

    request: {"engine": "sdk"|"helm", "chart_dir", "chart_key", "values", "name", "namespace",
              "api_versions", "helm_binary", "timeout", "max_output"}
    answer:  {"ok": true, "manifests": {template path: text}, "crds": [{"filename", "data"}]}
             {"ok": false, "code": "helm-render-failed", "error": "..."}
"""
from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
from collections import OrderedDict

_CHARTS: OrderedDict = OrderedDict()  # chart_key -> loaded helm_python.Chart
_MAX_LOADED = 8
_SOURCE = re.compile(r"^# Source: (.+)$", re.M)


def _limit_memory(limit: int) -> None:
    if limit > 0:
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ValueError, OSError):
            pass
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


def _sdk_chart(req: dict):
    import helm_python as helm

    key = req.get("chart_key") or req["chart_dir"]
    chart = _CHARTS.get(key)
    if chart is None:
        chart = helm.Chart.load(req["chart_dir"])
        _CHARTS[key] = chart
        while len(_CHARTS) > _MAX_LOADED:
            _, old = _CHARTS.popitem(last=False)
            old.close()
    else:
        _CHARTS.move_to_end(key)
    return chart


def _render_sdk(req: dict) -> dict:
    import helm_python as helm

    try:
        chart = _sdk_chart(req)
        if req.get("api_versions"):
            # `.Capabilities.APIVersions` of the cluster: an option of the native render call that the
            # Python wrapper does not expose (engines.md B).
            from helm_python import _native

            opts = {"name": req["name"], "namespace": req["namespace"], "revision": 1, "is_install": True,
                    "is_upgrade": False, "api_versions": list(req["api_versions"])}
            manifests = json.loads(_native.call_string("helm_render", chart._raw(),
                                                       json.dumps(req.get("values") or {}), json.dumps(opts)))
        else:
            manifests = chart.render(req.get("values") or {}, name=req["name"], namespace=req["namespace"],
                                     revision=1, is_install=True, is_upgrade=False)
        crds = [{"filename": c.get("filename") or c.get("name") or "crd", "data": c.get("data") or ""}
                for c in chart.crds]
    except helm.HelmError as exc:
        return {"ok": False, "code": "helm-render-failed", "error": str(exc)}
    return {"ok": True, "manifests": manifests, "crds": crds}


def _split_helm_output(text: str) -> tuple[dict, list]:
    """`helm template` output -> {template path: text} and the crds/ documents."""
    manifests: dict[str, str] = {}
    crds: list[dict] = []
    for doc in re.split(r"^---\s*$", text, flags=re.M):
        m = _SOURCE.search(doc)
        if not m:
            continue
        src = m.group(1).strip()
        if "/crds/" in f"/{src}" and "/templates/" not in src:
            crds.append({"filename": src, "data": doc})
        else:
            manifests[src] = manifests.get(src, "") + "\n---\n" + doc
    return manifests, crds


def _render_helm(req: dict) -> dict:
    binary = req.get("helm_binary") or "helm"
    with tempfile.TemporaryDirectory(prefix="posture-helm-") as home:
        values_file = os.path.join(home, "values.json")
        with open(values_file, "w", encoding="utf-8") as fh:
            json.dump(req.get("values") or {}, fh)
        env = {"HOME": home, "HELM_CACHE_HOME": home, "HELM_CONFIG_HOME": home, "HELM_DATA_HOME": home,
               "PATH": "", "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
               "NO_PROXY": ""}
        cmd = [binary, "template", req["name"], req["chart_dir"], "--namespace", req["namespace"],
               "--values", values_file, "--include-crds"]
        for av in req.get("api_versions") or []:
            cmd += ["--api-versions", str(av)]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=req.get("timeout") or 30,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return {"ok": False, "code": "helm-render-timeout", "error": "helm template ran past its time"}
        except OSError as exc:
            return {"ok": False, "code": "helm-engine-missing", "error": f"cannot run {binary}: {exc}"}
    if r.returncode != 0:
        err = (r.stderr or "").strip().splitlines()
        return {"ok": False, "code": "helm-render-failed", "error": err[-1] if err else f"exit {r.returncode}"}
    manifests, crds = _split_helm_output(r.stdout)
    return {"ok": True, "manifests": manifests, "crds": crds}


def handle(req: dict) -> dict:
    engine = req.get("engine")
    if engine == "sdk":
        answer = _render_sdk(req)
    elif engine == "helm":
        answer = _render_helm(req)
    else:
        return {"ok": False, "code": "helm-engine-missing", "error": f"unknown engine {engine!r}"}
    if answer.get("ok"):
        size = sum(len(t) for t in answer["manifests"].values()) + sum(len(c["data"]) for c in answer["crds"])
        if size > int(req.get("max_output") or 64 << 20):
            return {"ok": False, "code": "helm-render-too-large",
                    "error": f"the render produced {size >> 20} MiB, over the limit"}
    return answer


def _die_with_parent() -> None:
    """Linux: be killed when the scan dies, even in the middle of a runaway render."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - other systems: the closed stdin ends the loop instead
        pass


def main() -> None:
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    _die_with_parent()
    _limit_memory(limit)
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # stray writes to stdout (native code) go to stderr
    try:
        import helm_python

        helm_python.disable_logging()
    except Exception:  # noqa: BLE001 - the sdk is optional; the helm engine does not need it
        pass
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            answer = handle(req)
        except MemoryError:
            answer = {"ok": False, "code": "helm-render-failed", "error": "out of memory"}
        except Exception as exc:  # noqa: BLE001 - any failure is an answer, the worker lives on
            answer = {"ok": False, "code": "helm-render-failed", "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
