"""Generate a synthetic home-ops repo at N times the target cluster's size.

The target (dapper-cluster) has about 21 namespaces, 117 apps (ks.yaml + app/), 14 SOPS Secrets and
80 routes; `scale` multiplies namespaces and apps together, so 10x and 100x keep the same shape.
Every variable the manifests use is substituted (Flux 2.x substitutes strictly: an unset one fails
the app's build).
Usage: python benchmarks/synth.py OUT_DIR SCALE
"""
from __future__ import annotations

import os
import sys

BASE_NAMESPACES = 21
BASE_APPS = 117

FLUX = """apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata: {name: flux, namespace: flux-system}
spec:
  distribution: {version: "2.x", registry: ghcr.io/fluxcd}
  sync: {kind: GitRepository, url: "https://github.com/example/synthetic", ref: refs/heads/main, path: kubernetes/flux/cluster}
"""
CLUSTER = """apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: cluster-apps, namespace: flux-system}
spec:
  interval: 30m
  path: ./kubernetes/apps
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  decryption: {provider: sops, secretRef: {name: sops-age}}
  patches:
    - patch: |-
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {name: not-used}
        spec:
          decryption: {provider: sops, secretRef: {name: sops-age}}
      target: {group: kustomize.toolkit.fluxcd.io, kind: Kustomization}
"""
OCI = """apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: app-template}
spec:
  interval: 15m
  url: oci://ghcr.io/bjw-s-labs/helm/app-template
  ref: {tag: 4.4.0}
"""
KS = """---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: &app {app}
spec:
  targetNamespace: {ns}
  commonMetadata:
    labels:
      app.kubernetes.io/name: *app
  dependsOn:
    - name: {dep}
  path: ./kubernetes/apps/{ns}/{app}/app
  prune: true
  sourceRef: {{kind: GitRepository, name: flux-system, namespace: flux-system}}
  interval: 30m
  postBuild:
    substitute:
      APP: *app
      SECRET_DOMAIN: example.org
"""
HR = """---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {app}
spec:
  interval: 30m
  chartRef: {{kind: OCIRepository, name: app-template}}
  install: {{remediation: {{retries: 3}}}}
  upgrade: {{cleanupOnFail: true, remediation: {{strategy: rollback, retries: 3}}}}
  values:
    controllers:
      {app}:
        annotations:
          reloader.stakater.com/auto: "true"
        containers:
          app:
            image:
              repository: ghcr.io/example/{app}
              tag: 1.{i}.0@sha256:{digest}
            env:
              TZ: Europe/Paris
              APP_PORT: &port 8080
            envFrom:
              - secretRef:
                  name: {app}-secret
            securityContext:
              allowPrivilegeEscalation: false
              readOnlyRootFilesystem: true
              capabilities: {{drop: ["ALL"]}}
            resources:
              requests: {{cpu: 10m, memory: 64Mi}}
              limits: {{memory: 512Mi}}
    defaultPodOptions:
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
        runAsGroup: 1000
        seccompProfile: {{type: RuntimeDefault}}
    service:
      app:
        controller: {app}
        ports:
          http:
            port: *port
    route:
      app:
        annotations:
          authentik.home.arpa/forward-auth: "true"
        hostnames: ["{app}.${{SECRET_DOMAIN}}"]
        parentRefs:
          - name: {gateway}
            namespace: network
    persistence:
      config:
        existingClaim: {app}
      tmp:
        type: emptyDir
"""
ES = """---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: {app}
spec:
  secretStoreRef: {{kind: ClusterSecretStore, name: vault}}
  target:
    name: {app}-secret
    template:
      data:
        DATABASE_URL: "postgres://{{{{ .user }}}}:{{{{ .password }}}}@db/{app}"
  dataFrom:
    - extract: {{key: {app}}}
"""
SOPS_SECRET = """apiVersion: v1
kind: Secret
metadata:
  name: {app}-sops
stringData:
    TOKEN: ENC[AES256_GCM,data:c2VjcmV0,iv:aXY=,tag:dGFn,type:str]
sops:
    age:
        - recipient: age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq
          enc: |
            -----BEGIN AGE ENCRYPTED FILE-----
            YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBzeW50aGV0aWMK
            -----END AGE ENCRYPTED FILE-----
    lastmodified: "2026-01-01T00:00:00Z"
    mac: ENC[AES256_GCM,data:bWFj,iv:aXY=,tag:dGFn,type:str]
    encrypted_regex: ^(data|stringData)$
    version: 3.10.2
"""


def write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def generate(out: str, scale: int) -> dict:
    namespaces = BASE_NAMESPACES * scale
    apps = BASE_APPS * scale
    write(f"{out}/kubernetes/flux/instance.yaml", FLUX)
    write(f"{out}/kubernetes/flux/cluster/ks.yaml", CLUSTER)
    write(f"{out}/.sops.yaml", "creation_rules:\n  - path_regex: kubernetes/.*\\.sops\\.ya?ml\n    encrypted_regex: ^(data|stringData)$\n"
          "    key_groups: [{age: [age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq]}]\n")
    ns_names = [f"ns{i:04d}" for i in range(namespaces)]
    write(f"{out}/kubernetes/apps/kustomization.yaml",
          "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
          + "".join(f"  - ./{ns}\n" for ns in ns_names))
    per_ns: dict[str, list[str]] = {ns: [] for ns in ns_names}
    for i in range(apps):
        per_ns[ns_names[i % namespaces]].append(f"app{i:05d}")
    secrets = 0
    for n, (ns, names) in enumerate(per_ns.items()):
        write(f"{out}/kubernetes/apps/{ns}/kustomization.yaml",
              f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {ns}\nresources:\n"
              "  - ./namespace.yaml\n  - ./ocirepository.yaml\n" + "".join(f"  - ./{a}/ks.yaml\n" for a in names))
        write(f"{out}/kubernetes/apps/{ns}/namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: _\n")
        write(f"{out}/kubernetes/apps/{ns}/ocirepository.yaml", OCI)
        for j, app in enumerate(names):
            i = int(app[3:])
            dep = names[j - 1] if j else "cluster-apps"
            write(f"{out}/kubernetes/apps/{ns}/{app}/ks.yaml", KS.format(app=app, ns=ns, dep=dep))
            files = ["./helmrelease.yaml", "./externalsecret.yaml"]
            write(f"{out}/kubernetes/apps/{ns}/{app}/app/helmrelease.yaml",
                  HR.format(app=app, i=i, digest=f"{i:064x}", gateway="external" if i % 3 == 0 else "internal"))
            write(f"{out}/kubernetes/apps/{ns}/{app}/app/externalsecret.yaml", ES.format(app=app))
            if i % 8 == 0:
                write(f"{out}/kubernetes/apps/{ns}/{app}/app/secret.sops.yaml", SOPS_SECRET.format(app=app))
                files.append("./secret.sops.yaml")
                secrets += 1
            write(f"{out}/kubernetes/apps/{ns}/{app}/app/kustomization.yaml",
                  "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
                  + "".join(f"  - {f}\n" for f in files))
    return {"scale": scale, "namespaces": namespaces, "apps": apps, "secrets": secrets}


if __name__ == "__main__":
    print(generate(sys.argv[1], int(sys.argv[2])))
