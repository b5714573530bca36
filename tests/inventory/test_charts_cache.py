"""The chart cache: filled from a local HTTP Helm repository and a local OCI registry (threads on
127.0.0.1), then read by a scan; hostile and corrupt archives refused."""
from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.inventory.charts import ChartSettings, release_objects
from scanner.inventory.charts.archive import Limits, UnsafeChart, extract_archive
from scanner.inventory.charts.cache import ChartCache, ChartRef
from scanner.inventory.charts.pull import PullError, pull
from scanner.inventory.charts.render import close_workers
from tests.support.charts import chart_repo, hr, lookup_of, oci_registry, package, tar_with, write_chart

ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: {{ .Release.Name }}}
spec:
  hostnames: [{{ .Values.host | quote }}]
"""


@pytest.fixture(autouse=True, scope="module")
def _workers():
    yield
    close_workers()


def _podinfo(tmp_path: Path, version: str) -> bytes:
    return package(write_chart(tmp_path / f"src-{version}", "podinfo", {"route.yaml": ROUTE},
                               {"host": f"default-{version}.example.org"}, version=version))


def _helmrepo(url: str, **spec) -> dict:
    return {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": "podinfo", "namespace": "apps"}, "spec": {"url": url, **spec}}


def _render(charts_dir: Path, body: dict, sources: list[dict]):
    return release_objects(body, namespace="apps", lookup=lookup_of(sources), repo_root="/nonexistent",
                           repo_files=set(), settings=ChartSettings(charts_dir=str(charts_dir)))


def test_a_chart_pulled_from_an_http_repository_renders_from_the_cache(tmp_path):
    pytest.importorskip("helm_python")
    cache_dir = tmp_path / "cache"
    archives = {v: _podinfo(tmp_path, v) for v in ("6.6.0", "6.7.0", "7.0.0")}
    body = hr("podinfo", {"chart": "podinfo", "version": "6.x", "sourceRef": {"kind": "HelmRepository",
                                                                            "name": "podinfo"}},
              values={"host": "podinfo.example.org"})
    with chart_repo([("podinfo", v, d) for v, d in archives.items()]) as server:
        url = f"http://127.0.0.1:{server.port}"
        before = _render(cache_dir, body, [_helmrepo(url)])
        assert before.how == "values" or before.how == "opaque"
        assert "helm-chart-not-cached" in [g.code for g in before.gaps]
        got = pull(ChartRef("http", url, "podinfo", "6.x"), ChartCache(str(cache_dir)))
        assert got.version == "6.7.0" and not got.cached_before
        again = pull(ChartRef("http", url, "podinfo", "6.x"), ChartCache(str(cache_dir)))
        assert again.cached_before and len(server.requests) == 2  # index.yaml + one archive
    r = _render(cache_dir, body, [_helmrepo(url)])  # the server is gone: the cache alone serves
    assert r.how == "helm", (r.gaps, r.errors)
    assert [(o["kind"], o["metadata"]["namespace"], o["spec"]["hostnames"]) for o in r.objects] == [
        ("HTTPRoute", "apps", ["podinfo.example.org"])]
    assert r.chart["version"] == "6.7.0" and r.chart["digest"] == got.digest


def test_a_corrupt_cache_entry_is_not_used(tmp_path):
    cache = ChartCache(str(tmp_path / "cache"))
    ref = ChartRef("http", "https://charts.example.org", "podinfo", "6.7.0")
    digest = cache.store(ref, _podinfo(tmp_path, "6.7.0"), "6.7.0")
    blob = tmp_path / "cache" / "blobs" / "sha256" / digest[7:]
    blob.write_bytes(blob.read_bytes()[:-10] + b"x" * 10)
    cached, why = cache.lookup(ref)
    assert cached is None and "corrupt" in why
    body = hr("podinfo", {"chart": "podinfo", "version": "6.7.0", "sourceRef": {"kind": "HelmRepository",
                                                                               "name": "podinfo"}})
    r = _render(tmp_path / "cache", body, [_helmrepo("https://charts.example.org")])
    assert r.how == "opaque" and "corrupt" in r.gaps[0].message


def test_an_index_digest_mismatch_refuses_the_pull(tmp_path):
    with chart_repo([("podinfo", "1.0.0", _podinfo(tmp_path, "1.0.0"))], digest_override="0" * 64) as server:
        with pytest.raises(PullError, match="does not match the index digest"):
            pull(ChartRef("http", f"http://127.0.0.1:{server.port}", "podinfo", "1.0.0"),
                 ChartCache(str(tmp_path / "cache")))
    assert not (tmp_path / "cache" / "refs").exists()


@pytest.mark.parametrize("member,why", [
    ((tarfile.SYMTYPE, "podinfo/templates/x.yaml", "/etc/passwd"), "link"),
    ((tarfile.LNKTYPE, "podinfo/templates/x.yaml", "podinfo/Chart.yaml"), "link"),
    ((tarfile.REGTYPE, "podinfo/../../escape.yaml", None), "escapes"),
    ((tarfile.REGTYPE, "/abs/podinfo/x.yaml", None), "absolute"),
    ((tarfile.CHRTYPE, "podinfo/dev", None), "special file"),
])
def test_hostile_archives_are_refused(tmp_path, member, why):
    kind, name, target = member
    info = tarfile.TarInfo(name)
    info.type = kind
    if target:
        info.linkname = target
    data = tar_with([(tarfile.TarInfo("podinfo/Chart.yaml"), b"apiVersion: v2\nname: podinfo\nversion: 1.0.0\n"),
                     (info, b"x: 1\n" if kind == tarfile.REGTYPE else None)])
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UnsafeChart, match=why):
        extract_archive(data, str(dest))
    assert not (tmp_path / "escape.yaml").exists()


def test_archive_extraction_is_size_bounded_and_drops_schemas(tmp_path):
    big = tar_with([(tarfile.TarInfo("c/Chart.yaml"), b"name: c\n"), (tarfile.TarInfo("c/big"), b"\0" * 4096)])
    with pytest.raises(UnsafeChart, match="larger than"):
        extract_archive(big, str(tmp_path / "a"), Limits(max_file_bytes=1024))
    sub = tar_with([(tarfile.TarInfo("sub/Chart.yaml"), b"apiVersion: v2\nname: sub\nversion: 1.0.0\n"),
                    (tarfile.TarInfo("sub/values.schema.json"), b"{}")])
    chart = tar_with([(tarfile.TarInfo("c/Chart.yaml"), b"apiVersion: v2\nname: c\nversion: 1.0.0\n"),
                      (tarfile.TarInfo("c/values.schema.json"), b"{}"),
                      (tarfile.TarInfo("c/charts/sub-1.0.0.tgz"), sub)])
    out = tmp_path / "b"
    out.mkdir()
    extract_archive(chart, str(out))
    files = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    assert files == ["Chart.yaml", "charts/sub/Chart.yaml"]


def test_a_chart_pulled_from_an_oci_registry_with_a_token_renders_from_the_cache(tmp_path):
    pytest.importorskip("helm_python")
    tags = {"1.0.0": _podinfo(tmp_path, "1.0.0"), "1.1.0": _podinfo(tmp_path, "1.1.0")}
    with oci_registry("charts/podinfo", tags) as reg:
        url = f"oci://127.0.0.1:{reg.port}/charts/podinfo"
        oci_repo = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
                    "metadata": {"name": "podinfo", "namespace": "apps"},
                    "spec": {"url": url, "insecure": True, "ref": {"semver": "~1.0"},
                             "layerSelector": {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip"}}}
        cache = ChartCache(str(tmp_path / "cache"))
        got = pull(ChartRef("oci", url, "", "semver:~1.0", insecure=True), cache)
        assert got.version == "1.0.0" and got.manifest_digest.startswith("sha256:")
        assert any(p.startswith("/token") for p in reg.requests)
    body = {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": "podinfo"},
            "spec": {"chartRef": {"kind": "OCIRepository", "name": "podinfo"}, "values": {"host": "p.example.org"}}}
    r = _render(tmp_path / "cache", body, [oci_repo])
    assert r.how == "helm", (r.gaps, r.errors)
    assert r.objects[0]["spec"]["hostnames"] == ["p.example.org"]


def test_posture_charts_pull_fills_the_cache_from_the_repository(tmp_path):
    from scanner.cli.charts import charts_group

    repo = tmp_path / "repo"
    (repo / "apps").mkdir(parents=True)
    with chart_repo([("podinfo", "6.7.0", _podinfo(tmp_path, "6.7.0"))]) as server:
        (repo / "apps" / "hr.yaml").write_text(f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {{name: podinfo, namespace: flux-system}}
spec: {{url: "http://127.0.0.1:{server.port}"}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: podinfo, namespace: apps}}
spec:
  chart:
    spec: {{chart: podinfo, version: 6.7.0, sourceRef: {{kind: HelmRepository, name: podinfo, namespace: flux-system}}}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: broken, namespace: apps}}
spec:
  chart:
    spec: {{chart: nope, version: 1.0.0, sourceRef: {{kind: HelmRepository, name: podinfo, namespace: flux-system}}}}
""")
        res = CliRunner().invoke(charts_group, ["pull", str(repo), "--charts-dir", str(tmp_path / "cache")])
    assert res.exit_code == 1, res.output
    assert "pulled" in res.output and "6.7.0 sha256:" in res.output
    assert "chart nope is not in" in res.output
    assert "1 of 2 charts" in res.output
    listed = CliRunner().invoke(charts_group, ["list", "--charts-dir", str(tmp_path / "cache")])
    assert listed.exit_code == 0 and "podinfo 6.7.0 -> 6.7.0 sha256:" in listed.output
