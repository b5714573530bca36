"""Find the files of a repo: `git ls-files` in a work tree, else a walk honouring `.gitignore`.

Every file that is skipped for a reason a user should know (a link out of the tree, unreadable,
too large, binary) is returned as a ScanError; nothing is dropped silently.
"""
from __future__ import annotations

import os
import re
import stat

import subprocess

import pathspec
from dataclasses import dataclass, field

from scanner.core.model import ScanError

YAML_SUFFIXES = (".yaml", ".yml")
# Non-YAML files some checks read as text (SOPS json/env, renovate config, gitignore, OPNsense).
TEXT_NAMES = (".gitignore", ".sopsrc", "renovate.json", "renovate.json5", ".renovaterc", ".renovaterc.json",
              ".renovaterc.json5")
TEXT_SUFFIXES = (".sops.json", ".sops.env", ".json5", ".json", ".env")
SKIP_DIRS = {".git", "node_modules", ".venv", "__pycache__"}


@dataclass
class FileSet:
    """The files of a repository the scan reads, and what went wrong finding them."""

    root: str
    files: list[str] = field(default_factory=list)  # repo-relative POSIX paths of every file found
    errors: list[ScanError] = field(default_factory=list)
    via_git: bool = False
    excluded: int = 0  # files left out by --exclude / posture.yaml `exclude:`
    git_commit: str | None = None
    web_url: str | None = None

    @property
    def yaml_files(self) -> list[str]:
        return [f for f in self.files if f.lower().endswith(YAML_SUFFIXES)]


def _error(path: str, message: str, code: str) -> ScanError:
    return ScanError(path, None, message, code=code)


