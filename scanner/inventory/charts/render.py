"""Rendering a prepared chart copy with Helm's engine, in a worker process with a time and memory
bound, and turning the output into objects."""
from __future__ import annotations

import atexit
import importlib.util
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

from scanner.inventory.charts.model import ChartSettings
from scanner.sources.yamlload import load_documents

STARTUP_TIMEOUT = 60.0  # seconds for the worker to import Python and the Helm library (a loaded machine)
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def choose_engine(settings: ChartSettings) -> tuple[str | None, str]:
    """(engine, why): "sdk" or "helm", or None with the reason nothing can render."""
    want = settings.engine
    if want == "none":
        return None, "chart rendering is off (--chart-engine none)"
    sdk = importlib.util.find_spec("helm_python") is not None
    binary = settings.helm_binary or shutil.which("helm")
    if want == "sdk":
        return ("sdk", "") if sdk else (None, "helm-python-sdk is not installed (pip install 'gitops-posture[charts]')")
    if want == "helm":
        return ("helm", "") if binary else (None, "no helm binary found")
    if sdk:
        return "sdk", ""
    if binary:
        return "helm", ""
    return None, "no Helm engine: install the charts extra (pip install 'gitops-posture[charts]') or put helm on PATH"


class RenderFailed(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class _Worker:
    """One render worker process; replaced when it dies or overruns."""

    def __init__(self, memory_limit: int):
        self.home = tempfile.mkdtemp(prefix="posture-render-")
        env = {"PYTHONPATH": _PACKAGE_ROOT, "HOME": self.home, "PATH": os.environ.get("PATH", ""),
               "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
               "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", "NO_PROXY": "",
               "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scanner.inventory.charts.worker", str(memory_limit)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
            cwd=self.home, start_new_session=True)
        self.buf = b""
        self.ready = False

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _read_line(self, timeout: float, what: str) -> dict:
        assert self.proc.stdout
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.kill()
                    raise RenderFailed("helm-render-timeout", f"{what} ran past {timeout:g} s and was stopped")
                if not sel.select(left):
                    continue
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    code = self.proc.wait()
                    self.kill()
                    why = "out of memory" if code in (-9, 2) else f"exit {code}"
                    raise RenderFailed("helm-render-failed", f"the render worker died ({why})")
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def call(self, request: dict, timeout: float) -> dict:
        assert self.proc.stdin
        if not self.ready:
            # Start-up (Python, then the Helm library) is not charged to the first render's time.
            self._read_line(max(STARTUP_TIMEOUT, timeout), "the render worker's start")
            self.ready = True
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            raise RenderFailed("helm-render-failed", "the render worker died") from None
        return self._read_line(timeout, "the render")

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except OSError:
                self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f and f.close()
            except OSError:
                pass
        shutil.rmtree(self.home, ignore_errors=True)


_lock = threading.Lock()
_workers: dict[int, _Worker] = {}


def _worker(memory_limit: int) -> _Worker:
    w = _workers.get(memory_limit)
    if w is None or not w.alive():
        if w is not None:
            w.kill()
        w = _Worker(memory_limit)
        _workers[memory_limit] = w
    return w


def close_workers() -> None:
    """Stop the render workers (also done at exit)."""
    with _lock:
        for w in _workers.values():
            w.kill()
        _workers.clear()


atexit.register(close_workers)


def render(chart_dir: str, chart_key: str, values: dict, name: str, namespace: str, engine: str,
           settings: ChartSettings, api_versions: tuple[str, ...] = ()) -> tuple[dict[str, str], list[dict]]:
    """({template path: text}, [crd documents]) or RenderFailed."""
    request = {"engine": engine, "chart_dir": chart_dir, "chart_key": chart_key, "values": values,
               "name": name, "namespace": namespace, "api_versions": sorted(set(api_versions)),
               "helm_binary": settings.helm_binary or shutil.which("helm"),
               "timeout": settings.timeout, "max_output": settings.max_output_bytes}
    try:
        json.dumps(values)
    except (TypeError, ValueError) as exc:
        raise RenderFailed("helm-values-invalid", f"values cannot be passed to Helm: {exc}") from None
    with _lock:
        answer = _worker(settings.memory_limit).call(request, settings.timeout + 5 if engine == "helm"
                                                     else settings.timeout)
    if not answer.get("ok"):
        raise RenderFailed(str(answer.get("code") or "helm-render-failed"), str(answer.get("error") or ""))
    return answer.get("manifests") or {}, answer.get("crds") or []


@dataclass
class Rendered:
    objects: list[dict] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)  # parallel: the template each object came from
    problems: list[str] = field(default_factory=list)


def parse_output(manifests: dict[str, str], crds: list[dict], include_crds: bool, include_tests: bool) -> Rendered:
    """Objects of a render: CRDs of crds/ first (as helm install applies them), then the templates in
    path order; NOTES.txt and empty documents dropped, test hooks dropped unless tests are enabled."""
    out = Rendered()

    def take(path: str, text: str) -> None:
        docs, errors = load_documents(text)
        for e in errors:
            out.problems.append(f"{path}:{e.line or '?'}: {e.message}")
        for d in docs:
            body = d.body
            if not isinstance(body, dict) or not body.get("kind") or not body.get("apiVersion"):
                continue
            hook = str(((body.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook") or "")
            if "test" in [h.strip() for h in hook.split(",")] and not include_tests:
                continue
            out.objects.append(body)
            out.templates.append(path)

    if include_crds:
        for c in crds:
            take(str(c.get("filename") or "crds"), str(c.get("data") or ""))
    for path in sorted(manifests):
        if path.endswith("NOTES.txt") or not str(manifests[path]).strip():
            continue
        take(path, manifests[path])
    return out


def api_versions_of(objects) -> list[str]:
    """`.Capabilities.APIVersions` a cluster deploying `objects` has: the apiVersion (and
    apiVersion/Kind) of each object, and the versions of each CustomResourceDefinition among them."""
    out: set[str] = set()
    for o in objects:
        if not isinstance(o, dict):
            continue
        av, kind = o.get("apiVersion"), o.get("kind")
        if isinstance(av, str) and av and isinstance(kind, str) and kind:
            out.update((av, f"{av}/{kind}"))
        if kind == "CustomResourceDefinition":
            spec = o.get("spec") if isinstance(o.get("spec"), dict) else {}
            group = spec.get("group")
            crd_kind = (spec.get("names") or {}).get("kind") if isinstance(spec.get("names"), dict) else None
            for v in spec.get("versions") or []:
                if isinstance(v, dict) and v.get("name") and group and v.get("served", True) is not False:
                    out.add(f"{group}/{v['name']}")
                    if crd_kind:
                        out.add(f"{group}/{v['name']}/{crd_kind}")
    return sorted(out)
