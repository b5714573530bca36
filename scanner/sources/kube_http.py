"""Raw, read-only GETs against the Kubernetes API through the official client, with retries.

The official client is used for what it is good at (kubeconfig and in-cluster loading, auth
plugins, TLS, token refresh); its generated model classes are not: deserialising every object into
Python models is slow and drops fields the checks read, so we GET the JSON and parse it ourselves.
"""
from __future__ import annotations

import json
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from scanner.core.errors import SourceError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF = 8.0  # seconds between attempts without a Retry-After
MAX_RETRY_AFTER = 30.0  # a server asking for longer is not worth waiting for in a scan
# An API server accepts a connection (TCP and TLS handshake, both bounded by this) in milliseconds;
# waiting longer only delays the answer for a cluster that is down or a firewall that drops packets.
CONNECT_TIMEOUT = 5.0
# The first request (GET /version) is the reachability probe: asked once, never retried, and its
# answer awaited no longer than this (it needs no storage behind the API server).
PROBE_TIMEOUT = 10.0


class ClusterUnavailable(SourceError):
    """Nothing can be read: bad kubeconfig, unreachable server, or discovery refused (exit 3)."""


class Unreachable(Exception):
    """The API server did not answer the probe at all; the message says why, in a few words."""


class KubeError(Exception):
    def __init__(self, status: int, path: str, message: str, body: dict | None = None):
        super().__init__(f"{status} on {path}: {message}")
        self.status = status
        self.path = path
        self.message = message
        self.body = body or {}


@dataclass
class Stats:
    """Requests made to the API server (for --verbose and the tests)."""

    requests: int = 0
    retries: int = 0
    log: list = field(default_factory=list)  # (path, status) per request, for --verbose and tests
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, path: str, status: int, retried: bool) -> None:
        with self._lock:
            self.requests += 1
            self.retries += int(retried)
            self.log.append((path, status))


def load_configuration(kubeconfig: str | None, context: str | None, pool_size: int):
    """A kubernetes.client.Configuration and the context name it came from."""
    from kubernetes import client, config

    cfg = client.Configuration()
    try:
        # Inside a pod with nothing else asked for: the pod's service account. An explicit
        # kubeconfig (argument or $KUBECONFIG) or context always wins.
        if (kubeconfig is None and context is None and not os.environ.get("KUBECONFIG")
                and os.environ.get("KUBERNETES_SERVICE_HOST")):
            config.load_incluster_config(client_configuration=cfg)
            ctx_name = "in-cluster"
        else:
            # $KUBECONFIG read now: the client reads it once, when it is first imported.
            path = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
            config.load_kube_config(config_file=path, context=context, client_configuration=cfg,
                                    persist_config=False)
            _, current = config.list_kube_config_contexts(path)
            ctx_name = context or (current or {}).get("name")
    except Exception as exc:  # the loader raises ConfigException, OSError, yaml errors, ...
        raise ClusterUnavailable(f"cannot load Kubernetes configuration: {exc}") from exc
    # Our own loop retries (with Retry-After); urllib3's silent retries would multiply the timeouts.
    cfg.retries = 0
    cfg.connection_pool_maxsize = max(pool_size, 1)
    return cfg, ctx_name


