"""Filling the chart cache from chart repositories (online, on request: `posture charts pull`).

HTTP Helm repositories: index.yaml, the version the constraint picks, the archive checked against
the index's digest. OCI registries (the distribution API, anonymous bearer tokens as ghcr.io and
Docker Hub hand out): the tag, digest or highest semver tag, the Helm chart layer checked against
its digest. Every archive is unpacked once with the scan's safety checks before it is stored, and
every download is bounded in size and time."""
from __future__ import annotations

import hashlib
import json
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import yaml

from scanner.inventory.charts.archive import UnsafeChart, extract_archive
from scanner.inventory.charts.cache import MAX_ARCHIVE_BYTES, ChartCache, ChartRef
from scanner.inventory.charts.semver import best

MAX_INDEX_BYTES = 64 << 20
MAX_MANIFEST_BYTES = 4 << 20
HELM_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json, "
                  "application/vnd.docker.distribution.manifest.v2+json")
USER_AGENT = "gitops-posture (chart cache)"


class PullError(Exception):
    pass


@dataclass(frozen=True)
class Pulled:
    ref: ChartRef
    version: str
    digest: str
    manifest_digest: str | None = None
    cached_before: bool = False


def _get(url: str, limit: int, timeout: float, headers: dict | None = None,
         auth: str | None = None) -> tuple[bytes, dict]:
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    if auth:
        req.add_unredirected_header("Authorization", auth)  # never sent on to a redirect target
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) only, checked by callers
        length = resp.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > limit:
            raise PullError(f"{url}: {int(length) >> 20} MiB is over the {limit >> 20} MiB limit")
        data = resp.read(limit + 1)
        if len(data) > limit:
            raise PullError(f"{url}: more than {limit >> 20} MiB")
        return data, {k.lower(): v for k, v in resp.headers.items()}


def _check_archive(data: bytes, what: str) -> None:
    """Refuse an archive the scan would refuse (links, escaping paths, bombs) before storing it."""
    with tempfile.TemporaryDirectory(prefix="posture-pull-") as d:
        try:
            extract_archive(data, d)
        except UnsafeChart as exc:
            raise PullError(f"{what}: refused: {exc}") from None


# ---- HTTP repositories -------------------------------------------------------------------------

def _pull_http(ref: ChartRef, timeout: float) -> tuple[bytes, str, None]:
    base = ref.url.rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise PullError(f"{ref.url}: not an http(s) Helm repository")
    raw, _ = _get(base + "/index.yaml", MAX_INDEX_BYTES, timeout)
    try:
        index = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise PullError(f"{base}/index.yaml: not valid YAML ({str(exc).splitlines()[0]})") from None
    entries = (index or {}).get("entries", {}).get(ref.chart) if isinstance(index, dict) else None
    if not isinstance(entries, list) or not entries:
        raise PullError(f"chart {ref.chart} is not in {base}/index.yaml")
    by_version = {str(e.get("version")): e for e in entries if isinstance(e, dict) and e.get("version")}
    version = best(list(by_version), ref.version)
    if version is None:
        raise PullError(f"no version of {ref.chart} in {base} matches {ref.version!r}")
    entry = by_version[version]
    urls = [u for u in entry.get("urls") or [] if isinstance(u, str)]
    if not urls:
        raise PullError(f"{ref.chart} {version} in {base}/index.yaml has no url")
    url = urllib.parse.urljoin(base + "/", urls[0])
    if not url.startswith(("https://", "http://")):
        raise PullError(f"{ref.chart} {version}: archive url {url} is not http(s)")
    data, _ = _get(url, MAX_ARCHIVE_BYTES, timeout)
    want = str(entry.get("digest") or "")
    if want and hashlib.sha256(data).hexdigest() != want.removeprefix("sha256:"):
        raise PullError(f"{ref.chart} {version}: the archive does not match the index digest {want}")
    return data, version, None


# ---- OCI registries ----------------------------------------------------------------------------

