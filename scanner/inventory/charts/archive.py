"""Private, safe copies of charts for Helm to load.

Helm's loader follows symbolic links out of a chart directory and fetches a values schema's
remote `$ref`s during a render (engines.md B). So Helm only ever sees a private copy made here:
regular files only (a link in an archive refuses the chart; a link in the repository is
resolved, and refuses the chart when it leads outside the repository), paths that stay inside
the copy, bounded sizes, vendored subchart archives expanded in place, and every
`values.schema.json` removed."""
from __future__ import annotations

import hashlib
import io
import os
import posixpath
import stat
import tarfile
import zlib
from dataclasses import dataclass

SCHEMA_FILE = "values.schema.json"


class UnsafeChart(Exception):
    """The chart cannot be copied safely (a link out, a path escaping, too large)."""


@dataclass(frozen=True)
class Limits:
    max_files: int = 20_000
    max_file_bytes: int = 32 << 20
    max_total_bytes: int = 200 << 20
    max_depth: int = 5  # subchart archives inside subchart archives


class _Budget:
    def __init__(self, limits: Limits):
        self.limits = limits
        self.files = 0
        self.bytes = 0

    def take(self, size: int, what: str) -> None:
        self.files += 1
        self.bytes += size
        if size > self.limits.max_file_bytes:
            raise UnsafeChart(f"{what} is larger than {self.limits.max_file_bytes >> 20} MiB")
        if self.files > self.limits.max_files:
            raise UnsafeChart(f"more than {self.limits.max_files} files")
        if self.bytes > self.limits.max_total_bytes:
            raise UnsafeChart(f"more than {self.limits.max_total_bytes >> 20} MiB unpacked")


def _clean_rel(name: str) -> str:
    """A member path made relative and checked: no absolute paths, no `..`, no NUL."""
    if "\x00" in name or "\\" in name:
        raise UnsafeChart(f"unsafe path {name!r} in chart archive")
    if name.startswith("/"):
        raise UnsafeChart(f"absolute path {name!r} in chart archive")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafeChart(f"path {name!r} escapes the chart")
    return "/".join(parts)


