"""Builds of planned requests by the real kustomize, many in one process where that is provably
the same as one process each.

Each request gets a scratch tree of its own (`r<i>/`, holding exactly the files its plan names, the
kustomizations as checked), so two requests that share a component, or build one path with two
overlays, never see each other's edits. One top kustomization lists every request's build path
and asks for origin annotations; the first component of an object's origin (`r<i>/...`) says which
request emitted it.

A batch is kustomize's own accumulation of independent builds, which differs from separate builds
in two ways only: an id present in two requests fails the whole batch (it is then split in halves
until the culprit builds alone), and the top-level name-reference fix-up may point a reference of
one request at an object another request renamed (a generator's hash suffix, a prefix). The second
is detected after the build: a request holding the current name of an object another request
renamed is rebuilt alone. Requests using `vars` (resolved across the whole batch) or transformer
configurations (`configurations`, `crds`: merged into the batch's top, where the name-reference
fix-up runs over every request) never batch.
"""
from __future__ import annotations

import json
import os
import posixpath
import re
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass, field

from scanner.core.model import ScanError
from scanner.inventory.builder.model import BuildSettings, BuiltObject, error
from scanner.inventory.builder.output import OutputError, parse_output
from scanner.inventory.builder.plan import FAILED, Plan
from scanner.inventory.builder.tool import Tool, locked_env, run_bounded

_HASHED = re.compile(r"-[245-9bcdfghkmt]{10}$")  # kustomize's name hash suffix alphabet
MAX_MESSAGE = 2000


@dataclass
class Built:
    """What the binary gave for one plan."""

    objects: list[BuiltObject] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    ok: bool = True
    transient: bool = False  # timed out or stopped: not to be cached
    needs_plain: bool = False  # a hashed object held a placeholder token: rebuild without tokens


class Runner:
    def __init__(self, tool: Tool, settings: BuildSettings):
        self.tool = tool
        self.settings = settings
        self.processes = 0  # kustomize processes started (for tests and benchmarks)
        self._count_lock = threading.Lock()

    # -- one process ---------------------------------------------------------------------------
    def _run(self, plans: list[Plan]) -> tuple[list[Built] | None, str, bool]:
        """Build `plans` in one process: (per-plan results, or None and the failure, transient)."""
        tmp = tempfile.mkdtemp(prefix="posture-kbuild-")
        try:
            home = os.path.join(tmp, "home")
            os.mkdir(home)
            tops = []
            nonce = secrets.token_hex(6)
            tokens = [f"_P{nonce}{i}_" if plan.tokenise and len(plans) > 1 else "" for i, plan in enumerate(plans)]
            for i, plan in enumerate(plans):
                base = os.path.join(tmp, f"r{i}")
                mark = ("${" + tokens[i]).encode()
                for rel, data in plan.writes.items():
                    _write(base, rel, data.replace(b"${", mark) if tokens[i] else data)
                os.makedirs(os.path.join(base, *plan.root.split("/")) if plan.root else base, exist_ok=True)
                tops.append(f"../r{i}/{plan.root}" if plan.root else f"../r{i}")
            _write(tmp, "top/kustomization.yaml",
                   json.dumps({"resources": tops, "buildMetadata": ["originAnnotations"]}).encode())
            with self._count_lock:
                self.processes += 1
            res = run_bounded(self.tool.argv(os.path.join(tmp, "top")), locked_env(home), tmp,
                              self.settings.timeout, self.settings.max_output_bytes)
            if res.timed_out:
                return None, f"kustomize did not finish within {self.settings.timeout:g} s", True
            if res.overflow:
                return None, f"kustomize printed more than {self.settings.max_output_bytes} bytes; stopped", True
            if res.returncode != 0:
                return None, _clean_message(res.stderr, tmp, len(plans)), res.returncode is None
            try:
                emitted = parse_output(res.stdout, "top")
            except OutputError as exc:
                return None, str(exc), False
            results = [Built() for _ in plans]
            for e in emitted:
                origin = e.origin_path or e.configured_in
                head, _, rest = (origin or "").partition("/")
                if not head.startswith("r") or not head[1:].isdigit() or int(head[1:]) >= len(plans):
                    return None, "an object of the build carries no origin inside the build", False
                i = int(head[1:])
                results[i].objects.append(BuiltObject(
                    body=e.body,
                    source_path=rest if e.origin_path else None,
                    generated_by=rest if not e.origin_path else None))
            for token, built in zip(tokens, results):
                if token:
                    _untokenise(built, token)
            for plan, built in zip(plans, results):
                _check_conventions(plan, built)
            return results, "", False
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # -- many ----------------------------------------------------------------------------------
    def build(self, plans: list[Plan]) -> list[Built]:
        """Results for `plans`, in order: one process for all when it succeeds cleanly. When the
        failure names one request (an id clash names the one added second), that request waits for
        a later batch with the other such requests; any other failure splits the batch in halves,
        down to single builds."""
        if not plans:
            return []
        if len(plans) == 1:
            results, message, transient = self._run(plans)
            if results is None:
                return [Built(errors=[error(_kfile(plans[0]), FAILED, message)], ok=False, transient=transient)]
            return results
        pending = list(range(len(plans)))
        deferred: list[int] = []
        out: dict[int, Built] = {}
        while pending:
            results, message, _transient = self._run([plans[i] for i in pending])
            if results is not None:
                for i, built in zip(pending, results):
                    out[i] = built
                for j in _cross_renamed([plans[i] for i in pending], results):
                    out[pending[j]] = self.build([plans[pending[j]]])[0]
                for i in pending:
                    if out[i].needs_plain:
                        out[i] = self.build([plans[i]])[0]  # alone: no tokens
                break
            culprit = _failing_request(message, len(pending))
            if culprit is None:
                mid = len(pending) // 2
                for part in (pending[:mid], pending[mid:]):
                    for i, built in zip(part, self.build([plans[i] for i in part])):
                        out[i] = built
                break
            deferred.append(pending.pop(culprit))
            if len(pending) == 1:  # alone now: built by itself, so the deferred ones are fewer than `plans`
                last = pending.pop()
                out[last] = self.build([plans[last]])[0]
        for i, built in zip(deferred, self.build([plans[i] for i in deferred])):
            out[i] = built
        return [out[i] for i in range(len(plans))]


