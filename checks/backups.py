"""Backups layer: persistent volumes covered by VolSync (or another backup mechanism), backups that
run on a schedule and keep history, databases backed up by their operator.

Mechanisms recognised by shape: VolSync ReplicationSource (inline or from a Flux component whose
names come from `${APP}`, expanded with the substitutions of each including Kustomization), kopiur
SnapshotPolicy/SnapshotSchedule, Velero Schedule (namespaces it includes), Longhorn RecurringJob
(backup task on the volume's group), CloudNativePG `backup`/ScheduledBackup/barman ObjectStore plugin.
"""
from __future__ import annotations


from scanner.core.memo import memo
from scanner.checkapi.options import CheckOptions, option
from scanner.checkapi.registry import check
from scanner.checkapi.results import failed, passed, warned
from scanner.analysis.talos import expand

import re

CACHE_NAME = re.compile(r"(^|[-_.])(cache|tmp|temp|scratch|transcode)([-_.]|$)", re.I)


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


_RELEASE = re.compile(r"\{\{-?\s*\.Release\.Name\s*-?\}\}")


def _name(res, value) -> str:
    value = str(value)
    if res.kind == "HelmRelease" and "{{" in value:
        value = _RELEASE.sub(str(res.spec.get("releaseName") or res.name), value)
    return str(expand(value, res.variables))


def _strings(value, out: set) -> set:
    if isinstance(value, str):
        out.add(value)
    elif isinstance(value, (dict, list)):
        for v in value.values() if isinstance(value, dict) else value:
            if isinstance(v, str):  # (leaves inline: no call per scalar)
                out.add(v)
            elif isinstance(v, (dict, list)):
                _strings(v, out)
    return out


def _mounted_claims(inv) -> set:
    """(namespace, claim) pairs that a deployed workload mounts or a chart's values name."""
    out = set()
    for w in inv.workloads:
        if not w.resource.deployed:
            continue
        for vol in w.pod.get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName") if isinstance(vol, dict) else None
            if claim:
                out.add((w.namespace, _name(w.resource, claim)))
    for hr in inv.of_kind("HelmRelease"):
        for s in _strings(hr.spec.get("values"), set()):
            # `_name` returns a plain string without braces as it is: most values skip its substitutions
            out.add((hr.namespace, s if type(s) is str and "{" not in s and not s.endswith("}") else _name(hr, s)))
    return out


def pvc_claims(inv):
    """(namespace, claim name, resource, path, kind) of every persistent claim a deployed app uses.

    A PersistentVolumeClaim manifest counts when a workload mounts it or chart values name it (claims
    only mover pods or nothing mount, such as backup repository volumes, are not application data)."""
    seen = set()
    mounted = _mounted_claims(inv)
    for pvc in inv.of_kind("PersistentVolumeClaim"):
        name = _name(pvc, pvc.name)
        key = (pvc.namespace, name)
        if key not in seen and key in mounted:
            seen.add(key)
            yield pvc.namespace, name, pvc, (), "pvc"
    for w in inv.workloads:
        if not w.resource.deployed:
            continue
        for vol in w.pod.get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName") if isinstance(vol, dict) else None
            if claim:
                claim = _name(w.resource, claim)
            if claim and (w.namespace, claim) not in seen:
                seen.add((w.namespace, claim))
                yield w.namespace, str(claim), w.resource, w.pod_paths.get(f"volume:{vol.get('name')}", w.pod_path), "volume"
        if w.kind == "StatefulSet" and w.source == "manifest":
            for i, tpl in enumerate(w.resource.spec.get("volumeClaimTemplates") or []):
                tname = _d(_d(tpl).get("metadata")).get("name")
                if tname:
                    claim = f"{tname}-{w.name}"
                    if (w.namespace, claim) not in seen:
                        seen.add((w.namespace, claim))
                        yield w.namespace, claim, w.resource, ("spec", "volumeClaimTemplates", i), "template"


