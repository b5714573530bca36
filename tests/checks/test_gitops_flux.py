"""GitOps integrity checks over small Flux repos."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from checks.gitops import find_cycles
from tests.support.paths import CORPUS
from tests.support.scanning import scan


def write(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip())
    return root


def run(root, *ids):
    return {c["id"]: c for c in scan(str(root), only=list(ids) or None).report.to_json_dict()["checks"]}


def ks(name, deps=(), extra=""):
    d = "".join(f"\n    - name: {x}" for x in deps)
    return f"""apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: {name}, namespace: flux-system}}
spec:
  path: ./apps/{name}
  prune: true
  sourceRef: {{kind: GitRepository, name: flux-system}}
  dependsOn: [{"" if not deps else ""}]{extra}
""".replace("  dependsOn: []", "  dependsOn:" + d if deps else "  dependsOn: []")


def test_cycle_is_named(tmp_path):
    write(tmp_path, {"ks.yaml": "---\n".join([ks("a", ["b"]), ks("b", ["c"]), ks("c", ["a"]), ks("d", ["a"])])})
    c = run(tmp_path, "gitops.dependson-acyclic", "gitops.dependson-resolves")
    f = [x for x in c["gitops.dependson-acyclic"]["findings"] if x["status"] == "fail"]
    assert len(f) == 1
    assert "flux-system/a -> flux-system/b -> flux-system/c -> flux-system/a" in f[0]["subject"]
    assert c["gitops.dependson-resolves"]["status"] == "pass"


def test_find_cycles_self_loop():
    assert find_cycles({"a": ["a"], "b": []}) == [["a", "a"]]


def test_sources_transport_auth_and_verify(tmp_path):
    write(tmp_path, {"sources.yaml": """
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: GitRepository
        metadata: {name: public, namespace: flux-system}
        spec: {url: "https://github.com/o/r", ref: {branch: main}}
        ---
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: GitRepository
        metadata: {name: nossh, namespace: flux-system}
        spec: {url: "ssh://git@github.com/o/private", ref: {branch: main}}
        ---
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: GitRepository
        metadata: {name: plain, namespace: flux-system}
        spec: {url: "git://example.com/r.git"}
        ---
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: HelmRepository
        metadata: {name: insecure, namespace: flux-system}
        spec: {url: "https://charts.example.com", insecure: true}
        ---
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: OCIRepository
        metadata: {name: pinned, namespace: flux-system}
        spec: {url: "oci://ghcr.io/o/c", ref: {digest: "sha256:0123456789abcdef0123"}}
        """})
    c = run(tmp_path, "gitops.source-transport", "gitops.git-source-auth", "gitops.oci-verify")
    st = {f["subject"]: f["status"] for f in c["gitops.source-transport"]["findings"]}
    assert st["GitRepository flux-system/plain"] == "fail" and st["HelmRepository flux-system/insecure"] == "fail"
    assert st["GitRepository flux-system/public"] == "pass"
    auth = {f["subject"]: f["status"] for f in c["gitops.git-source-auth"]["findings"]}
    assert auth == {"GitRepository flux-system/public": "pass", "GitRepository flux-system/nossh": "fail",
                    "GitRepository flux-system/plain": "warn"}
    assert c["gitops.oci-verify"]["findings"][0]["status"] == "warn"


def test_remediation_from_parent_patches(tmp_path):
    """HelmRelease defaults injected by a parent Kustomization's patches count."""
    write(tmp_path, {
        "flux/cluster/ks.yaml": """
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata: {name: cluster-apps, namespace: flux-system}
            spec:
              path: ./apps
              prune: true
              sourceRef: {kind: GitRepository, name: flux-system}
              patches:
                - target: {kind: HelmRelease, group: helm.toolkit.fluxcd.io}
                  patch: |-
                    apiVersion: helm.toolkit.fluxcd.io/v2
                    kind: HelmRelease
                    metadata: {name: _}
                    spec:
                      install: {remediation: {retries: -1}}
                      upgrade: {remediation: {retries: 3}}
            """,
        "apps/hr.yaml": """
            apiVersion: helm.toolkit.fluxcd.io/v2
            kind: HelmRelease
            metadata: {name: web, namespace: demo}
            spec:
              chartRef: {kind: OCIRepository, name: app-template}
            """,
    })
    c = run(tmp_path, "gitops.helm-remediation", "gitops.prune-enabled", "gitops.dependency-updates")
    assert c["gitops.helm-remediation"]["status"] == "pass", c["gitops.helm-remediation"]["findings"]
    assert c["gitops.prune-enabled"]["status"] == "pass"
    assert c["gitops.dependency-updates"]["status"] == "fail"
    write(tmp_path, {".github/dependabot.yml": "version: 2\nupdates: []\n"})
    assert run(tmp_path, "gitops.dependency-updates")["gitops.dependency-updates"]["status"] == "pass"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus absent")
@pytest.mark.parametrize("repo", sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else [])
def test_corpus_gitops_runs_and_finds_updater(repo):
    c = run(CORPUS / repo)
    gitops = [x for x in c.values() if x["layer"] == "gitops"]
    assert not any(x.get("error") for x in gitops)
    assert c["gitops.dependency-updates"]["status"] == "pass"  # every corpus repo runs Renovate
    assert c["gitops.dependson-acyclic"]["status"] in ("pass", "not_applicable")
