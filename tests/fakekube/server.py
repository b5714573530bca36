"""A fake Kubernetes API server for tests: the list/get wire protocol over HTTPS, nothing else.

No real API server can run on the test machines, so this speaks just enough of the protocol for the
live source: discovery (`/api`, `/api/v1`, `/apis`, `/apis/<g>`, `/apis/<g>/<v>`, optionally the
aggregated form), cluster-wide and per-namespace lists with `limit`/`continue`, gets, field
selectors, the PartialObjectMetadata(List) form, bearer-token auth, and failure injection (403 per
resource, groups not installed -> 404, a 429 with Retry-After, an expired continue token, a port
that refuses connections, a server that never answers).
Every request is logged (method, path, query, Accept) so tests can prove what was never asked.

The catalogue below is independent of the scanner's RESOURCE_TYPES on purpose: it models a cluster,
including resources the scanner must not read (configmaps) and several versions of some groups.
"""
from __future__ import annotations

import base64
import copy
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import yaml

from .tlsutil import make_ca_and_server_cert

# (group, [versions, preferred first], plural, kind, namespaced)
CATALOGUE = [
    ("", ["v1"], "namespaces", "Namespace", False),
    ("", ["v1"], "pods", "Pod", True),
    ("", ["v1"], "services", "Service", True),
    ("", ["v1"], "serviceaccounts", "ServiceAccount", True),
    ("", ["v1"], "secrets", "Secret", True),
    ("", ["v1"], "configmaps", "ConfigMap", True),
    ("", ["v1"], "persistentvolumeclaims", "PersistentVolumeClaim", True),
    ("", ["v1"], "nodes", "Node", False),
    ("apps", ["v1"], "deployments", "Deployment", True),
    ("apps", ["v1"], "statefulsets", "StatefulSet", True),
    ("apps", ["v1"], "daemonsets", "DaemonSet", True),
    ("apps", ["v1"], "replicasets", "ReplicaSet", True),
    ("batch", ["v1"], "jobs", "Job", True),
    ("batch", ["v1"], "cronjobs", "CronJob", True),
    ("networking.k8s.io", ["v1"], "ingresses", "Ingress", True),
    ("networking.k8s.io", ["v1"], "networkpolicies", "NetworkPolicy", True),
    ("rbac.authorization.k8s.io", ["v1"], "roles", "Role", True),
    ("rbac.authorization.k8s.io", ["v1"], "rolebindings", "RoleBinding", True),
    ("rbac.authorization.k8s.io", ["v1"], "clusterroles", "ClusterRole", False),
    ("rbac.authorization.k8s.io", ["v1"], "clusterrolebindings", "ClusterRoleBinding", False),
    ("gateway.networking.k8s.io", ["v1", "v1beta1"], "gateways", "Gateway", True),
    ("gateway.networking.k8s.io", ["v1", "v1beta1"], "httproutes", "HTTPRoute", True),
    ("gateway.networking.k8s.io", ["v1"], "grpcroutes", "GRPCRoute", True),
    ("cilium.io", ["v2"], "ciliumnetworkpolicies", "CiliumNetworkPolicy", True),
    ("cilium.io", ["v2"], "ciliumclusterwidenetworkpolicies", "CiliumClusterwideNetworkPolicy", False),
    ("kyverno.io", ["v1"], "clusterpolicies", "ClusterPolicy", False),
    ("kyverno.io", ["v1"], "policies", "Policy", True),
    # served only at v2 and v2beta1: the scanner must find it outside the group's preferred v1
    ("kyverno.io", ["v2", "v2beta1"], "policyexceptions", "PolicyException", True),
    ("wgpolicyk8s.io", ["v1alpha2"], "policyreports", "PolicyReport", True),
    ("wgpolicyk8s.io", ["v1alpha2"], "clusterpolicyreports", "ClusterPolicyReport", False),
    # preferred v1beta1 in this cluster (an older ESO): the scanner must follow the preference
    ("external-secrets.io", ["v1beta1", "v1"], "externalsecrets", "ExternalSecret", True),
    ("external-secrets.io", ["v1beta1", "v1"], "secretstores", "SecretStore", True),
    ("external-secrets.io", ["v1beta1", "v1"], "clustersecretstores", "ClusterSecretStore", False),
    ("external-secrets.io", ["v1beta1", "v1"], "clusterexternalsecrets", "ClusterExternalSecret", False),
    ("cert-manager.io", ["v1"], "certificates", "Certificate", True),
    ("kustomize.toolkit.fluxcd.io", ["v1"], "kustomizations", "Kustomization", True),
    ("helm.toolkit.fluxcd.io", ["v2"], "helmreleases", "HelmRelease", True),
    ("source.toolkit.fluxcd.io", ["v1"], "gitrepositories", "GitRepository", True),
    ("source.toolkit.fluxcd.io", ["v1", "v1beta2"], "ocirepositories", "OCIRepository", True),
    ("source.toolkit.fluxcd.io", ["v1"], "helmrepositories", "HelmRepository", True),
    ("volsync.backube", ["v1alpha1"], "replicationsources", "ReplicationSource", True),
    ("monitoring.coreos.com", ["v1"], "servicemonitors", "ServiceMonitor", True),
    ("monitoring.coreos.com", ["v1"], "podmonitors", "PodMonitor", True),
    ("gateway.envoyproxy.io", ["v1alpha1"], "securitypolicies", "SecurityPolicy", True),
    ("traefik.io", ["v1alpha1"], "middlewares", "Middleware", True),
]

