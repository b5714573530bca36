"""Read the repo ahead: `posture scan PATH` starts discovering and parsing PATH before the CLI has
loaded itself.

The first ~60 ms of a scan are spent importing (click, the pipeline, the check modules, the report
templates) with the second core idle. So the console script, first thing, forks a helper
(twocore.fork_early) that discovers the repo's files and starts parsing them; when the scan reaches
its parse it claims the helper and takes the files still waiting, instead of starting from zero.

It is only a head start, never a different answer: the scan claims it only for the same root and
file-size limit it would use itself, it gets exactly the documents a serial parse gives (twocore's
guarantees), and when anything differs or fails it cancels the helper and does the work itself.
POSTURE_READAHEAD=0 turns it off.
"""
from __future__ import annotations

import os

from . import twocore

_pending: tuple[tuple[str, int], twocore.EarlyHelper] | None = None

# `posture scan`'s options, as the command line declares them (tests/test_readahead.py keeps these
# lists equal to the click command's): which take a value, which are flags. Anything else on the
# command line (--help, a typo) and no head start is taken: click then reports it as usual.
VALUE_OPTIONS = frozenset({
    "--format", "--output-dir", "-o", "--fail-under", "--fail-on", "--only", "--config", "--kubeconfig",
    "--context", "--baseline", "--fail-on-new", "--max-score-drop", "--history", "--age-key", "--opnsense-config",
})
FLAG_OPTIONS = frozenset({"--cluster", "--inspect-tls", "--no-cache", "-q", "--quiet", "-v", "--verbose"})
SHORT_FLAGS = frozenset("qv")


def scan_path(argv: list[str]) -> str | None:
    """The PATH of a `posture scan ... PATH ...` command line, or None when this is not one (or when the
    command line is anything this small reader is not sure of)."""
    if not argv or argv[0] != "scan":
        return None
    path = None
    args = iter(argv[1:])
    for tok in args:
        if tok == "--":
            rest = list(args)
            return rest[0] if len(rest) == 1 and path is None else None
        if tok.startswith("--"):
            name, has_value, _ = tok.partition("=")
            if name in VALUE_OPTIONS:
                if not has_value and next(args, None) is None:
                    return None
            elif name not in FLAG_OPTIONS or has_value:
                return None
        elif tok.startswith("-") and tok != "-":
            if tok[1] == "o":  # -o DIR or -oDIR
                if len(tok) == 2 and next(args, None) is None:
                    return None
            elif not set(tok[1:]) <= SHORT_FLAGS:
                return None
        elif path is None:
            path = tok
        else:
            return None  # a second argument: click will say what is wrong
    return path


def start_for_command_line(argv: list[str]) -> None:
    """Called by the console script before it loads anything else."""
    if os.environ.get("POSTURE_READAHEAD", "").strip() in ("0", "false", "no", "off"):
        return
    path = scan_path(argv)
    if path and os.path.isdir(path):
        start(path)


def start(path: str, max_bytes: int | None = None) -> bool:
    """Fork the helper for `path` (a directory), parsing with the `max_bytes` file-size limit (None: the
    default). False when no helper could be forked. Nothing beyond os and twocore is imported here:
    everything the helper needs it imports itself, after the fork, in parallel with this process."""
    global _pending
    cancel()
    root = os.path.abspath(path)
    helper = twocore.fork_early(lambda: _plan(root), _parse_in_helper(root, max_bytes))
    if helper is None:
        return False
    _pending = ((root, max_bytes), helper)
    return True


def claim(path: str, max_bytes: int | None) -> twocore.EarlyHelper | None:
    """The helper started for exactly this root and file-size limit (None: the default), once; else
    None, and any other helper is cancelled (its work would not be the scan's)."""
    global _pending
    if _pending is None:
        return None
    key, helper = _pending
    _pending = None
    if key == (os.path.abspath(path), max_bytes):
        return helper
    helper.cancel()
    return None


def cancel() -> None:
    global _pending
    if _pending is not None:
        _pending[1].cancel()
        _pending = None


def _plan(root: str) -> tuple[tuple, list]:
    """In the helper: discover the repo. The description is the file set; the tasks are the chunks of
    YAML files the parse would make of it (the scan makes the same list from the description)."""
    from .discover import discover
    from .rawparse import file_chunks

    fs = discover(root)
    description = (fs.root, fs.files, [(e.path, e.line, e.message, e.kind) for e in fs.errors],
                   fs.via_git, fs.git_commit, fs.web_url)
    return description, file_chunks(fs.yaml_files)


def _parse_in_helper(root: str, max_bytes: int | None):
    def run(chunk: tuple[str, ...]) -> list:
        from .rawparse import DEFAULT_MAX_FILE_BYTES, parse_chunk

        return parse_chunk(root, chunk, max_bytes or DEFAULT_MAX_FILE_BYTES)

    return run


def file_set(description: tuple):
    """The FileSet a helper's description stands for."""
    from .discover import FileSet
    from .model import ScanError

    root, files, errors, via_git, commit, web_url = description
    return FileSet(root=root, files=list(files), errors=[ScanError(*e) for e in errors], via_git=via_git,
                   git_commit=commit, web_url=web_url)
