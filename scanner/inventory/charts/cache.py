"""The chart cache: content-addressed chart archives, and the references that name them.

    <charts_dir>/blobs/sha256/<hex>       a chart archive (.tgz), named by the sha256 of its bytes
    <charts_dir>/refs/<sha256 of ref>.json  {"ref": {...}, "digest": "sha256:<hex>", "version": ...}

A ref is what a HelmRelease asks for (repository URL, chart, version or range as written); `posture
charts pull` resolves it once, online, and records what it got. A scan reads only: an archive
whose bytes no longer match its name is not used."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass

from scanner.core.atomicfile import write_atomic

MAX_ARCHIVE_BYTES = 64 << 20
MAX_REF_BYTES = 1 << 20


@dataclass(frozen=True)
class ChartRef:
    """A chart as a HelmRelease names it, before resolution.

    scheme "http": `url` is the Helm repository, `chart` the chart name, `version` the constraint.
    scheme "oci": `url` is the full oci:// repository of the chart (no tag), `version` a tag, a
    semver range (`semver:` prefix) or a digest (`sha256:...`)."""

    scheme: str
    url: str
    chart: str
    version: str
    insecure: bool = False  # plain HTTP to an OCI registry (OCIRepository/HelmRepository `insecure`)

    def key(self) -> dict:
        return {"scheme": self.scheme, "url": self.url.rstrip("/"), "chart": self.chart, "version": self.version}

    def key_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.key(), sort_keys=True).encode()).hexdigest()

    def describe(self) -> str:
        if self.scheme == "oci":
            return f"{self.url.rstrip('/')}:{self.version}" if not self.version.startswith("sha256:") \
                else f"{self.url.rstrip('/')}@{self.version}"
        return f"{self.chart} {self.version or '*'} from {self.url}"


@dataclass(frozen=True)
class CachedChart:
    ref: ChartRef
    digest: str  # sha256:<hex> of the archive bytes
    version: str  # the version the ref resolved to
    data: bytes
    manifest_digest: str | None = None  # OCI manifest digest, when pulled from a registry


def _read_bounded(path: str, limit: int) -> bytes | None:
    """A regular file's bytes (never through a link), or None when absent, odd or too large."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not (st.st_mode & 0o170000 == 0o100000) or st.st_size > limit:
            return None
        return fh.read(limit + 1)


class ChartCache:
    def __init__(self, root: str):
        self.root = root

    def _blob_path(self, hexdigest: str) -> str:
        return os.path.join(self.root, "blobs", "sha256", hexdigest)

    def _ref_path(self, ref: ChartRef) -> str:
        return os.path.join(self.root, "refs", ref.key_hash() + ".json")

    def store(self, ref: ChartRef, data: bytes, version: str, manifest_digest: str | None = None) -> str:
        hexd = hashlib.sha256(data).hexdigest()
        if _read_bounded(self._blob_path(hexd), MAX_ARCHIVE_BYTES) != data:
            write_atomic(self._blob_path(hexd), data)
        record = {"ref": ref.key(), "digest": "sha256:" + hexd, "version": version,
                  "manifest_digest": manifest_digest}
        write_atomic(self._ref_path(ref), json.dumps(record, indent=1, sort_keys=True).encode())
        return "sha256:" + hexd

    def lookup(self, ref: ChartRef) -> tuple[CachedChart | None, str | None]:
        """(the cached chart, None), or (None, why not) — "not in the cache" or what is wrong."""
        raw = _read_bounded(self._ref_path(ref), MAX_REF_BYTES)
        if raw is None:
            return None, "not in the chart cache"
        try:
            record = json.loads(raw)
            digest = str(record["digest"])
            version = str(record.get("version") or "")
        except (ValueError, KeyError, TypeError):
            return None, "its cache entry is unreadable; pull it again"
        if record.get("ref") != ref.key():
            return None, "its cache entry names another chart; pull it again"
        if not digest.startswith("sha256:") or len(digest) != 71:
            return None, "its cache entry has no valid digest; pull it again"
        data = _read_bounded(self._blob_path(digest[7:]), MAX_ARCHIVE_BYTES)
        if data is None:
            return None, f"its archive {digest} is missing from the cache; pull it again"
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            return None, f"its archive {digest} is corrupt (content does not match the digest); pull it again"
        return CachedChart(ref, digest, version, data, record.get("manifest_digest")), None

    def entries(self) -> list[dict]:
        out = []
        d = os.path.join(self.root, "refs")
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            raw = _read_bounded(os.path.join(d, name), MAX_REF_BYTES)
            try:
                out.append(json.loads(raw)) if raw else None
            except ValueError:
                continue
        return out


def as_dict(ref: ChartRef) -> dict:
    return asdict(ref)
