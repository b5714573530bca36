"""Small GitOps repos written by tests: a FluxInstance root -> cluster-apps -> one app per namespace."""
from __future__ import annotations

import textwrap
from pathlib import Path


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text).lstrip("\n"))
    return p


def flux_repo(root: Path, apps: dict[str, dict[str, str]] | None = None) -> Path:
    """`apps` maps namespace -> {file name in app/: YAML text}; each namespace gets ks.yaml + app/."""
    write(root, "kubernetes/flux/instance.yaml", """
        apiVersion: fluxcd.controlplane.io/v1
        kind: FluxInstance
        metadata: {name: flux, namespace: flux-system}
        spec:
          distribution: {version: "2.x", registry: ghcr.io/fluxcd}
          sync: {kind: GitRepository, url: "https://github.com/example/home-ops", ref: refs/heads/main, path: kubernetes/flux/cluster}
        """)
    write(root, "kubernetes/flux/cluster/ks.yaml", """
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {name: cluster-apps, namespace: flux-system}
        spec:
          interval: 30m
          path: ./kubernetes/apps
          prune: true
          sourceRef: {kind: GitRepository, name: flux-system}
        """)
    apps = apps or {}
    write(root, "kubernetes/apps/kustomization.yaml",
          "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
          + "".join(f"  - ./{ns}\n" for ns in apps))
    for ns, files in apps.items():
        write(root, f"kubernetes/apps/{ns}/kustomization.yaml", f"""
            apiVersion: kustomize.config.k8s.io/v1beta1
            kind: Kustomization
            namespace: {ns}
            resources: [./namespace.yaml, ./app/ks.yaml]
            """)
        write(root, f"kubernetes/apps/{ns}/namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: _}\n")
        write(root, f"kubernetes/apps/{ns}/app/ks.yaml", f"""
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata: {{name: {ns}-app, namespace: flux-system}}
            spec:
              targetNamespace: {ns}
              interval: 30m
              path: ./kubernetes/apps/{ns}/app/resources
              prune: true
              sourceRef: {{kind: GitRepository, name: flux-system}}
              postBuild:
                substitute: {{APP: {ns}-app}}
            """)
        names = list(files)
        write(root, f"kubernetes/apps/{ns}/app/resources/kustomization.yaml",
              "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
              + "".join(f"  - ./{n}\n" for n in names))
        for name, text in files.items():
            write(root, f"kubernetes/apps/{ns}/app/resources/{name}", text)
    return root


# A Deployment with a privileged container: one failing subject for workloads.no-privileged-containers.
PRIVILEGED_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: ups}
spec:
  template:
    spec:
      containers: [{name: app, image: "ghcr.io/example/ups:1.0.0", securityContext: {privileged: true}}]
"""
