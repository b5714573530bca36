"""Workload layer: least privilege of every derived pod template (manifests and app-template)."""
from __future__ import annotations

from scanner.registry import check
from scanner.results import failed, passed


def deployed_workloads(inv):
    return [w for w in inv.workloads if w.resource.deployed]


def _sc(container) -> dict:
    sc = container.spec.get("securityContext")
    return sc if isinstance(sc, dict) else {}


@check(
    id="workloads.no-privileged-containers",
    title="No privileged containers",
    severity="critical",
    rationale="""
        A privileged container has every capability and all host devices: it is root on the node, and a
        compromise of the app is a compromise of the node and of every workload scheduled on it
        (Pod Security Standards, baseline).""",
    remediation="""
        Remove `securityContext.privileged: true`; grant only the specific capability or device the app needs
        (e.g. `capabilities.add: [NET_ADMIN]`, a device plugin), and isolate what must stay privileged in its
        own namespace with a documented waiver.""",
    references=["https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline",
                "NSA/CISA Kubernetes Hardening Guide v1.2, 'Non-root containers and rootless container engines'",
                "CIS Kubernetes Benchmark 5.2.2"],
)
def no_privileged(inv, options):
    for w in deployed_workloads(inv):
        bad = [c for c in w.containers if _sc(c).get("privileged") is True]
        subject = f"{w.kind} {w.namespace}/{w.name}"
        if bad:
            c = bad[0]
            yield failed(inv, subject, f"{w.kind} {w.namespace}/{w.name}: container {c.name} runs privileged"
                         + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""), w.resource,
                         c.path + ("securityContext", "privileged"),
                         evidence={"containers": [x.name for x in bad], "source": w.source})
        else:
            yield passed(inv, subject, f"no privileged container in {w.name}", w.resource, w.pod_path,
                         evidence={"source": w.source})