def backup_index(inv) -> dict:
    """(namespace, claim) -> (mechanism label, resource) for every claim some backup names explicitly,
    plus ('*', ns) entries for namespace-wide mechanisms (Velero) and ('longhorn', group) entries."""
    idx: dict = {}
    for rs in inv.of_kind("ReplicationSource"):
        claim = rs.spec.get("sourcePVC")
        if claim:
            idx[(rs.namespace, _name(rs, claim))] = (f"VolSync ReplicationSource {_name(rs, rs.name)}", rs)
    for pol in inv.of_kind("SnapshotPolicy"):
        if "kopiur" not in pol.api_version:
            continue
        for src in pol.spec.get("sources") or []:
            claim = _d(_d(src).get("pvc")).get("name")
            if claim:
                idx[(pol.namespace, _name(pol, claim))] = (f"kopiur SnapshotPolicy {_name(pol, pol.name)}", pol)
    for sch in inv.of_kind("Schedule"):
        if not sch.api_version.startswith("velero.io"):
            continue
        tpl = _d(sch.spec.get("template"))
        if tpl.get("snapshotVolumes") is False and not tpl.get("defaultVolumesToFsBackup"):
            continue
        inc = [str(n) for n in tpl.get("includedNamespaces") or ["*"]]
        exc = {str(n) for n in tpl.get("excludedNamespaces") or []}
        idx.setdefault(("velero", "*"), []).append((inc, exc, sch))
    for job in inv.of_kind("RecurringJob"):
        if "longhorn" not in job.api_version or str(job.spec.get("task")) not in ("backup", "backup-force-create"):
            continue
        for g in job.spec.get("groups") or []:
            idx.setdefault(("longhorn-group", str(g)), job)
        idx.setdefault(("longhorn-job", job.name), job)
    return idx


def _pvc_named(inv, ns, claim):
    """The first deployed PVC of `ns` whose resolved name is `claim` (indexed once per inventory)."""
    index = memo(inv, "backups.pvc_by_name", lambda: _pvc_index(inv))
    try:
        return index.get((ns, claim))
    except TypeError:  # unhashable: no index
        return next((p for p in inv.of_kind("PersistentVolumeClaim")
                     if p.namespace == ns and _name(p, p.name) == claim), None)


def _pvc_index(inv) -> dict:
    out: dict = {}
    for pvc in inv.of_kind("PersistentVolumeClaim"):
        out.setdefault((pvc.namespace, _name(pvc, pvc.name)), pvc)
    return out


def _storage_class(inv, ns, claim) -> str:
    pvc = _pvc_named(inv, ns, claim)
    if pvc is not None:
        return str(expand(str(pvc.spec.get("storageClassName") or ""), pvc.variables))
    return ""


def _pvc_labels(inv, ns, claim) -> dict:
    pvc = _pvc_named(inv, ns, claim)
    if pvc is not None:
        return pvc.labels
    return {}


def coverage(inv, idx, ns, claim):
    hit = idx.get((ns, claim))
    if hit:
        return hit
    for inc, exc, sch in idx.get(("velero", "*"), []):
        if ns not in exc and ("*" in inc or ns in inc):
            return (f"Velero Schedule {sch.namespace}/{sch.name}", sch)
    labels = _pvc_labels(inv, ns, claim)
    for k, v in labels.items():
        if k.startswith("recurring-job-group.longhorn.io/") and str(v) == "enabled":
            job = idx.get(("longhorn-group", k.split("/", 1)[1]))
            if job:
                return (f"Longhorn RecurringJob {job.name}", job)
        if k.startswith("recurring-job.longhorn.io/") and str(v) == "enabled":
            job = idx.get(("longhorn-job", k.split("/", 1)[1]))
            if job:
                return (f"Longhorn RecurringJob {job.name}", job)
    if "longhorn" in _storage_class(inv, ns, claim).lower() and idx.get(("longhorn-group", "default")):
        job = idx[("longhorn-group", "default")]
        return (f"Longhorn RecurringJob {job.name} (default group)", job)
    return None


class PvcBackupOptions(CheckOptions):
    ignore_claims: list[str] = option([], description="PVC names (`namespace/name` globs) that need no backup.")

