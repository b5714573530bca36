"""Charts written by tests, packaged as Helm does, and served by local chart repositories (an HTTP
Helm repository and a small OCI registry) running in a thread on 127.0.0.1."""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import tarfile
import threading
from pathlib import Path

import yaml


def write_chart(root: Path, name: str, templates: dict[str, str], values: dict | None = None,
                version: str = "0.1.0", files: dict[str, str] | None = None) -> Path:
    """A chart directory `root/name` with Chart.yaml, values.yaml, templates/ and extra files."""
    d = root / name
    (d / "templates").mkdir(parents=True, exist_ok=True)
    (d / "Chart.yaml").write_text(yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version}))
    (d / "values.yaml").write_text(yaml.safe_dump(values or {}))
    for rel, text in templates.items():
        (d / "templates" / rel).write_text(text)
    for rel, text in (files or {}).items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return d


def package(chart_dir: Path) -> bytes:
    """The chart as a .tgz with its directory name as the top folder (what `helm package` writes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(str(chart_dir), arcname=chart_dir.name)
    return buf.getvalue()


def tar_with(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buf.getvalue()


class _Server:
    def __init__(self, handler_cls):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.requests: list[str] = []
        handler_cls.server_ref = self

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def chart_repo(charts: list[tuple[str, str, bytes]], digest_override: str | None = None) -> _Server:
    """An HTTP Helm repository serving index.yaml and each (name, version, archive)."""
    files: dict[str, bytes] = {}
    entries: dict[str, list] = {}
    for name, version, data in charts:
        fname = f"{name}-{version}.tgz"
        files["/" + fname] = data
        entries.setdefault(name, []).append({"name": name, "version": version, "urls": [fname],
                                             "digest": digest_override or hashlib.sha256(data).hexdigest()})
    files["/index.yaml"] = yaml.safe_dump({"apiVersion": "v1", "entries": entries}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        server_ref: _Server

        def do_GET(self):  # noqa: N802 - http.server API
            self.server_ref.requests.append(self.path)
            data = files.get(self.path.split("?")[0])
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return _Server(Handler)


HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


def oci_registry(repo: str, tags: dict[str, bytes], token: str = "t0ken") -> _Server:
    """A registry holding Helm charts at `repo` under `tags`, asking for an anonymous bearer token
    (as ghcr.io does) before it answers."""
    blobs: dict[str, bytes] = {}
    manifests: dict[str, bytes] = {}
    for tag, data in tags.items():
        config = b"{}"
        cd = "sha256:" + hashlib.sha256(config).hexdigest()
        ld = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[cd], blobs[ld] = config, data
        m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": {"mediaType": HELM_CONFIG, "digest": cd, "size": len(config)},
                        "layers": [{"mediaType": HELM_LAYER, "digest": ld, "size": len(data)}]}).encode()
        manifests[tag] = m
        manifests["sha256:" + hashlib.sha256(m).hexdigest()] = m

    class Handler(http.server.BaseHTTPRequestHandler):
        server_ref: _Server

        def _send(self, code: int, data: bytes, ctype: str = "application/json", extra: dict | None = None):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802
            self.server_ref.requests.append(self.path)
            port = self.server_ref.port
            if self.path.startswith("/token"):
                self._send(200, json.dumps({"token": token}).encode())
                return
            if self.headers.get("Authorization") != f"Bearer {token}":
                self._send(401, b"{}", extra={"WWW-Authenticate":
                                              f'Bearer realm="http://127.0.0.1:{port}/token",service="test",'
                                              f'scope="repository:{repo}:pull"'})
                return
            prefix = f"/v2/{repo}/"
            if not self.path.startswith(prefix):
                self._send(404, b"{}")
                return
            rest = self.path[len(prefix):]
            if rest.startswith("tags/list"):
                self._send(200, json.dumps({"name": repo, "tags": sorted(t for t in tags)}).encode())
            elif rest.startswith("manifests/"):
                m = manifests.get(rest[len("manifests/"):])
                self._send(200, m, "application/vnd.oci.image.manifest.v1+json") if m else self._send(404, b"{}")
            elif rest.startswith("blobs/"):
                b = blobs.get(rest[len("blobs/"):])
                self._send(200, b, "application/octet-stream") if b is not None else self._send(404, b"{}")
            else:
                self._send(404, b"{}")

        def log_message(self, *args):
            pass

    return _Server(Handler)


def hr(name: str, chart_spec: dict | None = None, values: dict | None = None, **spec) -> dict:
    """A HelmRelease body."""
    body: dict = {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": name},
                  "spec": dict(spec)}
    if chart_spec is not None:
        body["spec"]["chart"] = {"spec": chart_spec}
    if values is not None:
        body["spec"]["values"] = values
    return body


def lookup_of(objects: list[dict]):
    """lookup(kind, namespace, name) over `objects`."""
    index = {(o["kind"], (o.get("metadata") or {}).get("namespace"), o["metadata"]["name"]): o for o in objects}
    return lambda kind, ns, name: index.get((kind, ns, name))


def repo_files(root: Path) -> set[str]:
    out = set()
    for dirpath, _, names in os.walk(root):
        for n in names:
            out.add(os.path.relpath(os.path.join(dirpath, n), root).replace(os.sep, "/"))
    return out