class KubeHTTP:
    """GET JSON from the API server; 429/5xx and transport errors retried with backoff."""

    def __init__(self, api_client, *, timeout: float, retries: int, connect_timeout: float = CONNECT_TIMEOUT,
                 sleep: Callable[[float], None] = time.sleep):
        self.api = api_client
        self.api.user_agent = "gitops-posture (read-only)"
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retries = max(retries, 0)
        self.sleep = sleep
        self.stats = Stats()

    @property
    def host(self) -> str:
        return self.api.configuration.host

    def probe(self) -> dict | None:
        """GET /version once, before anything else. Unreachable (with the reason) when nothing
        answers; None when the server answers with an HTTP error (discovery decides then)."""
        try:
            status, _, raw = self._get("/version", [], "application/json", read_timeout=PROBE_TIMEOUT)
        except _TRANSPORT_ERRORS as exc:
            self.stats.add("/version", 0, False)
            raise Unreachable(describe_transport_error(exc)) from None
        self.stats.add("/version", status, False)
        return _safe_decode(raw) if 200 <= status < 300 else None

    def get_json(self, path: str, query: Iterable[tuple[str, str]] = (), accept: str = "application/json") -> dict:
        query = list(query)
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                status, headers, raw = self._get(path, query, accept)
            except _TRANSPORT_ERRORS as exc:
                self.stats.add(path, 0, not last)
                if last:
                    raise KubeError(0, path, f"request failed: {describe_transport_error(exc)}") from None
                self.sleep(_backoff(attempt))
                continue
            self.stats.add(path, status, status in RETRY_STATUSES and not last)
            if 200 <= status < 300:
                return _decode(raw, path)
            if status in RETRY_STATUSES and not last:
                self.sleep(_retry_after(headers) or _backoff(attempt))
                continue
            body = _safe_decode(raw)
            raise KubeError(status, path, str(body.get("message") or body.get("reason") or f"HTTP {status}"), body)
        raise AssertionError("unreachable")

    def _get(self, path: str, query: list, accept: str, read_timeout: float | None = None):
        """One GET through the official client: (status, headers, body bytes)."""
        from kubernetes.client.exceptions import ApiException

        timeout = (self.connect_timeout, read_timeout or self.timeout)  # the client's (connect, read) pair
        headers = {"Accept": accept}
        if hasattr(self.api, "param_serialize"):  # kubernetes >= 30: param_serialize + call_api(method, url)
            method, url, headers, _, _ = self.api.param_serialize(
                "GET", path, query_params=query, header_params=headers, auth_settings=["BearerToken"])
            try:
                resp = self.api.call_api(method, url, header_params=headers, _request_timeout=timeout)
            except ApiException as exc:  # TLS failures surface as status 0
                if exc.status:
                    return exc.status, exc.headers or {}, (exc.body or "").encode()
                raise _Transport(str(exc.reason), exc.__context__) from None
            return resp.status, resp.headers, resp.read()
        try:  # older generated clients: call_api(path, method, ...) raising on non-2xx
            resp, status, resp_headers = self.api.call_api(
                path, "GET", query_params=query, header_params=headers, auth_settings=["BearerToken"],
                _preload_content=False, _return_http_data_only=False, _request_timeout=timeout)
            return status, resp_headers, resp.data
        except ApiException as exc:
            if exc.status:
                return exc.status, exc.headers or {}, (exc.body or "").encode() if isinstance(exc.body, str) else (exc.body or b"")
            raise _Transport(str(exc.reason), exc.__context__) from None


class _Transport(Exception):
    """A transport failure the client reported as an ApiException with status 0; `cause` is the
    urllib3 error it came from, when there was one."""

    def __init__(self, message: str, cause: BaseException | None = None):
        super().__init__(message)
        self.cause = cause


def _transport_errors() -> tuple:
    import urllib3

    return (_Transport, urllib3.exceptions.HTTPError, OSError)


_TRANSPORT_ERRORS = _transport_errors()


def _backoff(attempt: int) -> float:
    # Exponential with jitter so concurrent workers do not retry in lock-step.
    return min(MAX_BACKOFF, 0.5 * 2**attempt) * random.uniform(0.8, 1.2)


def _retry_after(headers) -> float | None:
    value = (headers or {}).get("Retry-After") if hasattr(headers, "get") else None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER) if value is not None else None
    except ValueError:  # an HTTP date: rare from API servers, fall back to our backoff
        return None


def _decode(raw: bytes, path: str) -> dict:
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise KubeError(200, path, f"response is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise KubeError(200, path, "response is not a JSON object")
    return body


def _safe_decode(raw: bytes) -> dict:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return {"message": (raw or b"")[:200].decode("utf-8", "replace")}
    return body if isinstance(body, dict) else {}


def describe_transport_error(exc: BaseException) -> str:
    """A few words for a failed request, instead of urllib3's nested repr (which names the pool,
    the retry count and the whole cause chain, and runs over several hundred characters)."""
    import ssl

    import urllib3.exceptions as u3

    if isinstance(exc, _Transport) and exc.cause is not None:
        exc = exc.cause
    if isinstance(exc, u3.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    # NewConnectionError is a ConnectTimeoutError in urllib3 2: the most specific first.
    if isinstance(exc, u3.NameResolutionError):
        return "the host name does not resolve"
    if isinstance(exc, u3.NewConnectionError):
        return _os_reason(exc.__cause__ or exc.__context__) or "cannot connect"
    if isinstance(exc, u3.ConnectTimeoutError):
        return "no connection before the connect timeout (a firewall dropping packets, or nothing at that address)"
    if isinstance(exc, u3.ReadTimeoutError):
        return "it accepted the connection but did not answer before the timeout"
    if isinstance(exc, u3.SSLError):
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
        if isinstance(inner, ssl.SSLCertVerificationError):
            return f"TLS: the server certificate is not trusted ({inner.verify_message})"
        return f"TLS handshake failed ({_one_line(inner)})"
    if isinstance(exc, u3.ProtocolError):
        inner = exc.args[-1] if exc.args else None
        return f"the connection broke off ({_os_reason(inner) or _one_line(inner or exc)})"
    return _os_reason(exc) or _one_line(exc)


def _os_reason(exc) -> str | None:
    """'connection refused', 'no route to host', ...: the errno's text, as a clause."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return None


def _one_line(value) -> str:
    text = " ".join(str(value).split())
    return text if len(text) < 200 else text[:200] + "..."