class _Registry:
    def __init__(self, ref: ChartRef, timeout: float):
        u = urllib.parse.urlsplit(ref.url)
        if u.scheme != "oci" or not u.netloc or not u.path.strip("/"):
            raise PullError(f"{ref.url}: not an oci://host/repository reference")
        self.host = u.netloc
        self.repo = u.path.strip("/")
        self.base = f"{'http' if ref.insecure else 'https'}://{self.host}/v2/{self.repo}"
        self.timeout = timeout
        self.token: str | None = None

    def _token(self, challenge: str) -> str | None:
        m = re.match(r"\s*Bearer\s+(.*)", challenge or "", re.I)
        if not m:
            return None
        params = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        realm = params.pop("realm", "")
        if not realm.startswith(("https://", "http://")):
            return None
        params.setdefault("scope", f"repository:{self.repo}:pull")
        data, _ = _get(realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(params),
                       1 << 20, self.timeout)
        try:
            body = json.loads(data)
        except ValueError:
            return None
        tok = body.get("token") or body.get("access_token")
        return f"Bearer {tok}" if tok else None

    def get(self, path: str, limit: int, accept: str | None = None) -> tuple[bytes, dict]:
        headers = {"Accept": accept} if accept else {}
        try:
            return _get(self.base + path, limit, self.timeout, headers, self.token)
        except urllib.error.HTTPError as exc:
            if exc.code != 401 or self.token:
                raise
            self.token = self._token(exc.headers.get("WWW-Authenticate", ""))
            if not self.token:
                raise
            return _get(self.base + path, limit, self.timeout, headers, self.token)

    def tags(self) -> list[str]:
        tags: list[str] = []
        path = "/tags/list?n=1000"
        for _ in range(20):  # pages
            data, headers = self.get(path, 8 << 20)
            try:
                tags += [str(t) for t in json.loads(data).get("tags") or []]
            except (ValueError, AttributeError):
                raise PullError(f"{self.base}/tags/list: unreadable answer") from None
            m = re.search(r"<([^>]+)>;\s*rel=\"?next\"?", headers.get("link", ""))
            if not m:
                break
            nxt = urllib.parse.urlsplit(m.group(1))
            path = "/tags/list?" + nxt.query if nxt.query else None
            if not path:
                break
        return tags


def _pull_oci(ref: ChartRef, timeout: float) -> tuple[bytes, str, str]:
    reg = _Registry(ref, timeout)
    want = ref.version
    if want.startswith("semver:"):
        tags = reg.tags()
        chosen = best([t.replace("_", "+") for t in tags], want[len("semver:"):])
        if chosen is None:
            raise PullError(f"no tag of {ref.url} matches {want[len('semver:'):]!r}")
        want = chosen.replace("+", "_")
    if not re.fullmatch(r"(sha256:[0-9a-f]{64})|[\w][\w.-]{0,127}", want):
        raise PullError(f"{ref.url}: invalid tag or digest {want!r}")
    raw, headers = reg.get(f"/manifests/{want}", MAX_MANIFEST_BYTES, MANIFEST_TYPES)
    manifest_digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    if want.startswith("sha256:") and manifest_digest != want:
        raise PullError(f"{ref.url}@{want}: the manifest does not match its digest")
    try:
        manifest = json.loads(raw)
        layers = [x for x in manifest.get("layers") or [] if isinstance(x, dict)]
    except (ValueError, AttributeError):
        raise PullError(f"{ref.url}:{want}: unreadable manifest") from None
    layer = next((x for x in layers if x.get("mediaType") == HELM_LAYER), None)
    if layer is None:
        raise PullError(f"{ref.url}:{want} holds no Helm chart layer ({HELM_LAYER})")
    digest = str(layer.get("digest") or "")
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise PullError(f"{ref.url}:{want}: chart layer has no sha256 digest")
    data, _ = reg.get(f"/blobs/{digest}", MAX_ARCHIVE_BYTES)
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise PullError(f"{ref.url}:{want}: the chart layer does not match its digest {digest}")
    version = want.replace("_", "+") if not want.startswith("sha256:") else want
    return data, version, manifest_digest


def pull(ref: ChartRef, cache: ChartCache, *, timeout: float = 30.0, refresh: bool = False) -> Pulled:
    """Resolve `ref` and store its archive in `cache` (already cached: nothing fetched unless `refresh`)."""
    if not refresh:
        cached, _ = cache.lookup(ref)
        if cached is not None:
            return Pulled(ref, cached.version, cached.digest, cached.manifest_digest, cached_before=True)
    try:
        if ref.scheme == "oci":
            data, version, mdigest = _pull_oci(ref, timeout)
        else:
            data, version, mdigest = _pull_http(ref, timeout)
    except urllib.error.HTTPError as exc:
        raise PullError(f"{ref.describe()}: HTTP {exc.code} {exc.reason} from {exc.url}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise PullError(f"{ref.describe()}: {getattr(exc, 'reason', None) or exc}") from None
    _check_archive(data, ref.describe())
    digest = cache.store(ref, data, version, mdigest)
    return Pulled(ref, version, digest, mdigest)
