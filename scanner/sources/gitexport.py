"""A committed tree of the scanned repository, copied out of git's object store into a scratch
directory: what `posture inventory --diff REF` compares the working tree with.

The repository is untrusted, so nothing of git's checkout machinery runs: no `worktree add` or
`checkout` (hooks, filters, `.gitattributes`, sparse rules), only `ls-tree` for the names and
`cat-file --batch` for the bytes, through the same inert git as discovery (`git_command`: every
command-naming config key overridden, no user or system config). Only regular files are written;
links and submodules are listed as skipped, as are files over the size limit."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

from scanner.core.errors import SourceError, UsageError
from scanner.sources.discover import git_env, git_command, work_tree_above

GIT_TIMEOUT_S = 120
MAX_TOTAL_BYTES = 1 << 30  # a tree bigger than this is refused rather than copied
_REGULAR_MODES = {"100644", "100755"}


class RefNotFound(UsageError):
    """The ref names no commit of the repository."""


class ExportFailed(SourceError):
    """git could not list or read the committed tree."""


@dataclass
class ExportedTree:
    """What was written under `dest`, and what was not (path, why)."""

    dest: str
    commit: str
    files: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def export_tree(path: str, ref: str, dest: str, *, max_file_bytes: int) -> ExportedTree:
    """Write the files of `ref` that lie under `path` (a directory in a git work tree) into `dest`,
    laid out as `path` is, so the same scan can run on both."""
    if not ref or ref.startswith("-") or any(c in ref for c in "\0\n"):
        raise RefNotFound(f"--diff {ref!r}: not a git revision")
    root = os.path.realpath(path)
    if work_tree_above(root) is None:
        raise UsageError(f"--diff needs a git work tree; {path} is not in one")
    commit = _run(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if commit is None or not commit.strip():
        raise RefNotFound(f"--diff {ref}: no such commit in this repository")
    commit = commit.decode().strip()
    prefix = (_run(root, "rev-parse", "--show-prefix") or b"").decode("utf-8", "surrogateescape").strip()
    listing = _run(root, "ls-tree", "-r", "-l", "-z", "--full-tree", "--end-of-options",
                   f"{commit}:{prefix}" if prefix else commit)
    if listing is None:
        # The directory may not exist at that commit: then nothing was deployed from it.
        if prefix and _run(root, "cat-file", "-e", f"{commit}:{prefix}") is None:
            return ExportedTree(dest, commit)
        raise ExportFailed(f"git could not list the files of {ref}")
    out = ExportedTree(dest, commit)
    wanted: list[tuple[str, str, str]] = []  # (path, object id, mode)
    total = 0
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_name = entry.partition(b"\t")
        mode, kind, oid, size = meta.split()
        name = raw_name.decode("utf-8", "surrogateescape")
        why = _refused(name, mode.decode(), kind.decode(), size.decode(), max_file_bytes)
        if why:
            out.skipped.append((name, why))
            continue
        total += int(size)
        if total > MAX_TOTAL_BYTES:
            raise ExportFailed(f"{ref} holds more than {MAX_TOTAL_BYTES >> 20} MiB of files; not copied")
        wanted.append((name, oid.decode(), mode.decode()))
    for name, data in _read_blobs(root, wanted):
        _write(dest, name, data)
        out.files += 1
    return out


def _refused(name: str, mode: str, kind: str, size: str, max_file_bytes: int) -> str | None:
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
        return "a path that does not stay inside the tree"
    if kind == "commit":
        return "a submodule (another repository; not read)"
    if mode == "120000":
        return "a symbolic link (links are not followed)"
    if kind != "blob" or mode not in _REGULAR_MODES:
        return f"not a regular file (mode {mode})"
    if int(size) > max_file_bytes:
        return f"larger than the {max_file_bytes} byte limit"
    return None


def _read_blobs(root: str, wanted: list[tuple[str, str, str]]):
    """(path, bytes) for each wanted blob, in order, from one `git cat-file --batch` process."""
    if not wanted:
        return
    request = "".join(f"{oid}\n" for _, oid, _ in wanted).encode()
    data = _run(root, "cat-file", "--batch", stdin=request)
    if data is None:
        raise ExportFailed("git could not read the committed files")
    pos = 0
    for name, oid, _ in wanted:
        header_end = data.index(b"\n", pos)
        got_oid, kind, size = data[pos:header_end].split()
        if got_oid.decode() != oid or kind != b"blob":
            raise ExportFailed(f"git returned something else than the file {name}")
        start = header_end + 1
        end = start + int(size)
        yield name, data[start:end]
        pos = end + 1  # the newline after each object


def _write(dest: str, name: str, data: bytes) -> None:
    target = os.path.join(dest, *name.split("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _run(root: str, *args: str, stdin: bytes | None = None) -> bytes | None:
    try:
        done = subprocess.run(git_command(root, *args), input=stdin, capture_output=True, check=False,
                              timeout=GIT_TIMEOUT_S, env=git_env(),
                              stdin=None if stdin is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ExportFailed(f"git did not answer within {GIT_TIMEOUT_S} s") from None
    except OSError as exc:
        raise ExportFailed(f"git could not run: {exc.strerror}") from None
    return done.stdout if done.returncode == 0 else None
