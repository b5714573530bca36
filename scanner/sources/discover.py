"""Find the files of a repo: `git ls-files` in a work tree, else a walk honouring `.gitignore`.

Every file that is skipped for a reason a user should know (a link out of the tree, unreadable,
too large, binary) is returned as a ScanError; nothing is dropped silently.
"""
from __future__ import annotations

import os
import stat
import subprocess
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scanner.core.model import ScanError
from scanner.core.redact import url_without_credentials
from scanner.sources.readfile import UnreadableFile, read_regular

if TYPE_CHECKING:
    import pathspec

YAML_SUFFIXES = (".yaml", ".yml")
# Non-YAML files some checks read as text (SOPS json/env, renovate config, gitignore, OPNsense).
TEXT_NAMES = (".gitignore", ".sopsrc", "renovate.json", "renovate.json5", ".renovaterc", ".renovaterc.json",
              ".renovaterc.json5")
TEXT_SUFFIXES = (".sops.json", ".sops.env", ".json5", ".json", ".env")
SKIP_DIRS = {".git", "node_modules", ".venv", "__pycache__"}
MAX_GITIGNORE_BYTES = 1 << 20


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


# The scanned repo is untrusted, and its `.git/config` can name commands git runs: an fsmonitor
# hook (run by `ls-files --others`), a pager, hooks, an external diff, filters, textconv, ssh and
# credential helpers. The commands used here only list paths and read HEAD and one config value, so
# filters, textconv and diffs have nothing to act on; all the same, every config key that can name a
# command is overridden on the command line (command-line config beats the repo's), and git runs
# with no system or global config and no inherited GIT_* variables. (Reading the index without git
# would also need .git/info/exclude, untracked-file and ignore semantics: git stays the reference.)
INERT_CONFIG = (
    "core.fsmonitor=false", "core.untrackedCache=false", "core.hooksPath=/dev/null", "core.pager=cat",
    "core.editor=true", "core.sshCommand=false", "core.askPass=false", "core.gitProxy=", "credential.helper=",
    "core.alternateRefsCommand=", "diff.external=", "gpg.program=false", "protocol.allow=never",
    "uploadpack.packObjectsHook=", "sequence.editor=true",
)
# PATH and the locale only; HOME and XDG_CONFIG_HOME point nowhere, so no per-user config, attributes
# or excludes file is read (a scan gives the same answer for every user) and no temp dir is left.
_GIT_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR")
_GIT_ENV_SET = {"HOME": os.devnull, "XDG_CONFIG_HOME": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat",
                "PAGER": "cat", "GIT_OPTIONAL_LOCKS": "0", "GIT_ATTR_NOSYSTEM": "1"}


def git_env() -> dict[str, str]:
    """The environment git runs in (nothing of the caller's GIT_* variables: GIT_DIR,
    GIT_CONFIG_PARAMETERS, GIT_EXTERNAL_DIFF, ...)."""
    env = {k: v for k, v in os.environ.items() if k in _GIT_ENV_KEEP}
    env.update(_GIT_ENV_SET)
    return env


def git_command(root: str, *args: str) -> list[str]:
    """`git` with every command-running config key made inert, `--no-pager`, run in `root`."""
    cmd = ["git", "--no-pager", "--no-replace-objects"]
    for kv in INERT_CONFIG:
        cmd += ["-c", kv]
    return [*cmd, "-C", root, *args]


