"""Find the files of a repo: `git ls-files` in a work tree, else a walk honouring `.gitignore`.

Every file that is skipped for a reason a user should know (a link out of the tree, unreadable,
too large, binary) is returned as a ScanError; nothing is dropped silently.
"""
from __future__ import annotations

import os
import re
import stat

from .records import SlotRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .model import ScanError

YAML_SUFFIXES = (".yaml", ".yml")
# Non-YAML files some checks read as text (SOPS json/env, renovate config, gitignore, OPNsense).
TEXT_NAMES = (".gitignore", ".sopsrc", "renovate.json", "renovate.json5", ".renovaterc", ".renovaterc.json",
              ".renovaterc.json5")
TEXT_SUFFIXES = (".sops.json", ".sops.env", ".json5", ".json", ".env")
SKIP_DIRS = {".git", "node_modules", ".venv", "__pycache__"}


# Discovery is the first thing the console script's early helper does (scanner.readahead), before the
# command has loaded anything: FileSet is a plain class and ScanError is imported when one is made,
# so the helper does not first load the dataclasses module and the scan's model (~8 ms).
class FileSet(SlotRecord):
    """The files of a repository the scan reads, and what went wrong finding them."""

    __slots__ = ("root", "files", "errors", "via_git", "git_commit", "web_url")

    def __init__(self, root: str, files: list[str] | None = None, errors: list[ScanError] | None = None,
                 via_git: bool = False, git_commit: str | None = None, web_url: str | None = None):
        self.root = root
        self.files = files if files is not None else []  # repo-relative POSIX paths of every file found
        self.errors = errors if errors is not None else []
        self.via_git, self.git_commit, self.web_url = via_git, git_commit, web_url

    @property
    def yaml_files(self) -> list[str]:
        return [f for f in self.files if f.lower().endswith(YAML_SUFFIXES)]


def _error(path: str, message: str) -> ScanError:
    from .model import ScanError

    return ScanError(path, None, message)


# (subprocess is imported where git runs: discovery is the first thing the console script's early helper
# does, and a repository that is not a git checkout never needs it)


