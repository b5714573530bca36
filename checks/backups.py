"""Backups layer: persistent volumes covered by VolSync (or another backup mechanism)."""
from __future__ import annotations

from scanner.registry import check
from scanner.results import failed, passed


def pvc_claims(inv):
    """(namespace, claim name, resource, path) of every persistent claim a deployed app uses."""
    seen = set()
    for pvc in inv.of_kind("PersistentVolumeClaim"):
        key = (pvc.namespace, pvc.name)
        if key not in seen:
            seen.add(key)
            yield pvc.namespace, pvc.name, pvc, ()
    for w in inv.workloads:
        if not w.resource.deployed:
            continue
        for vol in w.pod.get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName") if isinstance(vol, dict) else None
            if claim and (w.namespace, claim) not in seen:
                seen.add((w.namespace, claim))
                yield w.namespace, str(claim), w.resource, w.pod_paths.get(f"volume:{vol.get('name')}", w.pod_path)


@check(
    id="backups.pvc-backup-coverage",
    title="Every persistent volume claim is backed up",
    severity="medium",
    rationale="""
        Ransomware, a bad migration or a storage failure destroys data that only lives in a PVC. A
        ReplicationSource (VolSync) or another scheduled backup is what makes recovery possible.""",
    remediation="""
        Add a VolSync ReplicationSource for the claim (the Flux volsync component pattern: include the
        component in the app's ks.yaml with `APP`/`VOLSYNC_CAPACITY` substitutions) with a schedule and retention.""",
    references=["https://volsync.readthedocs.io/en/stable/usage/restic/index.html",
                "NSA/CISA Kubernetes Hardening Guide v1.2, 'Upgrading and application security practices'"],
)
def pvc_backup_coverage(inv, options):
    sources = {}
    for rs in inv.of_kind("ReplicationSource"):
        claim = rs.spec.get("sourcePVC")
        if claim:
            from scanner.substitute import substitute

            sources[(rs.namespace, substitute(str(claim), rs.variables))] = rs
    for ns, claim, res, path in pvc_claims(inv):
        subject = f"PVC {ns}/{claim}"
        rs = sources.get((ns, claim))
        if rs:
            yield passed(inv, subject, f"claim {claim} is backed up by ReplicationSource {rs.name}", res, path,
                         namespace=ns, evidence={"replication_source": rs.name, "path": rs.path})
        else:
            yield failed(inv, subject, f"claim {ns}/{claim} has no ReplicationSource or other backup", res, path,
                         namespace=ns)
