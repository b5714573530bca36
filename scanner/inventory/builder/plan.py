"""What one build reads, checked before anything runs: the plan of a request.

Every path a kustomization names is resolved here, from the build path down through resources,
components, patches, generator sources, transformer and generator configs, replacements, CRDs,
configurations and OpenAPI schemas. A path that is absolute or leaves the repo root refuses the
whole build (kustomize under LoadRestrictionsNone would read it from the host). Remote URLs are
removed from the copy that is built and become gaps, as are `helmCharts` (the chart engine renders
charts). A generator source missing from the repo becomes an empty placeholder: Flux fails that
build, so it is an error too, and the outcome is marked degraded.

Each kustomization is written into the scratch copy from the parse made here (as JSON, which is
YAML), so kustomize builds exactly what was checked: a YAML quirk read one way by PyYAML and
another by Go cannot smuggle a path past the check. The walk is iterative, visits a directory once,
and stops at a cycle or past MAX_DEPTH levels.
"""
from __future__ import annotations

import dataclasses
import json
import posixpath
import re
import threading
from dataclasses import dataclass, field

from scanner.core.model import ScanError
from scanner.inventory.builder import fluxgen
from scanner.inventory.builder.model import BuildRequest, Gap, error
from scanner.inventory.builder.repo import KUSTOMIZATION_FILES, RepoView
from scanner.sources.yamlload import load_documents

MAX_DEPTH = 64  # kustomization nesting deeper than this is refused
MAX_KUSTOMIZATIONS = 5000  # per build

FAILED = "kustomize-build-failed"
REFUSED = "kustomize-path-refused"

# Keys of builtin generator/transformer configs whose values kustomize loads as files.
_PLUGIN_PATH_KEYS = ("path", "paths", "files", "envs", "env", "valuesFile", "additionalValuesFiles",
                     "chartHome", "configHome")
_HELM_KINDS = ("HelmChartInflationGenerator",)
_RENAMING_FIELDS = ("namePrefix", "nameSuffix", "replacements", "transformers")
_HOST_PATH = re.compile(r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d+)?/")


@dataclass
class Plan:
    """A request checked and ready to build (unless `refused`)."""

    request: BuildRequest
    root: str  # the build directory, repo-relative
    writes: dict[str, bytes] = field(default_factory=dict)  # scratch content by repo path
    files_used: set[str] = field(default_factory=set)
    absent: set[str] = field(default_factory=set)  # paths looked up and not found (they key the cache too)
    errors: list[ScanError] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    refused: bool = False  # never built: unsafe, or Flux fails before building
    placeholders: set[str] = field(default_factory=set)  # missing generator sources, written empty
    features: set[str] = field(default_factory=set)  # kustomization fields used anywhere in the build
    kustomizations: dict[str, dict] = field(default_factory=dict)  # dir -> kustomization as written
    kfile_names: dict[str, str] = field(default_factory=dict)  # dir -> kustomization file name
    resource_files: set[str] = field(default_factory=set)  # files listed as resources
    tokenise: bool = False  # placeholders made request-unique in a batch (see batching)

    @property
    def degraded(self) -> bool:
        return bool(self.placeholders)

    def refuse(self, path: str, code: str, gap_code: str, subject: str, message: str, line=None) -> None:
        self.refused = True
        self.errors.append(error(path, code, message, line))
        self.gaps.append(Gap(gap_code, path, subject, message))


def secure_join(path: str) -> str:
    """The build directory as Flux resolves `spec.path` (securejoin: `..` stops at the root)."""
    parts: list[str] = []
    for part in (path or "").replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def is_http(ref: str) -> bool:
    return ref.lower().startswith(("http://", "https://"))


def _is_remote_target(ref: str) -> bool:
    """A resources/components entry kustomize would fetch (HTTP or git) rather than read."""
    lower = ref.lower()
    return ("://" in ref or lower.startswith(("git@", "git::", "gh:", "github.com/", "github.com:"))
            or ("?ref=" in ref) or (_HOST_PATH.match(ref) is not None and "//" in ref))


def _line_of(text: str | None, needle: str) -> int | None:
    if not text or not needle:
        return None
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    return None