@check(
    id="backups.pvc-backup-coverage",
    title="Every persistent volume claim is backed up",
    severity="medium",
    rationale="""
        Ransomware, a bad migration or a storage failure destroys data that only lives in a PVC. A
        ReplicationSource (VolSync) or another scheduled backup is what makes recovery possible.""",
    remediation="""
        Add a VolSync ReplicationSource for the claim (the Flux volsync component pattern: include the
        component in the app's ks.yaml with `APP`/`VOLSYNC_CAPACITY` substitutions) with a schedule and retention,
        or cover it with kopiur, Velero or a Longhorn backup RecurringJob.""",
    references=["https://volsync.readthedocs.io/en/stable/usage/restic/index.html",
                "NSA/CISA Kubernetes Hardening Guide v1.2, 'Upgrading and application security practices'"],
    options=PvcBackupOptions,
)
def pvc_backup_coverage(inv, options):
    import fnmatch

    ignore = list(options.get("ignore_claims") or [])
    idx = backup_index(inv)
    for ns, claim, res, path, origin in pvc_claims(inv):
        if "${" in claim:
            continue  # a component claim whose APP is unknown (not instantiated)
        subject = f"PVC {ns}/{claim}"
        if any(fnmatch.fnmatchcase(f"{ns}/{claim}", p) or fnmatch.fnmatchcase(claim, p) for p in ignore):
            yield passed(inv, subject, f"claim {claim} excluded from backup coverage in posture.yaml", res, path,
                         namespace=ns)
            continue
        hit = coverage(inv, idx, ns, claim)
        if hit:
            label, src = hit
            yield passed(inv, subject, f"claim {claim} is backed up by {label}", res, path,
                         namespace=ns, evidence={"backup": label, "path": src.path})
        elif CACHE_NAME.search(claim):
            yield warned(inv, subject, f"claim {ns}/{claim} has no backup (its name says cache/scratch data)", res,
                         path, namespace=ns)
        else:
            yield failed(inv, subject, f"claim {ns}/{claim} has no ReplicationSource or other backup", res, path,
                         namespace=ns)


@check(
    id="backups.schedule-retention",
    title="Backups run on a schedule and keep a bounded history",
    severity="low",
    rationale="""
        A ReplicationSource without `trigger.schedule` only runs when triggered by hand; without retention
        the repository keeps one snapshot (a corruption copied over the only good backup) or grows without
        bound until the backend fills up and backups stop.""",
    remediation="""
        Set `spec.trigger.schedule` (cron) and `restic.retain`/`kopia.retain` (hourly/daily/weekly) on every
        ReplicationSource; kopiur SnapshotPolicies need `retention` and a SnapshotSchedule.""",
    references=["https://volsync.readthedocs.io/en/stable/usage/restic/index.html#backup-options"],
)
def schedule_retention(inv, options):
    for rs in inv.of_kind("ReplicationSource"):
        name = _name(rs, rs.name)
        subject = f"ReplicationSource {rs.namespace}/{name}"
        schedule = _d(rs.spec.get("trigger")).get("schedule")
        mover = next((m for m in ("restic", "kopia", "rclone", "rsync", "rsyncTLS", "syncthing") if m in rs.spec), None)
        retain = _d(_d(rs.spec.get(mover)).get("retain")) if mover else {}
        if mover in ("rsync", "rsyncTLS", "syncthing", "rclone"):
            retain = {"replication": True}
        missing = [w for w, ok in (("trigger.schedule", bool(schedule)), (f"{mover or 'restic'}.retain", bool(retain))) if not ok]
        if missing:
            yield failed(inv, subject, f"missing {', '.join(missing)}", rs, ("spec",))
        else:
            yield passed(inv, subject, f"schedule {schedule}; retain {', '.join(f'{k}={v}' for k, v in retain.items())}",
                         rs, ("spec", "trigger", "schedule"))
    schedules = {(s.namespace, _name(s, _d(s.spec.get("policyRef")).get("name") or "")) for s in inv.of_kind("SnapshotSchedule")
                 if "kopiur" in s.api_version}
    for pol in inv.of_kind("SnapshotPolicy"):
        if "kopiur" not in pol.api_version:
            continue
        name = _name(pol, pol.name)
        subject = f"SnapshotPolicy {pol.namespace}/{name}"
        retention = _d(pol.spec.get("retention"))
        sched = (pol.namespace, name) in schedules or bool(pol.spec.get("schedule"))
        missing = [w for w, ok in (("SnapshotSchedule", sched), ("retention", bool(retention))) if not ok]
        if missing:
            yield failed(inv, subject, f"missing {', '.join(missing)}", pol, ("spec",))
        else:
            yield passed(inv, subject, f"scheduled; retention {', '.join(f'{k}={v}' for k, v in retention.items())}",
                         pol, ("spec", "retention"))
    for sch in inv.of_kind("Schedule"):
        if not sch.api_version.startswith("velero.io"):
            continue
        ttl = _d(sch.spec.get("template")).get("ttl")
        subject = f"Velero Schedule {sch.namespace}/{sch.name}"
        if sch.spec.get("schedule"):
            yield passed(inv, subject, f"schedule {sch.spec['schedule']}; ttl {ttl or '720h (default)'}", sch,
                         ("spec", "schedule"))
        else:
            yield failed(inv, subject, "no schedule", sch, ("spec",))