def _git(root: str, *args: str) -> str | None:
    import subprocess

    try:
        out = subprocess.run(["git", "-C", root, *args], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.decode("utf-8", "surrogateescape") if out.returncode == 0 else None


def _git_many(root: str, *commands: tuple[str, ...]) -> list[str | None]:
    """Several read-only git commands run side by side (each is a process start-up, ~5 ms)."""
    import subprocess

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
    """A `match(path) -> bool` for one .gitignore: gitignore semantics (the last matching pattern
    decides, `!` re-includes), with pathspec's compiled patterns matched directly. `path` is relative
    to the .gitignore's directory, with a trailing "/" for a directory."""
    simple = _simple_matcher(lines)
    if simple is not None:
        return simple
    import pathspec  # only repos without git metadata that carry a .gitignore need it

    spec = pathspec.PathSpec.from_lines("gitignore", lines)
    pats = [(p.include, p.regex) for p in spec.patterns
            if getattr(p, "include", None) is not None and getattr(p, "regex", None) is not None]
    if len(pats) != len(spec.patterns) - sum(1 for p in spec.patterns if getattr(p, "include", None) is None):
        return lambda path: spec.match_file(path)  # an unfamiliar pattern type: let pathspec decide
    if all(inc for inc, _ in pats):
        if not pats:
            return lambda path: False
        try:
            combined = re.compile("|".join(f"(?:{rx.pattern})" for _, rx in pats))
            return lambda path: combined.search(path) is not None
        except (re.error, TypeError):
            pass
    regexes = [(inc, rx.search) for inc, rx in pats]

    def match(path: str) -> bool:
        result = False
        for inc, search in regexes:
            if search(path) is not None:
                result = inc
        return result

    return match


# Most .gitignore files hold only names and `*` globs (`.DS_Store`, `*.key`, `/age.key`, `charts/`). Those
# are matched here, segment by segment (names in a set, globs in one regex), without pathspec: importing
# it (and the dataclasses, typing and pathlib it loads) and compiling a regex per pattern cost ~15 ms,
# first thing in the console script's early helper. Anything else (`!`, `?`, `[...]`, `**`, a lone `*`
# segment in a path, backslash escapes, surrounding blanks) goes to pathspec. The answers are pathspec's,
# query for query (tests/test_discover_gitignore.py).
_NOT_SIMPLE = frozenset("!?[\\")


def _simple_matcher(lines):
    """A matcher for a .gitignore of simple patterns only, else None."""
    names: list[tuple[str, bool]] = []  # (glob, directories only): match any segment of the path
    anchored: list[tuple[list[str], bool]] = []  # (globs of the first segments, directories only)
    for line in lines:
        if not line or line.startswith("#"):
            continue
        if line != line.strip() or "**" in line or not _NOT_SIMPLE.isdisjoint(line):
            return None
        dir_only = line.endswith("/")
        body = line[:-1] if dir_only else line
        is_anchored = "/" in body
        body = body[1:] if body.startswith("/") else body
        segments = body.split("/")
        if any(seg in ("", ".", "..") for seg in segments) or (is_anchored and "*" in segments):
            return None  # (pathspec gives a lone `*` segment of a path pattern a meaning of its own)
        if is_anchored:
            anchored.append((segments, dir_only))
        else:
            names.append((body, dir_only))
    if not names and not anchored:
        return lambda path: False
    # Any-depth names: literal ones in sets, globs in one regex per kind (a segment never holds "/").
    exact = {g for g, d in names if "*" not in g and not d}
    exact_dirs = {g for g, d in names if "*" not in g and d}
    globbed = _segment_regex([g for g, d in names if "*" in g and not d])
    globbed_dirs = _segment_regex([g for g, d in names if "*" in g and d])

    def match(path: str) -> bool:
        segs = path.split("/")  # (a directory's path ends with "/": its last segment is "")
        last = len(segs) - 1  # segs[i] names a directory when i < last
        for i, seg in enumerate(segs):
            if seg in exact or (globbed is not None and globbed(seg) is not None):
                return True
            if i < last and (seg in exact_dirs or (globbed_dirs is not None and globbed_dirs(seg) is not None)):
                return True
        for globs, dir_only in anchored:
            k = len(globs)
            if len(segs) < k or (dir_only and k > last):
                continue
            for g, seg in zip(globs, segs):  # (a loop, not all(): most paths fail at the first segment)
                if not _glob_match(g, seg):
                    break
            else:
                return True
        return False

    return match


def _segment_regex(globs: list[str]):
    """`fullmatch` of any of `*`-globs over one path segment, or None for no globs."""
    if not globs:
        return None
    return re.compile("|".join("[^/]*".join(map(re.escape, g.split("*"))) for g in globs)).fullmatch


def _glob_match(glob: str, name: str) -> bool:
    """fnmatch for a glob whose only wildcard is `*` (never crossing "/": both are single segments)."""
    if "*" not in glob:
        return glob == name
    parts = glob.split("*")
    head, tail = parts[0], parts[-1]
    if len(name) < len(head) + len(tail) or not name.startswith(head) or not name.endswith(tail):
        return False
    pos, end = len(head), len(name) - len(tail)
    for part in parts[1:-1]:
        if part:
            found = name.find(part, pos, end)
            if found < 0:
                return False
            pos = found + len(part)
    return True


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
            errors.append(_error(rel_dir or ".", f"unreadable directory: {exc.strerror or exc}; not scanned"))
            continue
        for e in entries:
            if e.name == ".gitignore":
                try:
                    with open(e.path, encoding="utf-8", errors="replace") as fh:
                        specs.append((rel_dir, _gitignore_matcher(fh.read().splitlines())))
                except (OSError, ValueError) as exc:
                    errors.append(_error(f"{rel_dir}/.gitignore".lstrip("/"),
                                         f"unreadable: {getattr(exc, 'strerror', None) or exc}"))
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
                        errors.append(_error(rel, "symbolic link to a directory outside the repository; not followed"))
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


def discover(root: str) -> FileSet:
    root = os.path.abspath(root)
    fs = FileSet(root=root)
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
                fs.errors.append(_error(rel, "broken or looping symbolic link; not read"))
                continue
            if not _inside(target, root):
                fs.errors.append(_error(rel, "symbolic link pointing outside the repository; not read"))
                continue
            if os.path.isdir(target):
                continue  # the directory's files are listed on their own
        fs.files.append(rel)
    return fs