class Planner:
    """Plans requests against one repo; parsed kustomizations are shared between plans."""

    def __init__(self, repo: RepoView):
        self.repo = repo
        self._parsed: dict[str, tuple[object, str | None]] = {}
        self._lock = threading.Lock()

    # -- reading ------------------------------------------------------------------------------
    def _parse(self, path: str) -> tuple[object, str | None]:
        """(first YAML document, error) of a kustomization or plugin config file."""
        with self._lock:
            got = self._parsed.get(path)
        if got is not None:
            return got
        data = self.repo.read(path)
        if data is None:
            got = (None, "cannot be read")
        else:
            docs, errs = load_documents(data)
            if errs:
                got = (None, errs[0].message)
            else:
                got = (docs[0].body if docs else None, None)
        with self._lock:
            self._parsed[path] = got
        return got

    # -- the walk -----------------------------------------------------------------------------
    def plan(self, request: BuildRequest) -> Plan:
        root = secure_join(request.path)
        plan = Plan(request=request, root=root)
        repo = self.repo
        if not repo.is_dir(root):
            plan.refuse(root or ".", FAILED, "build-failed", root or ".",
                        f"kustomization path not found: '{request.path}' is not a directory of the repository")
            return plan
        kfiles = repo.kustomization_files(root)
        if len(kfiles) > 1:
            plan.refuse(kfiles[0], FAILED, "build-failed", root or ".",
                        f"found multiple kustomization files under '{root or '.'}' ({', '.join(kfiles)})")
            return plan
        if kfiles:
            body, err = self._parse(kfiles[0])
            plan.files_used.add(kfiles[0])
            if err:
                plan.refuse(kfiles[0], FAILED, "build-failed", kfiles[0], f"cannot read the kustomization: {err}")
                return plan
            existing = True
            name = posixpath.basename(kfiles[0])
        else:
            body, _listed = fluxgen.generated_kustomization(repo, root)
            existing = False
            name = "kustomization.yaml"
        overlay = request.overlay
        if overlay.ignore_missing_components:
            # Flux drops the spec's components that do not exist (not the kustomization's own).
            overlay = dataclasses.replace(overlay, components=tuple(
                c for c in overlay.components if not isinstance(c, str) or fluxgen.is_local_relative(c) is False
                or repo.is_dir(_join(root, c)) or repo.is_file(_join(root, c))))
        try:
            merged = fluxgen.merge_overlay(body, overlay, existing)
        except fluxgen.OverlayError as exc:
            plan.refuse(kfiles[0] if kfiles else (root or "."), FAILED, "build-failed", root or ".", str(exc))
            return plan
        self._walk(plan, root, merged, name)
        return plan

    def _walk(self, plan: Plan, root: str, root_body: dict, root_name: str) -> None:
        """Depth-first over kustomization directories, iteratively; grey = on the current chain."""
        grey: set[str] = set()
        black: set[str] = set()
        chain: list[str] = []
        # Each frame: (dir, iterator over (edge dir, plugin base) children).
        stack: list[tuple[str, object]] = []

        def enter(d: str, body_override, name_override, plugin_base) -> bool:
            if len(black) + len(grey) > MAX_KUSTOMIZATIONS:
                plan.refuse(d, REFUSED, "build-failed", d,
                            f"more than {MAX_KUSTOMIZATIONS} kustomizations in one build")
                return False
            edges = self._visit(plan, d, body_override, name_override, plugin_base)
            if edges is None:
                return False
            grey.add(d)
            chain.append(d)
            stack.append((d, iter(edges)))
            return True

        if not enter(root, root_body, root_name, None):
            return
        while stack and not plan.refused:
            d, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                chain.pop()
                grey.discard(d)
                black.add(d)
                continue
            child, plugin_base, via = nxt
            if child in grey:
                cycle = " -> ".join((chain[chain.index(child):] + [child]))
                plan.refuse(via, REFUSED, "build-failed", child or ".",
                            f"kustomization cycle: {cycle or '.'}")
                break
            if child in black:
                continue
            if len(chain) >= MAX_DEPTH:
                plan.refuse(via, REFUSED, "build-failed", child or ".",
                            f"kustomizations nested deeper than {MAX_DEPTH} levels (at '{child}')")
                break
            enter(child, None, None, plugin_base)

    def _visit(self, plan: Plan, d: str, body, name, plugin_base) -> list | None:
        """Check and sanitise the kustomization of directory `d`; its child directories."""
        repo = self.repo
        if body is None:
            kfiles = repo.kustomization_files(d)
            if not kfiles:
                # kustomize fails on a directory without a kustomization; nothing to read here.
                for n in fluxgen_names(d):
                    plan.absent.add(n)
                return []
            if len(kfiles) > 1:
                plan.refuse(kfiles[0], FAILED, "build-failed", d or ".",
                            f"found multiple kustomization files under '{d or '.'}'")
                return None
            kfile = kfiles[0]
            plan.files_used.add(kfile)
            body, err = self._parse(kfile)
            if err:
                plan.refuse(kfile, FAILED, "build-failed", kfile, f"cannot read the kustomization: {err}")
                return None
            name = posixpath.basename(kfile)
            body = _copy(body)
        kfile = posixpath.join(d, name) if d else name
        text = repo.read_text(kfile) if kfile in repo.files else None
        edges: list = []
        if isinstance(body, dict):
            self._sanitise(plan, d, kfile, text, body, edges, plugin_base)
            plan.features.update(k for k in body if isinstance(k, str))
            if any(body.get(f) for f in _RENAMING_FIELDS):
                plan.features.add("rename")
            if body.get("vars"):
                plan.features.add("vars")
            plan.kustomizations[d] = body
        plan.kfile_names[d] = name
        plan.writes[kfile] = b"" if body is None else json.dumps(body, default=str).encode()
        return edges

    # -- one kustomization --------------------------------------------------------------------
    def _sanitise(self, plan: Plan, d: str, kfile: str, text, body: dict, edges: list, plugin_base) -> None:
        repo = self.repo

        def resolve(ref: str, field_name: str) -> str | None:
            """The repo path of a local reference, or None after refusing it."""
            if "\x00" in ref:
                plan.refuse(kfile, REFUSED, "path-escape", ref, f"{field_name} entry holds a NUL byte")
                return None
            if ref.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", ref):
                plan.refuse(kfile, REFUSED, "path-escape", ref,
                            f"{field_name} entry '{ref}' is an absolute path; not read", _line_of(text, ref))
                return None
            p = posixpath.normpath(posixpath.join(d, ref)) if d else posixpath.normpath(ref)
            if p in (".", ""):
                return ""
            if p == ".." or p.startswith("../"):
                plan.refuse(kfile, REFUSED, "path-escape", ref,
                            f"{field_name} entry '{ref}' leaves the repository; not read", _line_of(text, ref))
                return None
            return p

        def remote_gap(ref: str, field_name: str) -> None:
            plan.gaps.append(Gap("remote-resource", kfile, ref,
                                 f"{field_name} entry '{ref}' is remote; not fetched, its objects are not seen"))

        def use_file(p: str) -> bool:
            if repo.is_file(p):
                plan.files_used.add(p)
                if p not in plan.writes:
                    data = repo.read(p)
                    plan.writes[p] = data if data is not None else b""
                return True
            plan.absent.add(p)
            return False

        # resources / bases / components: files or kustomization directories, maybe remote.
        for key in ("resources", "bases", "components"):
            items = body.get(key)
            if not isinstance(items, list):
                continue
            kept = []
            for ref in items:
                if not isinstance(ref, str):
                    kept.append(ref)
                    continue
                local = None
                if not ref.startswith("/"):
                    cand = posixpath.normpath(posixpath.join(d, ref)) if d else posixpath.normpath(ref)
                    if not cand.startswith("../") and cand != ".." and (repo.is_file(cand) or repo.is_dir(cand)):
                        local = cand
                if local is None and _is_remote_target(ref):
                    remote_gap(ref, key)
                    continue
                p = resolve(ref, key)
                if p is None:
                    return
                kept.append(ref)
                if repo.is_dir(p):
                    edges.append((p, plugin_base, kfile))
                elif use_file(p):
                    plan.resource_files.add(p)
                    if plugin_base is not None:
                        self._check_plugin_file(plan, p, (plugin_base, posixpath.dirname(p)), kfile)
                        if plan.refused:
                            return
            body[key] = kept
        for key in ("crds", "configurations"):
            if not self._file_list(plan, body, key, kfile, resolve, remote_gap, use_file):
                return
        # patchesStrategicMerge: a file path, or an inline patch (kustomize tries the file first).
        items = body.get("patchesStrategicMerge")
        if isinstance(items, list):
            kept = []
            for ref in items:
                if isinstance(ref, str) and "\n" not in ref.strip():
                    if is_http(ref):
                        remote_gap(ref, "patchesStrategicMerge")
                        continue
                    p = resolve(ref, "patchesStrategicMerge")
                    if p is None:
                        return
                    use_file(p)
                kept.append(ref)
            body["patchesStrategicMerge"] = kept
        for key in ("patches", "patchesJson6902", "replacements"):
            items = body.get(key)
            if not isinstance(items, list):
                continue
            kept = []
            for item in items:
                ref = item.get("path") if isinstance(item, dict) else None
                if isinstance(ref, str):
                    if is_http(ref):
                        remote_gap(ref, f"{key}.path")
                        continue
                    p = resolve(ref, f"{key}.path")
                    if p is None:
                        return
                    use_file(p)
                if key == "patches" and isinstance(item, dict) and isinstance(item.get("options"), dict) \
                        and item["options"].get("allowNameChange"):
                    plan.features.add("rename")
                kept.append(item)
            body[key] = kept
        openapi = body.get("openapi")
        if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
            ref = openapi["path"]
            if is_http(ref):
                remote_gap(ref, "openapi.path")
                del openapi["path"]
            else:
                p = resolve(ref, "openapi.path")
                if p is None:
                    return
                use_file(p)
        for key in ("configMapGenerator", "secretGenerator"):
            items = body.get(key)
            if isinstance(items, list):
                for gen in items:
                    if isinstance(gen, dict) and not self._generator_sources(plan, gen, key, kfile, text,
                                                                             resolve, remote_gap, use_file):
                        return
        for key in ("generators", "transformers", "validators"):
            items = body.get(key)
            if not isinstance(items, list):
                continue
            kept = []
            for ref in items:
                if not isinstance(ref, str):
                    kept.append(ref)
                    continue
                if "\n" in ref.strip():
                    docs, errs = load_documents(ref)
                    if errs:
                        plan.refuse(kfile, REFUSED, "build-failed", key, f"inline {key} entry is not valid YAML")
                        return
                    if self._helm_config(plan, [x.body for x in docs], kfile, key):
                        continue
                    if not self._check_plugin_docs(plan, [x.body for x in docs], (d,), kfile):
                        return
                    kept.append(ref)
                    continue
                if is_http(ref):
                    remote_gap(ref, key)
                    continue
                p = resolve(ref, key)
                if p is None:
                    return
                if repo.is_dir(p):
                    edges.append((p, d, kfile))
                elif use_file(p):
                    docs, _ = load_documents(repo.read(p) or b"")
                    if self._helm_config(plan, [x.body for x in docs], kfile, key):
                        continue
                    if not self._check_plugin_file(plan, p, (d,), kfile):
                        return
                kept.append(ref)
            body[key] = kept
        # Helm charts go to the chart engine: never inflated here (kustomize would run helm).
        for key in ("helmCharts", "helmChartInflationGenerator"):
            items = body.pop(key, None)
            if isinstance(items, list):
                for ch in items:
                    if isinstance(ch, dict):
                        subject = "/".join(str(ch.get(k)) for k in ("repo", "name", "version") if ch.get(k))
                    else:
                        subject = str(ch)
                    plan.gaps.append(Gap("helm-charts", kfile, subject or key,
                                         f"{key} entry '{subject}' is not inflated by the kustomize build"))
        body.pop("helmGlobals", None)

    def _file_list(self, plan, body, key, kfile, resolve, remote_gap, use_file) -> bool:
        items = body.get(key)
        if not isinstance(items, list):
            return True
        kept = []
        for ref in items:
            if isinstance(ref, str):
                if is_http(ref):
                    remote_gap(ref, key)
                    continue
                p = resolve(ref, key)
                if p is None:
                    return False
                use_file(p)
            kept.append(ref)
        body[key] = kept
        return True

    def _generator_sources(self, plan, gen, key, kfile, text, resolve, remote_gap, use_file) -> bool:
        """Check a configMapGenerator/secretGenerator entry's files and env files."""
        for field_name in ("files", "envs", "env"):
            raw = gen.get(field_name)
            items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
            kept = []
            for src in items:
                if not isinstance(src, str):
                    kept.append(src)
                    continue
                path_part = src.split("=", 1)[1] if field_name == "files" and "=" in src else src
                if is_http(path_part):
                    remote_gap(path_part, f"{key}.{field_name}")
                    continue
                # Every '='-separated piece is checked: kustomize refuses a malformed source, but
                # nothing that could be read as a path may leave the repo.
                pieces = {path_part, *(src.split("=") if field_name == "files" else ())}
                for piece in sorted(x for x in pieces if x and x != path_part):
                    if resolve(piece, f"{key}.{field_name}") is None:
                        return False
                p = resolve(path_part, f"{key}.{field_name}")
                if p is None:
                    return False
                kept.append(src)
                if not use_file(p) and not self.repo.is_dir(p):
                    name = gen.get("name") if isinstance(gen.get("name"), str) else "?"
                    msg = (f"{key} '{name}' reads '{path_part}', which is not in the repository: Flux fails "
                           "this build; built with an empty placeholder")
                    plan.errors.append(error(kfile, FAILED, msg, _line_of(text, path_part)))
                    plan.gaps.append(Gap("missing-file", kfile, p, msg))
                    plan.placeholders.add(p)
                    plan.writes[p] = b""
            if isinstance(raw, list):
                gen[field_name] = kept
            elif isinstance(raw, str) and not kept:
                del gen[field_name]
        return True

    def _helm_config(self, plan, docs, kfile, key) -> bool:
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") in _HELM_KINDS:
                subject = str(doc.get("chartName") or doc.get("name") or doc.get("kind"))
                plan.gaps.append(Gap("helm-charts", kfile, subject,
                                     f"{key} entry inflates Helm chart '{subject}'; not run by the kustomize build"))
                return True
        return False

    def _check_plugin_file(self, plan, p, bases, kfile) -> bool:
        docs, errs = load_documents(self.repo.read(p) or b"")
        return self._check_plugin_docs(plan, [x.body for x in docs], bases, kfile)

    def _check_plugin_docs(self, plan, docs, bases, kfile) -> bool:
        """The file-valued keys of builtin generator/transformer configs, checked from each base."""
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            values: list = []
            for k in _PLUGIN_PATH_KEYS:
                v = doc.get(k)
                values.extend([v] if isinstance(v, str) else v if isinstance(v, list) else [])
            for r in doc.get("replacements") or []:
                if isinstance(r, dict) and isinstance(r.get("path"), str):
                    values.append(r["path"])
            for v in values:
                if not isinstance(v, str) or "\n" in v.strip():
                    continue
                for piece in {v, *v.split("=")}:
                    if not piece:
                        continue
                    if is_http(piece):
                        plan.refuse(kfile, REFUSED, "remote-resource", piece,
                                    f"generator/transformer config loads remote '{piece}'; not fetched")
                        return False
                    for base in bases:
                        if piece.startswith("/") or _escapes_from(base, piece):
                            plan.refuse(kfile, REFUSED, "path-escape", piece,
                                        f"generator/transformer config path '{piece}' leaves the repository; not read")
                            return False
                        cand = posixpath.normpath(posixpath.join(base, piece)) if base else posixpath.normpath(piece)
                        if self.repo.is_file(cand):
                            plan.files_used.add(cand)
                            if cand not in plan.writes:
                                plan.writes[cand] = self.repo.read(cand) or b""
        return True


def _join(base: str, ref: str) -> str:
    p = posixpath.normpath(posixpath.join(base, ref)) if base else posixpath.normpath(ref)
    return "" if p == "." else p


def _escapes_from(base: str, ref: str) -> bool:
    p = posixpath.normpath(posixpath.join(base, ref)) if base else posixpath.normpath(ref)
    return p == ".." or p.startswith("../")


def fluxgen_names(d: str) -> list[str]:
    return [posixpath.join(d, n) if d else n for n in KUSTOMIZATION_FILES]


def _copy(body):
    """A deep copy of parsed YAML (plain dicts, lists and scalars)."""
    if isinstance(body, dict):
        return {k: _copy(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_copy(v) for v in body]
    return body
