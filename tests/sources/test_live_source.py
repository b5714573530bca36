"""The live source against a fake API server, through the real `kubernetes` client and a real kubeconfig."""
from __future__ import annotations

import base64
import dataclasses
import json
import re
import time

import pytest

from scanner.engine.pipeline import _needs_by_kind
from scanner.sources import cluster as cluster_src
from scanner.sources.cluster import (METADATA_ACCEPT, RESOURCE_TYPES, ClusterUnavailable, cluster_documents,
                                     fetch_cluster)
from tests.fakekube.fixtures import PLANTED, PLANTED_B64, cluster_objects
from tests.fakekube.server import FakeKube
from tests.fakekube.tlsutil import make_tls_pair

pytestmark = pytest.mark.timeout(120)


SECRET_PATH = re.compile(r"^/api/v1/(namespaces/[^/]+/)?secrets(/|$)")


def _dump(data) -> str:
    """Everything a ClusterData could leak into a report, as one string."""
    return json.dumps(dataclasses.asdict(data), default=str) + repr(data)


def _kinds(data) -> dict[str, int]:
    out: dict[str, int] = {}
    for o in data.objects:
        out[o["kind"]] = out.get(o["kind"], 0) + 1
    return out


def assert_no_secret_data_requested(fake: FakeKube, allowed_gets: set[str] = frozenset()) -> None:
    """Every /secrets request asked for metadata only; none fetched one Secret (unless allowed)."""
    secret_requests = [r for r in fake.requests if SECRET_PATH.match(r["path"])]
    assert secret_requests, "Secrets were never listed"
    for r in secret_requests:
        if r["path"].endswith("/secrets"):
            assert r["accept"] == METADATA_ACCEPT, r
            assert r["method"] == "GET"
        else:
            assert r["path"] in allowed_gets, f"a Secret was fetched: {r}"
    assert not fake.log("/configmaps"), "ConfigMaps must never be requested"


