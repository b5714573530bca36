"""Read and parse the repo's YAML files into Documents; bad files become ScanErrors.

Each file is read and parsed once. On repos of more than a few hundred files the work is split
with one forked helper process (both cores), results come back through a pipe as `marshal` data
(YAML values are plain dicts, lists and scalars) and are put back in file order, so the output
is the same, document for document, as a serial parse.
"""
from __future__ import annotations

import gc
import os
import stat

from .model import Document, ScanError
from .yamlload import load_documents

DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024  # rendered stacks reach a few MB; 50 MB files are refused


class ParsedDocument(Document):
    """A Document from the repo, carrying the line tree the loader recorded (see yamlload.LoadedDoc)."""

    __slots__ = ("lines",)


def read_bytes(root: str, rel: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[bytes | None, ScanError | None]:
    """The file's bytes, or the reason it cannot be read. Never blocks on FIFOs or devices."""
    full = os.path.join(root, rel)
    try:
        fd = os.open(full, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return None, ScanError(rel, None, f"unreadable: {exc.strerror or exc}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            return None, ScanError(rel, None, f"unreadable: {what}; not parsed")
        if st.st_size > max_bytes:
            return None, ScanError(rel, None, f"file is {st.st_size / 1048576:.1f} MiB, over the "
                                              f"{max_bytes / 1048576:.0f} MiB limit; not parsed")
        chunks = []
        total = 0
        want = st.st_size + 1  # one more byte to see EOF (or growth) in the same call
        while total <= max_bytes:
            chunk = os.read(fd, min(want, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            want = 1 << 20
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except OSError as exc:
        return None, ScanError(rel, None, f"unreadable: {exc.strerror or exc}")
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # grew while we read it
        return None, ScanError(rel, None, f"file is over the {max_bytes / 1048576:.0f} MiB limit; not parsed")
    return data, None


def read_text(root: str, rel: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[str | None, ScanError | None]:
    """The file as text, or the reason it cannot be read as text."""
    data, err = read_bytes(root, rel, max_bytes)
    if err:
        return None, err
    if b"\0" in data[:8192]:
        return None, ScanError(rel, None, "binary file (NUL bytes); not parsed")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, ScanError(rel, line, f"not valid UTF-8 (byte {exc.start}); not parsed")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None


def _parse_raw(root: str, rel: str, max_bytes: int) -> tuple:
    """(docs as (line, index, body, lines) tuples, errors as (line, message) tuples): marshal-able."""
    text, err = read_text(root, rel, max_bytes)
    if err:
        return (), ((err.line, err.message),)
    loaded, load_errors = load_documents(text)
    return (tuple((d.line, d.index, d.body, d.lines) for d in loaded),
            tuple((e.line, e.message) for e in load_errors))


def _collect(rel: str, raw: tuple, docs: list[Document], errors: list[ScanError]) -> None:
    for line, index, body, lines in raw[0]:
        d = ParsedDocument(rel, line, index, body)
        d.lines = lines
        docs.append(d)
    for line, message in raw[1]:
        errors.append(ScanError(rel, line, message))


def parse_file(root: str, rel: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[list[Document], list[ScanError]]:
    docs: list[Document] = []
    errors: list[ScanError] = []
    _collect(rel, _parse_raw(root, rel, max_bytes), docs, errors)
    return docs, errors


# Below this many files a second process costs more (fork, transfer) than it saves (measured on
# the corpus: ~150 small files is break-even on 2 cores).
PARALLEL_MIN_FILES = 200


def _can_fork() -> bool:
    if not hasattr(os, "fork"):
        return False
    import threading

    return threading.active_count() == 1  # forking a threaded process is unsafe


# Set by the CLI (a one-shot process): after parsing, move everything alive into the GC's permanent
# generation. The parsed repo is most of the heap and holds no cycles; without this every full
# collection during the checks walks it again (measured: ~15-20% of a 10x synthetic scan).
FREEZE_AFTER_PARSE = False


def parse_files(root: str, rels: list[str], max_bytes: int = DEFAULT_MAX_FILE_BYTES,
                workers: int | None = None) -> tuple[list[Document], list[ScanError]]:
    """Every document of every file, in file order then document order; errors likewise."""
    enabled = gc.isenabled()
    gc.disable()  # the loader builds only trees: no cycles for the collector to find
    try:
        return _parse_files(root, rels, max_bytes, workers)
    finally:
        if enabled:
            gc.enable()
            if FREEZE_AFTER_PARSE:
                gc.freeze()


def _parse_files(root: str, rels: list[str], max_bytes: int, workers: int | None) -> tuple[list[Document], list[ScanError]]:
    if workers is None:
        workers = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
    raws: list[tuple] | None = None
    if workers > 1 and len(rels) >= PARALLEL_MIN_FILES and _can_fork():
        raws = _parse_forked(root, rels, max_bytes)
    if raws is None:
        raws = [_parse_raw(root, rel, max_bytes) for rel in rels]
    docs: list[Document] = []
    errors: list[ScanError] = []
    for rel, raw in zip(rels, raws):
        _collect(rel, raw, docs, errors)
    return docs, errors


# Work the parent does while the helper parses (registered by the CLI: importing the check and
# report modules, ~100 ms on the target repo, overlaps the parse instead of following it).
WHILE_PARSING: list = []


def _run_warmups() -> None:
    while WHILE_PARSING:
        job = WHILE_PARSING.pop(0)
        try:
            job()
        except Exception:  # a warm-up is an optimisation; the real call later reports any error
            pass


def _parse_forked(root: str, rels: list[str], max_bytes: int) -> list[tuple] | None:
    """Parse with one forked helper; None if the fork fails.

    Work is shared through a pipe pre-filled with chunk numbers: each process reads the next
    number (reads of 4 bytes from a pipe are atomic), so the faster one takes more. The parent
    first runs the WHILE_PARSING warm-ups. Results are put back in file order."""
    import marshal
    import signal

    n = len(rels)
    size = max(1, -(-n // 4000))  # chunks of `size` files; at most ~16 KiB of tokens in the pipe
    chunks = [(i, min(i + size, n)) for i in range(0, n, size)]
    try:
        tr, tw = os.pipe()
        os.write(tw, b"".join(k.to_bytes(4, "little") for k in range(len(chunks))))
        os.close(tw)
        r, w = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        for fd in (tr, r, w):
            os.close(fd)
        return None

    def take(into: dict) -> None:
        while True:
            tok = os.read(tr, 4)
            if len(tok) != 4:
                return
            k = int.from_bytes(tok, "little")
            lo, hi = chunks[k]
            into[k] = [_parse_raw(root, rel, max_bytes) for rel in rels[lo:hi]]

    if pid == 0:  # the helper: parse, send, and leave without running any of the parent's clean-up
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and kills us
            os.close(r)
            mine: dict = {}
            take(mine)
            try:
                payload = b"M" + marshal.dumps(mine)
            except ValueError:  # an object marshal cannot carry (never for YAML data, but be safe)
                import pickle

                payload = b"P" + pickle.dumps(mine, protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(w, "wb") as fh:
                fh.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    ours: dict = {}
    theirs: dict = {}
    reaped = False
    try:
        _run_warmups()
        take(ours)
        os.close(tr)
        tr = -1
        with os.fdopen(r, "rb") as fh:
            r = -1
            payload = fh.read()
        _, status = os.waitpid(pid, 0)
        reaped = True
        if os.waitstatus_to_exitcode(status) == 0 and payload:
            if payload[:1] == b"M":
                theirs = marshal.loads(memoryview(payload)[1:])
            else:
                import pickle

                theirs = pickle.loads(memoryview(payload)[1:])
    finally:
        for fd in (tr, r):
            if fd >= 0:
                os.close(fd)
        if not reaped:  # interrupted: do not leave the helper behind
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
    out: list = []
    for k, (lo, hi) in enumerate(chunks):
        got = ours.get(k)
        if got is None:
            got = theirs.get(k) if isinstance(theirs, dict) else None
        if got is None or len(got) != hi - lo:  # the helper died holding this chunk: parse it here
            got = [_parse_raw(root, rel, max_bytes) for rel in rels[lo:hi]]
        out.extend(got)
    return out