def _cnpg_clusters(inv):
    return [c for c in inv.of_kind("Cluster") if c.api_version.startswith("postgresql.cnpg.io")]


@check(
    id="backups.database-backup",
    title="Databases are backed up by their operator",
    severity="medium",
    rationale="""
        A volume snapshot of a running PostgreSQL is not a consistent backup. CloudNativePG backs up with
        WAL archiving plus scheduled base backups (barman object store, the barman-cloud plugin or volume
        snapshots); without them a lost or corrupted cluster cannot be restored to a point in time.""",
    remediation="""
        Configure `spec.backup` (barmanObjectStore or volumeSnapshot) or the barman-cloud plugin
        (`spec.plugins: [{name: barman-cloud.cloudnative-pg.io, parameters: {barmanObjectName: ...}}]` with
        an ObjectStore) and a ScheduledBackup for each Cluster.""",
    references=["https://cloudnative-pg.io/documentation/current/backup/",
                "https://cloudnative-pg.io/plugin-barman-cloud/"],
)
def database_backup(inv, options):
    scheduled = {}
    for sb in inv.of_kind("ScheduledBackup"):
        if sb.api_version.startswith("postgresql.cnpg.io"):
            target = _name(sb, _d(sb.spec.get("cluster")).get("name") or "")
            scheduled[(sb.namespace, target)] = sb
    for c in _cnpg_clusters(inv):
        name = _name(c, c.name)
        subject = f"CloudNativePG Cluster {c.namespace}/{name}"
        backup = _d(c.spec.get("backup"))
        plugins = [p for p in c.spec.get("plugins") or [] if isinstance(p, dict)
                   and "barman" in str(p.get("name", "")) and p.get("isWALArchiver", True) is not False]
        method = ("barmanObjectStore" if backup.get("barmanObjectStore") else
                  "volumeSnapshot" if backup.get("volumeSnapshot") else
                  "barman-cloud plugin" if plugins else None)
        sb = scheduled.get((c.namespace, name))
        if method and sb:
            yield passed(inv, subject, f"{method} backups, ScheduledBackup {sb.name} ({sb.spec.get('schedule')})", c,
                         ("spec", "backup") if backup else ("spec", "plugins"))
        elif method:
            yield warned(inv, subject, f"{method} configured (WAL archive) but no ScheduledBackup: no base backups "
                         "are taken on a schedule", c, ("spec", "backup") if backup else ("spec", "plugins"))
        elif sb:
            yield warned(inv, subject, f"ScheduledBackup {sb.name} exists but the Cluster has no backup target", c, ("spec",))
        else:
            yield failed(inv, subject, "no backup configured (no spec.backup, no barman-cloud plugin, no ScheduledBackup)",
                         c, ("spec",))
    for pg in inv.of_kind("PostgresCluster"):
        subject = f"PostgresCluster {pg.namespace}/{pg.name}"
        if _d(pg.spec.get("backups")).get("pgbackrest"):
            yield passed(inv, subject, "pgBackRest backups configured", pg, ("spec", "backups"))
        else:
            yield failed(inv, subject, "no pgBackRest backup configured", pg, ("spec",))
    mdb_backups = {(b.namespace, _d(b.spec.get("mariaDbRef")).get("name")) for b in inv.of_kind("Backup")
                   if b.api_version.startswith(("k8s.mariadb.com", "mariadb.mmontes.io"))}
    for m in inv.of_kind("MariaDB"):
        if not m.api_version.startswith(("k8s.mariadb.com", "mariadb.mmontes.io")):
            continue
        subject = f"MariaDB {m.namespace}/{m.name}"
        if (m.namespace, m.name) in mdb_backups:
            yield passed(inv, subject, "MariaDB Backup resource configured", m)
        else:
            yield failed(inv, subject, "no MariaDB Backup for this instance", m, ("spec",))