def test_fixture_cluster_is_read_completely(tmp_path):
    with FakeKube(cluster_objects(), workdir=tmp_path) as fake:
        data = fetch_cluster(str(fake.write_kubeconfig()))
    assert data.errors == []
    assert data.denied_kinds == [] and data.failed_kinds == []
    assert data.absent_kinds == ["Report", "ClusterReport"]  # the fake has no openreports.io
    assert data.server["version"] == "v1.33.2-fake"
    assert data.server["context"] == "fake" and data.server["host"] == fake.url
    kinds = _kinds(data)
    assert kinds["Namespace"] == 6 and kinds["Pod"] == 5 and kinds["NetworkPolicy"] == 3
    assert kinds["ExternalSecret"] == 2 and kinds["PolicyReport"] == 2 and kinds["Kustomization"] == 2
    assert "ConfigMap" not in kinds
    # list items come without apiVersion/kind; the source fills them in with the version it read
    es = next(o for o in data.objects if o["kind"] == "ExternalSecret")
    assert es["apiVersion"] == "external-secrets.io/v1beta1"  # the cluster's preferred version
    pe = next(o for o in data.objects if o["kind"] == "PolicyException")
    assert pe["apiVersion"] == "kyverno.io/v2"  # not in kyverno.io's preferred v1: found in v2
    assert all("managedFields" not in o["metadata"] for o in data.objects)
    # Secrets: metadata only, the last-applied copy of their data dropped
    secret = next(o for o in data.objects if o["kind"] == "Secret")
    assert set(secret) == {"apiVersion", "kind", "metadata"}
    assert secret["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].startswith("(value dropped")
    assert PLANTED not in _dump(data) and PLANTED_B64 not in _dump(data)
    assert_no_secret_data_requested(fake)
    # every list is of a type in RESOURCE_TYPES (so the ClusterRole, tested against that table,
    # covers what the code asks), cluster-wide, and nothing else than discovery is requested
    listed = set()
    for r in fake.requests:
        parts = r["path"].split("/")[1:]
        if parts[:2] == ["api", "v1"] and len(parts) == 3:
            listed.add(("", parts[2]))
        elif parts[0] == "apis" and len(parts) == 4:
            listed.add((parts[1], parts[3]))
        else:
            assert r["path"] in ("/version", "/api/v1", "/apis") or (parts[0] == "apis" and len(parts) == 3), r
    assert listed == {(t.group, t.plural) for t in RESOURCE_TYPES if t.group not in ("openreports.io",)}
    assert all(r["method"] == "GET" for r in fake.requests)


def test_documents_for_the_engine(tmp_path):
    with FakeKube(cluster_objects(), workdir=tmp_path) as fake:
        data = fetch_cluster(str(fake.write_kubeconfig()))
    docs = cluster_documents(data)
    assert len(docs) == len(data.objects)
    paths = {d.path for d in docs}
    assert "cluster://Deployment/media/jellyfin" in paths
    assert "cluster://Namespace/-/media" in paths
    assert all(d.origin == "cluster" and d.line == 0 and d.is_manifest for d in docs)


def test_rbac_denied_types_are_recorded_and_the_rest_is_read(tmp_path):
    fake = FakeKube(cluster_objects(), workdir=tmp_path,
                    forbidden={"secrets", "rbac.authorization.k8s.io/clusterrolebindings"})
    with fake:
        data = fetch_cluster(str(fake.write_kubeconfig()), needs=_needs_by_kind())
    assert data.denied_kinds == ["ClusterRoleBinding"]
    assert {e.path: e.code for e in data.errors} == {"cluster://ClusterRoleBinding": "rbac-forbidden",
                                                     "cluster://Secret": "secrets-not-listed"}
    by_path = {e.path: e for e in data.errors}
    crb = by_path["cluster://ClusterRoleBinding"]
    assert crb.kind == "source"
    assert "clusterrolebindings.rbac.authorization.k8s.io" in crb.message and "gitops.cluster-drift" in crb.message
    kinds = _kinds(data)
    assert "ClusterRoleBinding" not in kinds
    assert kinds["ClusterRole"] == 2 and kinds["Deployment"] == 2  # the other types were still read
    assert "Secret" not in data.read_kinds and "Deployment" in data.read_kinds


def test_secrets_not_granted_is_the_default_and_presence_comes_from_externalsecrets(tmp_path):
    """The shipped deploy/base grants nothing on Secrets: the scan says so as a notice, not an error,
    and knows the Secrets that synced ExternalSecrets produced, from their status and owner only."""
    fake = FakeKube(cluster_objects(), workdir=tmp_path, forbidden={"secrets"})
    with fake:
        data = fetch_cluster(str(fake.write_kubeconfig()), needs=_needs_by_kind())
    assert "Secret" not in data.denied_kinds and data.derived_kinds == ["Secret"]
    notice = next(e for e in data.errors if e.path == "cluster://Secret")
    assert notice.kind == "notice" and "ExternalSecrets" in notice.message and "secret-metadata" in notice.message
    assert not [e for e in data.errors if e.kind != "notice"]
    derived = [o for o in data.objects if o["kind"] == "Secret"]
    # jellyfin synced (Ready True); authelia did not, so its Secret is not taken to exist.
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in derived] == [("media", "jellyfin")]
    owner = derived[0]["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "ExternalSecret" and owner["name"] == "jellyfin"
    assert set(derived[0]) == {"apiVersion", "kind", "metadata"}  # no data, not even empty
    assert not fake.log("/secrets/")  # no single Secret was ever fetched


def test_missing_crds_are_absent_kinds(tmp_path):
    fake = FakeKube(cluster_objects(), workdir=tmp_path, missing_groups={"kyverno.io", "cilium.io", "wgpolicyk8s.io"})
    with fake:
        data = fetch_cluster(str(fake.write_kubeconfig()))
    for kind in ("ClusterPolicy", "Policy", "PolicyException", "CiliumNetworkPolicy",
                 "CiliumClusterwideNetworkPolicy", "PolicyReport", "ClusterPolicyReport"):
        assert kind in data.absent_kinds
    assert data.errors == []
    assert not fake.log("/apis/kyverno.io") and not fake.log("/apis/cilium.io")  # never asked
    assert _kinds(data)["NetworkPolicy"] == 3


def test_two_thousand_namespaces_are_paginated(tmp_path):
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns-{i:04d}"}} for i in range(2000)]
    with FakeKube(objs, workdir=tmp_path) as fake:
        started = time.perf_counter()
        data = fetch_cluster(str(fake.write_kubeconfig()), page_size=250)
        elapsed = time.perf_counter() - started
    pages = fake.log("/api/v1/namespaces")
    assert len(pages) == 8, [p["query"] for p in pages]
    assert all(p["query"]["limit"] == ["250"] for p in pages)
    assert sum(1 for p in pages if "continue" in p["query"]) == 7
    names = [o["metadata"]["name"] for o in data.objects if o["kind"] == "Namespace"]
    assert len(names) == 2000 and len(set(names)) == 2000
    assert data.stats["pages"]["Namespace"] == 8
    assert data.stats["requests"] == len(fake.requests)
    print(f"\n2,000 namespaces: {len(fake.requests)} requests ({len(pages)} namespace pages) in {elapsed:.2f}s")


def test_429_is_retried_after_retry_after(tmp_path):
    fake = FakeKube(cluster_objects(), workdir=tmp_path, rate_limit_once={"/apis/apps/v1/deployments"})
    with fake:
        started = time.perf_counter()
        data = fetch_cluster(str(fake.write_kubeconfig()))
        elapsed = time.perf_counter() - started
    hits = fake.log("/apis/apps/v1/deployments")
    assert [h["status"] for h in hits] == [429, 200]
    assert elapsed >= 1.0  # Retry-After: 1 honoured
    assert data.errors == [] and _kinds(data)["Deployment"] == 2
    assert data.stats["retries"] == 1


def test_5xx_exhausting_retries_is_an_error_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setattr("scanner.sources.kube_http._backoff", lambda attempt: 0.01)
    fake = FakeKube(cluster_objects(), workdir=tmp_path, server_error={"/apis/apps/v1/statefulsets"})
    with fake:
        data = fetch_cluster(str(fake.write_kubeconfig()), retries=2)
    assert [h["status"] for h in fake.log("/apis/apps/v1/statefulsets")] == [500, 500, 500]
    assert "StatefulSet" in data.failed_kinds and "StatefulSet" not in data.denied_kinds
    assert [e.code for e in data.errors if e.path == "cluster://StatefulSet"] == ["cluster-list-failed"]
    assert _kinds(data)["Deployment"] == 2


def test_no_request_ever_asks_for_secret_data(tmp_path):
    objs = cluster_objects()
    objs += [{"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": f"s{i}", "namespace": "media"},
              "data": {"v": PLANTED_B64}} for i in range(30)]
    with FakeKube(objs, workdir=tmp_path) as fake:
        data = fetch_cluster(str(fake.write_kubeconfig()), page_size=10)
    assert len(fake.log("/api/v1/secrets")) == 4  # paginated, every page metadata-only
    assert_no_secret_data_requested(fake)
    assert _kinds(data)["Secret"] == 31
    assert PLANTED not in _dump(data) and PLANTED_B64 not in _dump(data)


def test_a_server_ignoring_the_metadata_accept_header_stops_the_secret_list(tmp_path):
    objs = cluster_objects() + [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s{i}", "namespace": "media"},
                                 "data": {"v": PLANTED_B64}} for i in range(30)]
    with FakeKube(objs, workdir=tmp_path, ignore_metadata_accept=True) as fake:
        data = fetch_cluster(str(fake.write_kubeconfig()), page_size=10)
    assert len(fake.log("/api/v1/secrets")) == 1  # no second page of full Secrets asked for
    assert "Secret" in data.failed_kinds and "Secret" not in _kinds(data)
    assert [e.code for e in data.errors if e.path == "cluster://Secret"] == ["secret-metadata-refused"]
    assert PLANTED_B64 not in _dump(data)


