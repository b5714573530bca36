"""Find the files of a repo: `git ls-files` in a work tree, else a walk honouring `.gitignore`.

Every file that is skipped for a reason a user should know (a link out of the tree, unreadable,
too large, binary) is returned as a ScanError; nothing is dropped silently.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

import pathspec

from .model import ScanError

YAML_SUFFIXES = (".yaml", ".yml")
# Non-YAML files some checks read as text (SOPS json/env, renovate config, gitignore, OPNsense).
TEXT_NAMES = (".gitignore", ".sopsrc", "renovate.json", "renovate.json5", ".renovaterc", ".renovaterc.json",
              ".renovaterc.json5")
TEXT_SUFFIXES = (".sops.json", ".sops.env", ".json5", ".json", ".env")
SKIP_DIRS = {".git", "node_modules", ".venv", "__pycache__"}


@dataclass
class FileSet:
    root: str
    files: list[str] = field(default_factory=list)  # repo-relative POSIX paths of every file found
    errors: list[ScanError] = field(default_factory=list)
    via_git: bool = False
    git_commit: str | None = None
    web_url: str | None = None

    @property
    def yaml_files(self) -> list[str]:
        return [f for f in self.files if f.lower().endswith(YAML_SUFFIXES)]


def _git(root: str, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", root, *args], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.decode("utf-8", "surrogateescape") if out.returncode == 0 else None


def _web_url(remote: str | None) -> str | None:
    """https URL of a GitHub/GitLab-style remote, for file:line links in reports."""
    if not remote:
        return None
    remote = remote.strip()
    if remote.startswith("git@") and ":" in remote:
        host, path = remote[4:].split(":", 1)
        remote = f"https://{host}/{path}"
    if remote.startswith("ssh://git@"):
        remote = "https://" + remote[len("ssh://git@"):]
    if not remote.startswith("https://"):
        return None
    return remote[:-4] if remote.endswith(".git") else remote


def _git_files(root: str) -> list[str] | None:
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    if not inside or inside.strip() != "true":
        return None
    out = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if out is None:
        return None
    return sorted({p for p in out.split("\0") if p})


def _walk_files(root: str, errors: list[ScanError]) -> list[str]:
    """A walk that honours every `.gitignore` on the way down (directory-relative patterns)."""
    found: list[str] = []
    specs: list[tuple[str, pathspec.PathSpec]] = []

    def ignored(rel: str, is_dir: bool) -> bool:
        for base, spec in specs:
            if base and not rel.startswith(base + "/"):
                continue
            sub = rel[len(base) + 1:] if base else rel
            if spec.match_file(sub + ("/" if is_dir else "")):
                return True
        return False

    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir
        if ".gitignore" in filenames:
            try:
                with open(os.path.join(dirpath, ".gitignore"), encoding="utf-8", errors="replace") as fh:
                    specs.append((rel_dir, pathspec.PathSpec.from_lines("gitignore", fh)))
            except OSError as exc:
                errors.append(ScanError(f"{rel_dir}/.gitignore".lstrip("/"), None, f"unreadable: {exc.strerror}"))
        keep = []
        for d in sorted(dirnames):
            rel = f"{rel_dir}/{d}" if rel_dir else d
            full = os.path.join(dirpath, d)
            if d in SKIP_DIRS or ignored(rel, True):
                continue
            if os.path.islink(full):
                # Directory links are not followed (loops, escapes); say so unless they point inside.
                target = os.path.realpath(full)
                if not _inside(target, root):
                    errors.append(ScanError(rel, None, "symbolic link to a directory outside the repository; not followed"))
                continue
            keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            rel = f"{rel_dir}/{f}" if rel_dir else f
            if not ignored(rel, False):
                found.append(rel)
    return found


def _inside(path: str, root: str) -> bool:
    root = os.path.realpath(root)
    return path == root or path.startswith(root + os.sep)


def discover(root: str) -> FileSet:
    root = os.path.abspath(root)
    fs = FileSet(root=root)
    files = _git_files(root)
    if files is not None:
        fs.via_git = True
        commit = _git(root, "rev-parse", "HEAD")
        fs.git_commit = commit.strip() if commit else None
        fs.web_url = _web_url(_git(root, "config", "--get", "remote.origin.url"))
    else:
        files = _walk_files(root, fs.errors)
    for rel in files:
        full = os.path.join(root, rel)
        if os.path.islink(full):
            target = os.path.realpath(full)
            if not os.path.exists(target):
                fs.errors.append(ScanError(rel, None, "broken or looping symbolic link; not read"))
                continue
            if not _inside(target, root):
                fs.errors.append(ScanError(rel, None, "symbolic link pointing outside the repository; not read"))
                continue
            if os.path.isdir(target):
                continue  # the directory's files are listed on their own
        elif not os.path.lexists(full):
            continue  # tracked by git but deleted in the work tree
        elif os.path.isdir(full):
            continue  # a git submodule
        fs.files.append(rel)
    return fs