def _write(dest_root: str, rel: str, data: bytes) -> None:
    path = os.path.join(dest_root, *rel.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # O_EXCL + O_NOFOLLOW: never write through anything already there.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _read_archive(data: bytes, budget: _Budget, what: str) -> dict[str, bytes]:
    """Every regular file of a chart archive, keyed by its path without the first component (as
    Helm's archive loader strips it)."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for member in tar:
                if member.isdir() or member.type in (tarfile.XHDTYPE, tarfile.XGLTYPE):
                    continue
                if member.issym() or member.islnk():
                    raise UnsafeChart(f"{what}: link {member.name!r} in chart archive")
                if not member.isreg():
                    raise UnsafeChart(f"{what}: special file {member.name!r} in chart archive")
                rel = _clean_rel(member.name)
                rel = rel.split("/", 1)[1] if "/" in rel else ""
                if not rel:
                    continue
                budget.take(member.size, f"{what}: {member.name}")
                fh = tar.extractfile(member)
                content = fh.read(member.size + 1) if fh else b""
                if len(content) > member.size:
                    raise UnsafeChart(f"{what}: {member.name} is longer than its header says")
                files[rel] = content
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise UnsafeChart(f"{what}: not a readable chart archive ({exc})") from None
    if not files:
        raise UnsafeChart(f"{what}: empty chart archive")
    return files


def _is_subchart_archive(rel: str) -> bool:
    d, base = posixpath.split(rel)
    return posixpath.basename(d) == "charts" and base.endswith((".tgz", ".tar.gz"))


def _materialise(files: dict[str, bytes], dest: str, budget: _Budget, depth: int, what: str) -> None:
    """Write `files` under `dest`: schemas dropped, subchart archives expanded into charts/<name>/."""
    for rel, content in sorted(files.items()):
        if posixpath.basename(rel) == SCHEMA_FILE:
            continue
        if _is_subchart_archive(rel):
            if depth >= budget.limits.max_depth:
                raise UnsafeChart(f"{what}: subcharts nested deeper than {budget.limits.max_depth}")
            sub = _read_archive(content, budget, f"{what}/{rel}")
            name = _subchart_dir_name(sub, rel)
            target = posixpath.join(posixpath.dirname(rel), name)
            if any(k.startswith(target + "/") for k in files):
                continue  # an unpacked copy of the same subchart is there already; Helm would load both
            _materialise({posixpath.join(target, k): v for k, v in sub.items()}, dest, budget, depth + 1, what)
            continue
        _write(dest, rel, content)


def _subchart_dir_name(sub: dict[str, bytes], rel: str) -> str:
    import yaml

    try:
        meta = yaml.safe_load(sub.get("Chart.yaml", b"") or b"") or {}
    except yaml.YAMLError:
        meta = {}
    name = str(meta.get("name") or "") if isinstance(meta, dict) else ""
    if not name or "/" in name or name in (".", ".."):
        name = posixpath.basename(rel).split(".tgz")[0].split(".tar.gz")[0]
    return _clean_rel(name) or "subchart"


def extract_archive(data: bytes, dest: str, limits: Limits = Limits()) -> None:
    """Unpack a chart .tgz into the empty directory `dest` (the chart's root)."""
    budget = _Budget(limits)
    _materialise(_read_archive(data, budget, "chart"), dest, budget, 0, "chart")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def copy_repo_chart(repo_root: str, chart_rel: str, repo_files: set[str] | None, dest: str,
                    limits: Limits = Limits()) -> None:
    """Copy the chart directory `chart_rel` of the repository into the empty directory `dest`.

    Regular files are copied (those of `repo_files` when given: what the repository tracks); a link
    is resolved and its target copied when it stays inside the repository, and refuses the whole
    chart when it leads outside. Directory links are followed once (loops are cut)."""
    root = os.path.realpath(repo_root)
    start = os.path.join(root, *chart_rel.split("/")) if chart_rel else root
    if not _inside(os.path.realpath(start), root):
        raise UnsafeChart(f"chart directory {chart_rel} leads outside the repository")
    if not os.path.isdir(start):
        raise UnsafeChart(f"chart directory {chart_rel} not found in the repository")
    budget = _Budget(limits)
    files: dict[str, bytes] = {}
    seen_dirs: set[str] = set()
    stack = [(start, "")]
    while stack:
        real_dir, rel_dir = stack.pop()
        key = os.path.realpath(real_dir)
        if key in seen_dirs:
            continue
        seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(real_dir), key=lambda e: e.name)
        except OSError as exc:
            raise UnsafeChart(f"{chart_rel}/{rel_dir}: unreadable ({exc.strerror or exc})") from None
        for e in entries:
            rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
            shown = f"{chart_rel}/{rel}" if chart_rel else rel
            path = e.path
            if e.is_symlink():
                target = os.path.realpath(path)
                if not _inside(target, root):
                    raise UnsafeChart(f"{shown} is a link leading outside the repository")
                path = target
            try:
                mode = os.stat(path).st_mode
            except OSError:
                raise UnsafeChart(f"{shown} is a broken link") from None
            if stat.S_ISDIR(mode):
                if e.name in (".git",):
                    continue
                stack.append((path, rel))
                continue
            if not stat.S_ISREG(mode):
                continue
            real_rel = os.path.relpath(os.path.realpath(path), root).replace(os.sep, "/")
            if repo_files and real_rel not in repo_files:
                continue  # not part of the repository (ignored, untracked)
            size = os.stat(path).st_size
            budget.take(size, shown)
            with open(path, "rb") as fh:
                files[rel] = fh.read(limits.max_file_bytes + 1)
    if "Chart.yaml" not in files:
        raise UnsafeChart(f"{chart_rel or '.'} has no Chart.yaml")
    _materialise(files, dest, budget, 0, chart_rel or ".")


def tree_digest(root: str) -> str:
    """sha256 over the paths and contents of a directory tree (the identity of a private copy)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            h.update(rel.encode() + b"\0")
            with open(full, "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())
    return "sha256:" + h.hexdigest()