def test_inspect_tls_reads_certificates_not_keys(tmp_path):
    crt, key = make_tls_pair("*.example.org", days=20, rsa_bits=2048)
    key_body = b"".join(key.splitlines()[1:-1]).decode()  # the base64 inside the PEM armour
    with FakeKube(cluster_objects(tls_pair=(crt, key)), workdir=tmp_path) as fake:
        plain = fetch_cluster(str(fake.write_kubeconfig()))
        assert plain.tls_certificates == []
        assert_no_secret_data_requested(fake)  # without the flag: no Secret fetched at all
        fake.requests.clear()
        data = fetch_cluster(str(fake.write_kubeconfig()), inspect_tls=True)
    assert data.errors == []
    [cert] = data.tls_certificates
    assert (cert["namespace"], cert["name"]) == ("network", "wildcard-tls")
    assert cert["key_type"] == "RSA" and cert["key_size"] == 2048
    assert cert["subject"] == "CN=*.example.org" and cert["issuer"] == "CN=Test Issuer"
    assert cert["signature_hash"] == "sha256" and cert["dns_names"] == ["*.example.org"]
    assert cert["not_after"] > time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 19 * 86400))
    tls_secret = next(o for o in data.objects if o["kind"] == "Secret" and o["metadata"]["name"] == "wildcard-tls")
    assert tls_secret["type"] == "kubernetes.io/tls" and "data" not in tls_secret
    # only the TLS Secret was fetched, found by a metadata-only, field-selected list
    assert_no_secret_data_requested(fake, allowed_gets={"/api/v1/namespaces/network/secrets/wildcard-tls"})
    assert len([r for r in fake.requests if SECRET_PATH.match(r["path"]) and "/secrets/" in r["path"]]) == 1
    selected = [r for r in fake.log("/api/v1/secrets") if "fieldSelector" in r["query"]]
    assert selected and selected[0]["query"]["fieldSelector"] == ["type=kubernetes.io/tls"]
    dump = _dump(data)
    for leak in (key_body, base64.b64encode(key).decode(), key.decode(), PLANTED, PLANTED_B64):
        assert leak not in dump
    assert "PRIVATE KEY" not in dump


