"""The coverage section: what the scan saw and what it could not, per cluster.

Coverage of a cluster = the share of its build units seen completely. A unit is a Flux Kustomization
build or a HelmRelease. A build counts 1 when it succeeded, 1/2 when it succeeded only with missing
generator files replaced by empty ones, 0 when it failed or its source is not this repository. A
HelmRelease counts 1 when its chart was rendered or it is an app-template release (derived from its
values, which that chart is made of), 1/2 when only the conventional value blocks of another chart
were read, 0 when opaque (neither).
"""
from __future__ import annotations

from collections import Counter


HOW_WEIGHT = {"helm": 1.0, "app-template": 1.0, "values": 0.5, "opaque": 0.0}


def helmrelease_how(inv, res) -> str:
    """How a deployed HelmRelease's objects are known: helm, app-template, values or opaque."""
    info = inv.releases.get((res.cluster, res.namespace, res.name))
    if info is None:
        return "app-template" if inv.is_app_template(res) else "opaque"
    if info.derivation == "app-template":
        return "app-template"
    return info.how


def summarise(inv, clusters, *, strict: bool, strict_evidence: str) -> dict:
    by_cluster = []
    for ci in clusters:
        name = ci.root.name
        gaps = [g for g in inv.gaps if g.cluster == name]
        hrs = [r for r in inv.of_kind("HelmRelease") if r.cluster == name and r.group == "helm.toolkit.fluxcd.io"]
        how = Counter(helmrelease_how(inv, hr) for hr in hrs)
        failed = ci.builds.get("failed", 0)
        degraded = sum(1 for g in gaps if g.code == "missing-file")
        external = sum(1 for g in gaps if g.code in ("external-source", "artifact-copy-failed"))
        builds_ok = sum(v for k, v in ci.builds.items() if k != "failed")
        units = builds_ok + failed + external + sum(how.values())
        seen = builds_ok - 0.5 * min(degraded, builds_ok) + sum(HOW_WEIGHT[k] * v for k, v in how.items())
        objects = sum(1 for r in inv.resources if r.deployed and r.cluster == name)
        by_cluster.append({
            "name": name,
            "root": ci.root.as_dict(),
            "objects": objects,
            "builds": {"native": ci.builds.get("native", 0), "kustomize": ci.builds.get("kustomize", 0),
                       "failed": failed, "external_sources": external},
            "helmreleases": {"rendered": how.get("helm", 0), "derived": how.get("app-template", 0) + how.get("values", 0),
                             "opaque": how.get("opaque", 0)},
            "unresolved_variables": {k: sorted(v) for k, v in sorted(ci.unresolved.items())},
            "gaps": dict(sorted(Counter(g.code for g in gaps).items())),
            "percent": round(100.0 * seen / units, 1) if units else 100.0,
        })
    deployed = {r.path for r in inv.resources if r.deployed}
    yaml_files = [f for f in inv.files if f.lower().endswith((".yaml", ".yml"))]
    total_units = sum(1 for _ in by_cluster)
    percent = (round(sum(c["percent"] for c in by_cluster) / total_units, 1) if total_units else 0.0)
    stats = {
        "objects deployed": sum(1 for r in inv.resources if r.deployed),
        "kustomize builds": sum(c["builds"]["kustomize"] for c in by_cluster),
        "native builds": sum(c["builds"]["native"] for c in by_cluster),
        "failed builds": sum(c["builds"]["failed"] for c in by_cluster),
        "charts rendered": sum(c["helmreleases"]["rendered"] for c in by_cluster),
        "releases derived from values": sum(c["helmreleases"]["derived"] for c in by_cluster),
        "opaque releases": sum(c["helmreleases"]["opaque"] for c in by_cluster),
    }
    return {
        "percent": percent,
        "stats": stats,
        "files": {"read": len(inv.files), "yaml": len(yaml_files), "deployed": len(deployed & set(inv.files)),
                  "not_deployed": len([f for f in yaml_files if f not in deployed and f not in inv.deployed_files])},
        "strict_substitution": {"enabled": strict, "evidence": strict_evidence},
        "clusters": by_cluster,
        "gaps": [g.as_dict() for g in sorted(inv.gaps, key=lambda g: (g.cluster or "", g.code, g.path, g.subject))],
    }