META_AS = "as=PartialObjectMetadataList"
ANSWERS = ("normal", "refuse", "silent")


class FakeKube:
    """The server and its knobs. Use as a context manager; `url`, `requests`, `write_kubeconfig`."""

    def __init__(self, objects=(), *, workdir: Path, token: str = "fake-token", tls: bool = True,
                 missing_groups=(), forbidden=(), rate_limit_once=(), aggregated: bool = False,
                 ignore_metadata_accept: bool = False, expire_continue_once=(), server_error=(),
                 answer: str = "normal"):
        if answer not in ANSWERS:
            raise ValueError(f"answer must be one of {ANSWERS}")
        self.workdir = Path(workdir)
        # "normal"; "refuse": the port is bound but never listens, so every connection is refused (a
        # cluster that is down; unlike a stopped server, no other process can take the port meanwhile);
        # "silent": it listens but never accepts, so the kernel completes the TCP handshake and then
        # nothing answers, not even TLS (a hung API server, a port-forward to nowhere).
        self.answer = answer
        self.token = token
        self.tls = tls
        self.missing_groups = set(missing_groups)
        # plurals ("secrets") or "group/plural" ("kyverno.io/clusterpolicies"), optionally ":verb" ("secrets:get")
        self.forbidden = set(forbidden)
        self.rate_limit_once = set(rate_limit_once)  # paths answered 429 once
        self.aggregated = aggregated
        self.ignore_metadata_accept = ignore_metadata_accept  # a broken proxy: full objects regardless
        self.expire_continue_once = set(expire_continue_once)  # paths whose first continue gets a 410
        self.server_error = set(server_error)  # paths always answered 500
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._store: dict[tuple[str, str], list[dict]] = {}
        self._by_kind = {(g, k): (g, p) for g, _, p, k, _ in CATALOGUE}
        for obj in objects:
            self.add(obj)

    # ---- data ------------------------------------------------------------------------------
    def add(self, obj: dict) -> None:
        group = obj["apiVersion"].rpartition("/")[0]
        key = self._by_kind[(group, obj["kind"])]
        self._store.setdefault(key, []).append(copy.deepcopy(obj))

    def served(self):
        for g, versions, plural, kind, namespaced in CATALOGUE:
            if g not in self.missing_groups:
                yield g, versions, plural, kind, namespaced

    # ---- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "FakeKube":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        scheme = "https" if self.tls else "http"
        if self.tls:  # a kubeconfig trusts the CA whatever the server then does
            self.ca_path, cert, key = make_ca_and_server_cert(self.workdir)
        if self.answer != "normal":
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._socket.bind(("127.0.0.1", 0))
            if self.answer == "silent":
                self._socket.listen(16)
            self.url = f"{scheme}://127.0.0.1:{self._socket.getsockname()[1]}"
            return
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self._httpd.ssl_context = ctx
        self.url = f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self.answer != "normal":
            self._socket.close()
            return
        self._httpd.shutdown()
        self._httpd.server_close()

    def write_kubeconfig(self, path: Path | None = None, *, token: str | None = None, context: str = "fake") -> Path:
        path = Path(path or self.workdir / "kubeconfig")
        cluster = {"server": self.url}
        if self.tls:
            cluster["certificate-authority"] = str(self.ca_path)
        doc = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "fake", "cluster": cluster}],
            "users": [{"name": "scanner", "user": {"token": token or self.token}}],
            "contexts": [{"name": context, "context": {"cluster": "fake", "user": "scanner"}}],
            "current-context": context,
        }
        path.write_text(yaml.safe_dump(doc))
        return path

    # ---- log queries -----------------------------------------------------------------------
    def log(self, path_contains: str = "") -> list[dict]:
        with self._lock:
            return [r for r in self.requests if path_contains in r["path"]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    ssl_context: ssl.SSLContext | None = None

    def finish_request(self, request, client_address):
        # TLS handshake in the connection's own thread, not in the accept loop.
        if self.ssl_context is not None:
            try:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeKube
    protocol_version = "HTTP/1.1"  # keep-alive, as the real server: the client pools connections
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stalls

    def log_message(self, *args):  # quiet: the request log is structured, below
        pass

    # ---- plumbing ----------------------------------------------------------------------------
    def _send(self, code: int, body: dict, headers: dict | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)
        self._entry["status"] = code

    def _status(self, code: int, reason: str, message: str, **extra) -> None:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": extra.pop("metadata", {}), "status": "Failure",
                "message": message, "reason": reason, "code": code}
        self._send(code, body, extra.get("headers"))

    def do_GET(self):
        fake = self.fake
        u = urlparse(self.path)
        self._entry = {"method": "GET", "path": u.path, "query": parse_qs(u.query),
                       "accept": self.headers.get("Accept", ""), "status": None}
        with fake._lock:
            fake.requests.append(self._entry)
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token != fake.token:  # the scheme is case-insensitive (RFC 7235)
            return self._status(401, "Unauthorized", "Unauthorized")
        try:
            self._route(u.path.rstrip("/"), parse_qs(u.query))
        except Exception as exc:  # a fake bug must show as a 500, not hang the client
            self._status(500, "InternalError", f"fake server error: {exc!r}")

    def do_POST(self):  # the scanner is read-only; anything else is a test failure
        self._entry = {"method": "POST", "path": self.path, "query": {}, "accept": "", "status": None}
        with self.fake._lock:
            self.fake.requests.append(self._entry)
        self._status(405, "MethodNotAllowed", "read-only fake")

    do_PUT = do_PATCH = do_DELETE = do_POST

    # ---- routing -------------------------------------------------------------------------------
    def _route(self, path: str, q: dict) -> None:
        fake = self.fake
        parts = path.split("/")[1:]
        if path == "/version":
            return self._send(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.2-fake", "platform": "linux/amd64"})
        if path == "/api":
            return self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "x"}]})
        if path == "/api/v1":
            return self._send(200, self._resource_list("", "v1"))
        if path == "/apis":
            if fake.aggregated and "APIGroupDiscoveryList" in self.headers.get("Accept", ""):
                return self._send(200, self._aggregated())
            return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                    "groups": [self._group(g) for g in self._groups()]})
        if parts[0] == "apis" and len(parts) == 2:
            return self._send(200, self._group(parts[1])) if parts[1] in self._groups() else self._not_found()
        if parts[0] == "apis" and len(parts) == 3:
            rl = self._resource_list(parts[1], parts[2])
            return self._send(200, rl) if rl["resources"] else self._not_found()
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return self._not_found()
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        entry = self._entry_for(group, version, rest[0])
        if entry is None or len(rest) > 2:
            return self._not_found()
        _, _, plural, kind, namespaced = entry
        verb = "get" if len(rest) == 2 else "list"
        if {plural, f"{group}/{plural}", f"{plural}:{verb}", f"{group}/{plural}:{verb}"} & fake.forbidden:
            scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            return self._status(403, "Forbidden",
                                f'{plural}{"." + group if group else ""} is forbidden: User "system:serviceaccount:posture:posture" '
                                f'cannot {verb} resource "{plural}" in API group "{group}" {scope}')
        if path in fake.server_error:
            return self._status(500, "InternalError", "etcdserver: request timed out")
        if path in fake.rate_limit_once:
            fake.rate_limit_once.discard(path)
            return self._status(429, "TooManyRequests", "Too many requests, please try again later.",
                                headers={"Retry-After": "1"})
        api_version = f"{group}/{version}" if group else version
        items = [o for o in fake._store.get((group, plural), [])
                 if namespace is None or o["metadata"].get("namespace") == namespace]
        meta = META_AS in self.headers.get("Accept", "") and not fake.ignore_metadata_accept
        if len(rest) == 2:
            if namespaced and namespace is None:
                return self._not_found()
            hit = [o for o in items if o["metadata"]["name"] == rest[1]]
            if not hit:
                return self._not_found()
            return self._send(200, self._shape(hit[0], api_version, kind, meta))
        items = self._select(items, q.get("fieldSelector", [""])[0], plural)
        if items is None:
            return self._status(400, "BadRequest", "field label not supported")
        items.sort(key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]))
        return self._list(path, q, items, api_version, kind, meta)

    def _list(self, path, q, items, api_version, kind, meta) -> None:
        fake = self.fake
        limit = int(q.get("limit", ["0"])[0] or 0)
        token = q.get("continue", [""])[0]
        start = 0
        if token:
            if path in fake.expire_continue_once:
                fake.expire_continue_once.discard(path)
                return self._status(410, "Expired", "The provided continue parameter is too old",
                                    metadata={"continue": token})
            start = json.loads(base64.b64decode(token))["start"]
        page = items[start:start + limit] if limit else items[start:]
        end = start + len(page)
        md = {"resourceVersion": "12345"}
        if limit and end < len(items):
            md["continue"] = base64.b64encode(json.dumps({"start": end, "rv": 12345}).encode()).decode()
            md["remainingItemCount"] = len(items) - end
        body = {"apiVersion": "meta.k8s.io/v1" if meta else api_version,
                "kind": "PartialObjectMetadataList" if meta else f"{kind}List",
                "metadata": md}
        # Real list items carry no apiVersion/kind (the metadata form does); the client fills them in.
        body["items"] = [self._shape(o, api_version, kind, meta, in_list=True) for o in page]
        self._send(200, body)

    # ---- shapes ----------------------------------------------------------------------------------
    def _shape(self, obj, api_version, kind, meta, in_list=False) -> dict:
        if meta:
            return {"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
                    "metadata": copy.deepcopy(obj["metadata"])}
        out = copy.deepcopy(obj)
        if in_list:
            out.pop("apiVersion", None)
            out.pop("kind", None)
        else:
            out["apiVersion"], out["kind"] = api_version, kind
        return out

    @staticmethod
    def _select(items, selector: str, plural: str):
        for term in filter(None, selector.split(",")):
            neg = "!=" in term
            field, _, value = term.partition("!=" if neg else "=")
            field = field.rstrip("=")
            value = value.lstrip("=")
            if field in ("metadata.name", "metadata.namespace"):
                get = (lambda o, f=field.split(".")[1]: o["metadata"].get(f))
            elif field == "type" and plural == "secrets":
                get = (lambda o: o.get("type", "Opaque"))
            else:
                return None
            items = [o for o in items if (get(o) == value) != neg]
        return list(items)

    def _groups(self) -> list[str]:
        return list(dict.fromkeys(g for g, *_ in self.fake.served() if g))

    def _group(self, name: str) -> dict:
        versions = list(dict.fromkeys(v for g, vs, *_ in self.fake.served() if g == name for v in vs))
        # preferred: the first version of the group's first resource
        preferred = next(vs[0] for g, vs, *_ in self.fake.served() if g == name)
        versions.remove(preferred)
        versions.insert(0, preferred)
        return {"name": name, "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
                "preferredVersion": {"groupVersion": f"{name}/{preferred}", "version": preferred}}

    def _entry_for(self, group, version, plural):
        for e in self.fake.served():
            if e[0] == group and version in e[1] and e[2] == plural:
                return e
        return None

    def _resource_list(self, group: str, version: str) -> dict:
        res = [{"name": p, "singularName": k.lower(), "namespaced": ns, "kind": k,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
               for g, vs, p, k, ns in self.fake.served() if g == group and version in vs]
        res += [{"name": f"{r['name']}/status", "namespaced": r["namespaced"], "kind": r["kind"],
                 "verbs": ["get", "patch", "update"]} for r in list(res)]
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": res}

    def _aggregated(self) -> dict:
        items = []
        for name in self._groups():
            group = self._group(name)
            versions = []
            for v in group["versions"]:
                versions.append({"version": v["version"], "freshness": "Current", "resources": [
                    {"resource": p, "responseKind": {"group": g, "version": v["version"], "kind": k},
                     "scope": "Namespaced" if ns else "Cluster", "singularResource": k.lower(),
                     "verbs": ["get", "list", "watch"]}
                    for g, vs, p, k, ns in self.fake.served() if g == name and v["version"] in vs]})
            items.append({"metadata": {"name": name}, "versions": versions})
        return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
                "items": items}

    def _not_found(self) -> None:
        self._status(404, "NotFound", "the server could not find the requested resource")