def test_inspect_tls_ec_key_and_missing_get_permission(tmp_path):
    crt, key = make_tls_pair("a.example.org", rsa_bits=None)
    with FakeKube(cluster_objects(tls_pair=(crt, key)), workdir=tmp_path) as fake:
        data = fetch_cluster(str(fake.write_kubeconfig()), inspect_tls=True)
        assert data.tls_certificates[0]["key_type"] == "EC secp384r1"
        assert data.tls_certificates[0]["key_size"] == 384
        fake.forbidden.add("secrets:get")  # the default ClusterRole: list, no get
        denied = fetch_cluster(str(fake.write_kubeconfig()), inspect_tls=True)
    assert denied.tls_certificates == [] and "Secret" in denied.read_kinds
    [err] = denied.errors
    assert "--inspect-tls needs `get` on secrets" in err.message


def test_aggregated_discovery_needs_fewer_requests(tmp_path):
    with FakeKube(cluster_objects(), workdir=tmp_path) as legacy:
        a = fetch_cluster(str(legacy.write_kubeconfig()))
    with FakeKube(cluster_objects(), workdir=tmp_path / "agg", aggregated=True) as agg:
        b = fetch_cluster(str(agg.write_kubeconfig()))
    assert sorted(map(json.dumps, a.objects)) == sorted(map(json.dumps, b.objects))
    assert a.absent_kinds == b.absent_kinds
    assert not [r for r in agg.requests if r["path"].startswith("/apis/") and r["path"].count("/") == 3]
    assert len(agg.requests) < len(legacy.requests)


def test_plain_http_server(tmp_path):
    with FakeKube(cluster_objects(), workdir=tmp_path, tls=False) as fake:
        assert fake.url.startswith("http://")
        data = fetch_cluster(str(fake.write_kubeconfig()))
    assert data.errors == [] and _kinds(data)["Namespace"] == 6


def test_expired_continue_token_is_followed(tmp_path):
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns-{i:03d}"}} for i in range(600)]
    with FakeKube(objs, workdir=tmp_path, expire_continue_once={"/api/v1/namespaces"}) as fake:
        data = fetch_cluster(str(fake.write_kubeconfig()))
    assert [r["status"] for r in fake.log("/api/v1/namespaces")] == [200, 410, 200, 200]
    assert len({o["metadata"]["name"] for o in data.objects}) == 600


