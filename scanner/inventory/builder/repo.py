"""The repo as a build sees it: the files of the source artifact, read once and hashed once.

source-controller leaves some files out of every artifact it makes from a Git repository (VCS
files, images, CI files, `.sops.yaml`, ...) and honours `.sourceignore` files; kustomize-controller
builds from that artifact, so a file left out is absent for the build too (a generated
kustomization does not list it, a reference to it fails).
"""
from __future__ import annotations

import hashlib
import os
import stat
import posixpath
import threading

import pathspec

from scanner.inventory.kustomization_files import KUSTOMIZATION_FILES  # noqa: E402,F401 (re-exported)

# fluxcd/pkg sourceignore: ExcludeVCS, ExcludeExt, ExcludeCI, ExcludeExtra.
SOURCE_IGNORE_DEFAULTS = (
    ".git/", ".gitignore", ".gitmodules", ".gitattributes",
    "*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
    ".github/", ".circleci/", ".travis.yml", ".gitlab-ci.yml", "appveyor.yml", ".drone.yml",
    "cloudbuild.yaml", "codeship-services.yml", "codeship-steps.yml",
    "**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml",
)
MAX_FILE_BYTES = 64 * 1024 * 1024  # a larger file is not read (the build then fails on it)


def _scoped(pattern: str, domain: str) -> str:
    """A .sourceignore pattern of directory `domain`, as a pattern of the repo root."""
    if not domain:
        return pattern
    neg = pattern.startswith("!")
    body = pattern[1:] if neg else pattern
    anchored = body.startswith("/") or "/" in body.rstrip("/")
    scoped = f"{domain}/{body.lstrip('/')}" if anchored else f"{domain}/**/{body}"
    return ("!" if neg else "") + "/" + scoped


def artifact_files(files: set[str], read_text, extra_patterns: tuple[str, ...] = ()) -> set[str]:
    """The files of `files` that a source-controller artifact of the repo holds.

    `read_text(path)` returns a file's text or None; `extra_patterns` are the GitRepository's
    `spec.ignore` lines (applied last, as source-controller does)."""
    lines = list(SOURCE_IGNORE_DEFAULTS)
    for f in sorted(files, key=lambda p: (p.count("/"), p)):
        if posixpath.basename(f) == ".sourceignore":
            text = read_text(f) or ""
            domain = posixpath.dirname(f)
            for line in text.splitlines():
                if line.strip() and not line.startswith("#"):
                    lines.append(_scoped(line.rstrip(), domain))
    lines.extend(p for p in extra_patterns if p.strip() and not p.startswith("#"))
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    return {f for f in files if not spec.match_file(f)}


class RepoView:
    """Files by repo-relative POSIX path, with their directories, contents and digests.

    Thread-safe: contents are read once and memoised."""

    def __init__(self, root: str, files: set[str]):
        self.root = os.path.abspath(root)
        self.files = set(files)
        self.dirs: set[str] = {""}
        self._children: dict[str, list[str]] = {}  # dir -> names of files and sub-directories
        for f in self.files:
            parent = posixpath.dirname(f)
            self._children.setdefault(parent, []).append(posixpath.basename(f))
            while parent not in self.dirs:
                self.dirs.add(parent)
                grand = posixpath.dirname(parent)
                self._children.setdefault(grand, []).append(posixpath.basename(parent))
                parent = grand
        for names in self._children.values():
            names.sort()
        self._data: dict[str, bytes | None] = {}
        self._sha: dict[str, str] = {}
        self._lock = threading.Lock()

    def entries(self, d: str) -> list[str]:
        """Names of the files and directories in `d`, sorted as Go's filepath.Walk visits them."""
        return self._children.get(d, [])

    def is_file(self, p: str) -> bool:
        return p in self.files

    def is_dir(self, p: str) -> bool:
        return p in self.dirs

    def kustomization_files(self, d: str) -> list[str]:
        return [j for j in (posixpath.join(d, n) if d else n for n in KUSTOMIZATION_FILES) if j in self.files]

    def read(self, p: str) -> bytes | None:
        """A file's bytes (None when it cannot be read or is too large)."""
        with self._lock:
            if p in self._data:
                return self._data[p]
        data: bytes | None = None
        if p in self.files:
            full = os.path.join(self.root, *p.split("/"))
            try:
                # O_NOFOLLOW: discovery listed a regular file; a link swapped in since is not followed.
                # O_NONBLOCK and the check below: a FIFO or device (listed, or swapped in) never blocks
                # the build nor streams into it.
                fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
                with os.fdopen(fd, "rb") as fh:
                    if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                        raise OSError("not a regular file")
                    data = fh.read(MAX_FILE_BYTES + 1)
                if len(data) > MAX_FILE_BYTES:
                    data = None
            except OSError:
                data = None
        with self._lock:
            self._data[p] = data
        return data

    def read_text(self, p: str) -> str | None:
        data = self.read(p)
        return None if data is None else data.decode("utf-8", "replace")

    def sha256(self, p: str) -> str:
        with self._lock:
            got = self._sha.get(p)
        if got is None:
            data = self.read(p)
            got = hashlib.sha256(data).hexdigest() if data is not None else "unreadable"
            with self._lock:
                self._sha[p] = got
        return got
