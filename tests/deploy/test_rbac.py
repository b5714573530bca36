"""deploy/: the ClusterRole grants exactly what the live source reads, and the CronJob is locked down."""
from __future__ import annotations

import yaml

from scanner.sources.kube_types import OPT_IN, RESOURCE_TYPES, SECRETS
from tests.support.paths import ROOT

DEPLOY = ROOT / "deploy"


def _load(name: str) -> dict:
    return yaml.safe_load((DEPLOY / "base" / name).read_text())


def _grants(role: dict) -> set[tuple[str, str, str]]:
    out = set()
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, f"unexpected rule fields (resourceNames? nonResourceURLs?): {rule}"
        for g in rule["apiGroups"]:
            for r in rule["resources"]:
                for v in rule["verbs"]:
                    out.add((g, r, v))
    return out


def test_clusterrole_grants_exactly_the_resource_types_read():
    role = _load("clusterrole.yaml")
    assert role["kind"] == "ClusterRole" and role["apiVersion"] == "rbac.authorization.k8s.io/v1"
    expected = set()
    for t in RESOURCE_TYPES:
        if t not in OPT_IN:  # Secrets: granted only by the opt-in overlay (test below)
            expected |= {(t.group, t.plural, v) for v in ("get", "list")}
    granted = _grants(role)
    assert granted - expected == set(), "granted but not read by the scanner"
    assert expected - granted == set(), "read by the scanner but not granted"


def test_clusterrole_is_read_only_without_wildcards_or_secret_get():
    granted = _grants(_load("clusterrole.yaml"))
    assert {v for _, _, v in granted} == {"get", "list"}
    assert not any("*" in (g, r, v) for g, r, v in granted)
    assert not any("/" in r for _, r, _ in granted), "no subresources"
    assert not any(r == "secrets" for _, r, _ in granted), "no grant on Secrets by default"
    assert not any(r == "configmaps" for _, r, _ in granted)


def test_secret_metadata_is_an_opt_in_overlay_that_says_what_it_grants():
    overlay = DEPLOY / "overlays" / "secret-metadata"
    kust = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    assert "../../base" in kust["resources"]
    role = yaml.safe_load((overlay / "clusterrole.yaml").read_text())
    assert _grants(role) == {("", "secrets", "list")}
    text = (overlay / "kustomization.yaml").read_text()
    assert "WITH its data" in text  # the warning a reader must see before applying it
    crb = yaml.safe_load((overlay / "clusterrolebinding.yaml").read_text())
    assert crb["roleRef"]["name"] == role["metadata"]["name"]


def test_binding_and_service_account_fit_together():
    kust = _load("kustomization.yaml")
    for f in kust["resources"]:
        assert (DEPLOY / "base" / f).is_file(), f
    assert kust["namespace"] == "posture"
    sa = _load("serviceaccount.yaml")
    crb = _load("clusterrolebinding.yaml")
    role = _load("clusterrole.yaml")
    assert sa["automountServiceAccountToken"] is False
    assert crb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]}
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "posture"}]


def test_cronjob_is_hardened_and_runs_the_snapshot():
    cj = _load("cronjob.yaml")
    pod = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == _load("serviceaccount.yaml")["metadata"]["name"]
    # No automatic token: one projected token, short-lived, where the client's in-cluster config reads it.
    assert pod["automountServiceAccountToken"] is False
    token = next(v for v in pod["volumes"] if v["name"] == "api-token")["projected"]["sources"]
    assert token[0]["serviceAccountToken"]["expirationSeconds"] <= 3600
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not any(pod.get(h) for h in ("hostNetwork", "hostPID", "hostIPC"))
    [c] = pod["containers"]
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"cpu", "memory"} <= set(c["resources"]["limits"])
    assert {"cpu", "memory"} <= set(c["resources"]["requests"])
    assert c["args"][:4] == ["snapshot", "--cluster", "--archive", "/archive"]
    assert "@sha256:" in c["image"]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/var/run/secrets/kubernetes.io/serviceaccount"]["readOnly"] is True
    assert "--keep-daily" in c["args"]  # bounded archive
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/archive"]["name"]]["persistentVolumeClaim"]["claimName"] == _load("pvc.yaml")["metadata"]["name"]
    assert cj["spec"]["concurrencyPolicy"] == "Forbid"


def test_flux_example_points_at_the_base():
    docs = {d["kind"]: d for f in ("gitrepository.yaml", "ks.yaml")
            for d in yaml.safe_load_all((DEPLOY / "flux" / f).read_text())}
    ks, repo = docs["Kustomization"], docs["GitRepository"]
    assert ks["spec"]["path"] == "./deploy/base"
    assert ks["spec"]["sourceRef"] == {"kind": "GitRepository", "name": repo["metadata"]["name"]}
    assert ks["metadata"]["namespace"] == repo["metadata"]["namespace"]
    assert ks["spec"]["prune"] is True


def test_dockerfile_runs_as_non_root():
    text = (DEPLOY / "Dockerfile").read_text()
    assert "FROM python:3.12-slim" in text
    user_lines = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert user_lines and user_lines[-1].split(":")[0] not in ("root", "0")