def _git(root: str, *args: str) -> str | None:
    try:
        out = subprocess.run(git_command(root, *args), capture_output=True, timeout=30, check=False,
                             stdin=subprocess.DEVNULL, env=git_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.decode("utf-8", "surrogateescape") if out.returncode == 0 else None


def _git_many(root: str, *commands: tuple[str, ...]) -> list[str | None]:
    """Several read-only git commands run side by side (each is a process start-up, ~5 ms)."""
    procs = []
    env = git_env()
    for args in commands:
        try:
            procs.append(subprocess.Popen(git_command(root, *args), stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env))
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
    """https URL of a GitHub/GitLab-style remote, for file:line links in reports (credentials in
    the remote, `https://x-access-token:TOKEN@host/...`, removed)."""
    if not remote:
        return None
    remote = url_without_credentials(remote.strip())
    if remote.startswith("git@") and ":" in remote:
        host, path = remote[4:].split(":", 1)
        remote = f"https://{host}/{path}"
    if remote.startswith("ssh://git@"):
        remote = "https://" + remote[len("ssh://git@"):]
    if not remote.startswith("https://"):
        return None
    # A token in the remote (https://user:token@host/...) must never reach a report.
    parts = urllib.parse.urlsplit(remote)
    if not parts.hostname:
        return None
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    path = parts.path[:-4] if parts.path.endswith(".git") else parts.path
    return urllib.parse.urlunsplit(("https", netloc, path.rstrip("/"), "", ""))


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
    """False only when certainly not in a work tree: no `.git` here or above (git runs without the
    caller's GIT_DIR, see git_env). (Saves a `git`
    process, a few ms, on every scan of a plain directory.)"""
    return work_tree_above(os.path.realpath(root)) is not None


def _git_files(root: str) -> tuple[list[str], str | None, str | None] | None:
    """(tracked files, HEAD commit, origin URL) of a git work tree, or None when `root` is not in one.

    Only the index is read (`--cached`): asking git for untracked files (`--others`) makes it walk the
    work tree, run the repo's fsmonitor and open every `.gitignore`, where a FIFO blocks it. The
    untracked files come from the scanner's own walk (`discover`), which reads only regular files."""
    if not _may_be_in_git(root):
        return None
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    if not inside or inside.strip() != "true":
        return None
    out, head, remote = _git_many(root, ("ls-files", "-z", "--cached"),
                                  ("rev-parse", "HEAD"), ("config", "--get", "remote.origin.url"))
    if out is None:
        return None
    return sorted({p for p in out.split("\0") if p}), head, remote


def _gitignore_matcher(lines):
    """A `match(path) -> bool` for one .gitignore (gitignore semantics: the last matching pattern
    decides, `!` re-includes). `path` is relative to the .gitignore's directory, with a trailing "/"
    for a directory."""
    import pathspec  # (here: `posture leaks` finds its work tree with this module and matches nothing)

    spec = pathspec.PathSpec.from_lines("gitignore", lines)
    return spec.match_file


def _read_ignore_file(path: str, rel: str, errors: list[ScanError]):
    """The matcher of one ignore file, or None (unreadable: said in `errors`; absent: silent)."""
    try:
        data = read_regular(path, MAX_GITIGNORE_BYTES)
        return _gitignore_matcher(data.decode("utf-8", "replace").splitlines())
    except UnreadableFile as exc:
        if os.path.lexists(path):
            errors.append(_error(rel, f"{exc}; its patterns are not applied", "gitignore-unreadable"))
    except ValueError as exc:
        errors.append(_error(rel, f"unreadable: {exc}", "gitignore-unreadable"))
    return None


def _outer_ignores(root: str, top: str, errors: list[ScanError]) -> list[tuple[str, object]]:
    """Ignore rules that apply to `root` from its git work tree `top`: .git/info/exclude and the
    .gitignore files of the directories between `top` and `root`, as walk specs of `root`."""
    real_root = os.path.realpath(root)
    specs = []
    dirs = []  # the directories above `root`, up to `top` (the walk reads `root`'s own .gitignore)
    rel_to_top = os.path.relpath(real_root, top)
    if rel_to_top != ".":
        parts = rel_to_top.split(os.sep)
        dirs = [top] + [os.path.join(top, *parts[:i]) for i in range(1, len(parts))]
    candidates = [(d, os.path.join(d, ".gitignore")) for d in dirs]
    exclude = os.path.join(top, ".git", "info", "exclude")
    if os.path.isfile(exclude):  # (a linked worktree's .git is a file: its exclude lives elsewhere)
        candidates.insert(0, (top, exclude))
    for base_dir, path in candidates:
        match = _read_ignore_file(path, os.path.relpath(path, real_root).replace(os.sep, "/"), errors)
        if match is None:
            continue
        prefix = os.path.relpath(real_root, base_dir).replace(os.sep, "/")
        prefix = "" if prefix == "." else prefix + "/"
        specs.append(("", (lambda m, p: lambda sub: m(p + sub))(match, prefix)))
    return specs


def _walk_files(root: str, errors: list[ScanError], links: set[str] | None = None,
                outer: list[tuple[str, object]] | None = None, skip_nested_repos: bool = False) -> list[str]:
    """A walk that honours every `.gitignore` on the way down (directory-relative patterns), and the
    `outer` rules from above `root`. With `skip_nested_repos`, a directory holding a `.git` (a
    submodule or a nested clone) is not entered, as git does not list its files.

    Iterative (a hostile tree may nest deeper than Python's recursion limit) and stat-free: the
    directory entries say what is a directory and what is a link. Links met are added to `links`."""
    found: list[str] = []
    specs: list[tuple[str, object]] = list(outer or ())

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
        if skip_nested_repos and rel_dir and any(e.name == ".git" for e in entries):
            continue
        for e in entries:
            if e.name == ".gitignore":
                match = _read_ignore_file(e.path, f"{rel_dir}/.gitignore".lstrip("/"), errors)
                if match is not None:
                    specs.append((rel_dir, match))
                break
        subdirs = []
        for e in entries:
            if e.name == ".git":
                continue  # git's own directory, or the file of a linked worktree or submodule
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
    if not globs:
        return None
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(globs)


def discover(root: str, exclude=()) -> FileSet:
    """The repository's files, less those the `exclude` globs match (counted in `excluded`)."""
    root = os.path.abspath(root)
    fs = FileSet(root=root)
    skip = exclusion(exclude)
    got = _git_files(root)
    links: set[str] | None = None
    if got is not None:
        tracked, commit, remote = got
        fs.via_git = True
        fs.git_commit = commit.strip() if commit else None
        fs.web_url = _web_url(remote)
        top = work_tree_above(os.path.realpath(root))
        untracked = _walk_files(root, fs.errors, outer=_outer_ignores(root, top, fs.errors) if top else None,
                                skip_nested_repos=True)
        files = sorted(set(tracked).union(untracked))
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