def _git(root: str, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", root, *args], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.decode("utf-8", "surrogateescape") if out.returncode == 0 else None


def _git_many(root: str, *commands: tuple[str, ...]) -> list[str | None]:
    """Several read-only git commands run side by side (each is a process start-up, ~5 ms)."""
    procs = []
    for args in commands:
        try:
            procs.append(subprocess.Popen(["git", "-C", root, *args], stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL))
        except OSError:
            procs.append(None)
    out: list[str | None] = []
    try:
        for p in procs:
            if p is None:
                out.append(None)
                continue
            try:
                data, _ = p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
                out.append(None)
                continue
            out.append(data.decode("utf-8", "surrogateescape") if p.returncode == 0 else None)
    except BaseException:  # stopped (a cancelled read-ahead helper, Ctrl-C): no git left running
        for p in procs:
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        raise
    return out


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


def work_tree_above(path: str) -> str | None:
    """The nearest directory at or above `path` holding a `.git` (a directory, or a file for worktrees
    and submodules), or None."""
    d = path
    while True:
        if os.path.lexists(os.path.join(d, ".git")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _may_be_in_git(root: str) -> bool:
    """False only when certainly not in a work tree: no `.git` here or above, no GIT_DIR. (Saves a `git`
    process, a few ms, on every scan of a plain directory.)"""
    if os.environ.get("GIT_DIR") or os.environ.get("GIT_WORK_TREE"):
        return True
    return work_tree_above(os.path.realpath(root)) is not None


def _git_files(root: str) -> tuple[list[str], str | None, str | None] | None:
    """(files, HEAD commit, origin URL) of a git work tree, or None when `root` is not in one."""
    if not _may_be_in_git(root):
        return None
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    if not inside or inside.strip() != "true":
        return None
    out, head, remote = _git_many(root, ("ls-files", "-z", "--cached", "--others", "--exclude-standard"),
                                  ("rev-parse", "HEAD"), ("config", "--get", "remote.origin.url"))
    if out is None:
        return None
    return sorted({p for p in out.split("\0") if p}), head, remote


def _gitignore_matcher(lines):
    """A `match(path) -> bool` for one .gitignore (gitignore semantics: the last matching pattern
    decides, `!` re-includes). `path` is relative to the .gitignore's directory, with a trailing "/"
    for a directory."""
    spec = pathspec.PathSpec.from_lines("gitignore", lines)
    return spec.match_file


def _walk_files(root: str, errors: list[ScanError], links: set[str] | None = None) -> list[str]:
    """A walk that honours every `.gitignore` on the way down (directory-relative patterns).

    Iterative (a hostile tree may nest deeper than Python's recursion limit) and stat-free: the
    directory entries say what is a directory and what is a link. Links met are added to `links`."""
    found: list[str] = []
    specs: list[tuple[str, object]] = []

    def ignored(rel: str, is_dir: bool) -> bool:
        for base, match in specs:
            if base and not rel.startswith(base + "/"):
                continue
            sub = rel[len(base) + 1:] if base else rel
            if match(sub + ("/" if is_dir else "")):
                return True
        return False

    stack: list[tuple[str, str]] = [(root, "")]
    while stack:
        dirpath, rel_dir = stack.pop()
        try:
            with os.scandir(dirpath) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            errors.append(_error(rel_dir or ".", f"unreadable directory: {exc.strerror or exc}; not scanned",
                                 "dir-unreadable"))
            continue
        for e in entries:
            if e.name == ".gitignore":
                try:
                    with open(e.path, encoding="utf-8", errors="replace") as fh:
                        specs.append((rel_dir, _gitignore_matcher(fh.read().splitlines())))
                except (OSError, ValueError) as exc:
                    errors.append(_error(f"{rel_dir}/.gitignore".lstrip("/"),
                                         f"unreadable: {getattr(exc, 'strerror', None) or exc}",
                                         "gitignore-unreadable"))
                break
        subdirs = []
        for e in entries:
            rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
            try:
                is_dir = e.is_dir()  # follows links, as os.walk does
            except OSError:
                is_dir = False
            if is_dir:
                if e.name in SKIP_DIRS or ignored(rel, True):
                    continue
                if e.is_symlink():
                    # Directory links are not followed (loops, escapes); say so unless they point inside.
                    if not _inside(os.path.realpath(e.path), root):
                        errors.append(_error(rel, "symbolic link to a directory outside the repository; not followed",
                                             "link-outside-repo"))
                    continue
                subdirs.append((e.path, rel))
            elif not ignored(rel, False):
                found.append(rel)
                if links is not None and e.is_symlink():
                    links.add(rel)
        stack.extend(reversed(subdirs))
    return found


def _inside(path: str, root: str) -> bool:
    root = os.path.realpath(root)
    return path == root or path.startswith(root + os.sep)


def exclusion(globs) -> "pathspec.PathSpec | None":
    """`--exclude` / posture.yaml `exclude:` globs, with .gitignore semantics (`dir/`, `**`, `!keep`)."""
    globs = [g for g in globs or () if g and g.strip()]
    return pathspec.GitIgnoreSpec.from_lines(globs) if globs else None


def discover(root: str, exclude=()) -> FileSet:
    """The repository's files, less those the `exclude` globs match (counted in `excluded`)."""
    root = os.path.abspath(root)
    fs = FileSet(root=root)
    skip = exclusion(exclude)
    got = _git_files(root)
    links: set[str] | None = None
    if got is not None:
        files, commit, remote = got
        fs.via_git = True
        fs.git_commit = commit.strip() if commit else None
        fs.web_url = _web_url(remote)
    else:
        links = set()
        files = _walk_files(root, fs.errors, links)
    for rel in files:
        full = os.path.join(root, rel)
        if links is not None:  # the walk saw every entry: only links need a second look
            is_link = rel in links
        else:
            try:
                mode = os.lstat(full).st_mode
            except OSError:
                continue  # tracked by git but deleted in the work tree
            if stat.S_ISDIR(mode):
                continue  # a git submodule
            is_link = stat.S_ISLNK(mode)
        if is_link:
            target = os.path.realpath(full)
            if not os.path.exists(target):
                fs.errors.append(_error(rel, "broken or looping symbolic link; not read", "link-broken"))
                continue
            if not _inside(target, root):
                fs.errors.append(_error(rel, "symbolic link pointing outside the repository; not read", "link-outside-repo"))
                continue
            if os.path.isdir(target):
                continue  # the directory's files are listed on their own
        if skip is not None and skip.match_file(rel):
            fs.excluded += 1
            continue
        fs.files.append(rel)
    return fs