def test_wrong_token_means_cluster_unavailable(tmp_path):
    with FakeKube(cluster_objects(), workdir=tmp_path) as fake:
        kubeconfig = fake.write_kubeconfig(token="wrong")
        with pytest.raises(ClusterUnavailable, match="401"):
            fetch_cluster(str(kubeconfig), retries=0)


def test_unreachable_server_and_bad_kubeconfig(tmp_path, monkeypatch):
    backoffs = []
    monkeypatch.setattr("scanner.sources.kube_http._backoff", lambda attempt: backoffs.append(attempt) or 0.01)
    with FakeKube((), workdir=tmp_path, tls=False, answer="refuse") as fake:
        kubeconfig = fake.write_kubeconfig()
        with pytest.raises(ClusterUnavailable) as raised:
            fetch_cluster(str(kubeconfig), retries=4, request_timeout=2)
    # one probe, no retries, and a message a person can act on
    assert str(raised.value) == f"cannot reach the Kubernetes API server {fake.url} (context fake): connection refused"
    assert backoffs == []
    with pytest.raises(ClusterUnavailable, match="configuration"):
        fetch_cluster(str(tmp_path / "missing"))


def test_untrusted_server_certificate_is_one_clear_reason(tmp_path):
    with FakeKube(cluster_objects(), workdir=tmp_path) as fake:
        kubeconfig = fake.write_kubeconfig()
        doc = __import__("yaml").safe_load(kubeconfig.read_text())
        del doc["clusters"][0]["cluster"]["certificate-authority"]  # the system CAs do not know the fake CA
        kubeconfig.write_text(__import__("yaml").safe_dump(doc))
        with pytest.raises(ClusterUnavailable) as raised:
            fetch_cluster(str(kubeconfig))
    assert str(raised.value).startswith(f"cannot reach the Kubernetes API server {fake.url} (context fake): "
                                        "TLS: the server certificate is not trusted (")
    assert fake.requests == []  # nothing was sent over the untrusted connection


def test_context_selection(tmp_path):
    with FakeKube(cluster_objects(), workdir=tmp_path) as fake:
        kubeconfig = fake.write_kubeconfig(context="homelab")
        doc = __import__("yaml").safe_load(kubeconfig.read_text())
        doc["contexts"].append({"name": "other", "context": {"cluster": "nowhere", "user": "scanner"}})
        doc["clusters"].append({"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}})
        doc["current-context"] = "other"
        kubeconfig.write_text(__import__("yaml").safe_dump(doc))
        data = fetch_cluster(str(kubeconfig), "homelab")
    assert data.server["context"] == "homelab" and _kinds(data)["Namespace"] == 6


def test_in_cluster_config(tmp_path, monkeypatch):
    import kubernetes.config.incluster_config as incluster

    with FakeKube(cluster_objects(), workdir=tmp_path) as fake:
        token = tmp_path / "token"
        token.write_text(fake.token)
        host, port = fake.url.removeprefix("https://").split(":")
        monkeypatch.delenv("KUBECONFIG", raising=False)
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)
        monkeypatch.setattr(incluster, "SERVICE_TOKEN_FILENAME", str(token))
        monkeypatch.setattr(incluster, "SERVICE_CERT_FILENAME", str(fake.ca_path))
        data = fetch_cluster()
    assert data.server["context"] == "in-cluster" and data.errors == []


def test_kubeconfig_env_wins_over_in_cluster(tmp_path, monkeypatch):
    with FakeKube(cluster_objects(), workdir=tmp_path) as fake:
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
        monkeypatch.setenv("KUBECONFIG", str(fake.write_kubeconfig()))
        data = fetch_cluster()
    assert data.server["context"] == "fake" and data.server["host"] == fake.url


def test_resource_types_table_is_consistent():
    kinds = [t.kind for t in RESOURCE_TYPES]
    assert len(kinds) == len(set(kinds))
    assert len({(t.group, t.plural) for t in RESOURCE_TYPES}) == len(RESOURCE_TYPES)
    assert "configmaps" not in {t.plural for t in RESOURCE_TYPES}
    assert cluster_src.SECRETS in RESOURCE_TYPES