_REQUEST_DIR = re.compile(r"(?:^|[\s'\"(/.])r(\d+)/")


def _failing_request(message: str, n: int) -> int | None:
    """The one request a batch failure names (an id clash names the request added second), or
    None when the message names none or several."""
    named = {int(m.group(1)) for m in _REQUEST_DIR.finditer(message)}
    if len(named) != 1:
        return None
    (i,) = named
    return i if i < n else None


def _untokenise(built: Built, token: str) -> None:
    """Placeholders back as written; a hashed object that held a token asks for a plain build."""
    mark = "${" + token
    for obj in built.objects:
        name = obj.body.get("metadata", {}).get("name", "")
        if isinstance(name, str) and _HASHED.search(name) and mark in json.dumps(obj.body):
            built.needs_plain = True
        obj.body = _replace_all(obj.body, mark, "${")


def _replace_all(o, old: str, new: str):
    if isinstance(o, dict):
        return {(_replace_all(k, old, new) if isinstance(k, str) else k): _replace_all(v, old, new) for k, v in o.items()}
    if isinstance(o, list):
        return [_replace_all(v, old, new) for v in o]
    if isinstance(o, str) and old in o:
        return o.replace(old, new)
    return o


def _write(base: str, rel: str, data: bytes) -> None:
    parts = rel.split("/")
    if rel.startswith("/") or ".." in parts or "" in parts:
        raise ValueError(f"not a repo-relative path: {rel!r}")
    full = os.path.join(base, *parts)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as fh:
        fh.write(data)


def _kfile(plan: Plan) -> str:
    name = plan.kfile_names.get(plan.root, "kustomization.yaml")
    return posixpath.join(plan.root, name) if plan.root else name


def _clean_message(stderr: str, tmp: str, n: int) -> str:
    """kustomize's error with scratch paths turned back into repo paths."""
    msg = stderr.strip().replace(tmp + os.sep, "")
    if n == 1:
        msg = msg.replace("r0/", "").replace("../r0", ".")
    msg = msg.removeprefix("error: ")
    return msg[:MAX_MESSAGE] + ("…" if len(msg) > MAX_MESSAGE else "")


def _check_conventions(plan: Plan, built: Built) -> None:
    """kustomize-controller refuses a build holding an object without apiVersion, kind or name."""
    kept = []
    for obj in built.objects:
        meta = obj.body.get("metadata") if isinstance(obj.body.get("metadata"), dict) else {}
        if obj.body.get("apiVersion") and obj.body.get("kind") and meta.get("name"):
            kept.append(obj)
            continue
        built.errors.append(error(obj.source_path or obj.generated_by or _kfile(plan), FAILED,
                                  "failed to decode Kubernetes apiVersion, kind and name of an object "
                                  "(Flux fails this build); the object is left out"))
    built.objects = kept


def _strings(body: dict):
    """Every string scalar of an object, except its own metadata.name."""
    stack = [v for k, v in body.items() if k != "metadata"]
    meta = body.get("metadata")
    if isinstance(meta, dict):
        stack.extend(v for k, v in meta.items() if k != "name")
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, list):
            stack.extend(o)
        elif isinstance(o, str):
            yield o


def _cross_renamed(plans: list[Plan], results: list[Built]) -> list[int]:
    """Requests that may have had a reference rewritten to another request's renamed object."""
    owners: dict[str, set[int]] = {}
    for i, (plan, built) in enumerate(zip(plans, results)):
        renames_all = "rename" in plan.features
        for obj in built.objects:
            name = obj.body.get("metadata", {}).get("name")
            if isinstance(name, str) and (renames_all or _HASHED.search(name)):
                owners.setdefault(name, set()).add(i)
    if not owners:
        return []
    suspects = []
    for i, built in enumerate(results):
        if any(owners.get(s, {i}) - {i} for obj in built.objects for s in _strings(obj.body)):
            suspects.append(i)
    return suspects
