"""Backup coverage: VolSync through a Flux component with ${APP}, kopiur nested defaults, Velero, CNPG."""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

import checks
from tests.support.paths import CORPUS
from tests.support.scanning import scan

EXAMPLES = Path(checks.__file__).parent / "examples"


def write(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip())
    return root


def run(root, *ids):
    return {c["id"]: c for c in scan(str(root), only=list(ids) or None).report.to_json_dict()["checks"]}


def test_component_replicationsource_expanded_per_app(tmp_path):
    repo = tmp_path / "r"
    shutil.copytree(EXAMPLES / "backups.pvc-backup-coverage" / "pass", repo)
    c = run(repo, "backups.pvc-backup-coverage", "backups.schedule-retention")
    f = c["backups.pvc-backup-coverage"]["findings"]
    assert [x["subject"] for x in f] == ["PVC media/radarr"] and f[0]["status"] == "pass"
    assert "ReplicationSource radarr" in f[0]["message"]
    sr = c["backups.schedule-retention"]["findings"]
    assert sr[0]["subject"] == "ReplicationSource media/radarr" and sr[0]["status"] == "pass"


def test_kopiur_nested_default_and_velero_and_unused_pvc(tmp_path):
    write(tmp_path, {
        "apps.yaml": """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: a, namespace: one}
            spec:
              template:
                spec:
                  containers: [{name: a, image: x:1}]
                  volumes:
                    - {name: d, persistentVolumeClaim: {claimName: a-data}}
                    - {name: c, persistentVolumeClaim: {claimName: a-cache}}
            ---
            apiVersion: apps/v1
            kind: StatefulSet
            metadata: {name: db, namespace: two}
            spec:
              template:
                spec:
                  containers: [{name: db, image: x:1}]
              volumeClaimTemplates:
                - metadata: {name: data}
            ---
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata: {name: restic-repo, namespace: one}
            spec: {accessModes: [ReadWriteMany]}
            ---
            apiVersion: kopiur.home-operations.com/v1alpha1
            kind: SnapshotPolicy
            metadata: {name: a, namespace: one}
            spec:
              retention: {keepDaily: 7}
              sources:
                - pvc: {name: "${KOPIUR_CLAIM:-a-data}"}
            ---
            apiVersion: kopiur.home-operations.com/v1alpha1
            kind: SnapshotSchedule
            metadata: {name: a, namespace: one}
            spec: {policyRef: {name: a}, schedule: {cron: "0 * * * *"}}
            ---
            apiVersion: velero.io/v1
            kind: Schedule
            metadata: {name: daily, namespace: velero}
            spec:
              schedule: "0 2 * * *"
              template: {includedNamespaces: ["two"], defaultVolumesToFsBackup: true}
            """,
    })
    c = run(tmp_path, "backups.pvc-backup-coverage", "backups.schedule-retention")
    st = {f["subject"]: (f["status"], f["message"]) for f in c["backups.pvc-backup-coverage"]["findings"]}
    assert st["PVC one/a-data"][0] == "pass" and "kopiur" in st["PVC one/a-data"][1]
    assert st["PVC one/a-cache"][0] == "warn"
    assert st["PVC two/data-db"][0] == "pass" and "Velero" in st["PVC two/data-db"][1]
    assert "PVC one/restic-repo" not in st  # mounted by nothing: not application data
    assert c["backups.schedule-retention"]["status"] == "pass"


def test_cnpg_backup_variants(tmp_path):
    write(tmp_path, {"db.yaml": """
        apiVersion: postgresql.cnpg.io/v1
        kind: Cluster
        metadata: {name: walonly, namespace: db}
        spec:
          backup:
            barmanObjectStore: {destinationPath: "s3://b/"}
        ---
        apiVersion: postgresql.cnpg.io/v1
        kind: Cluster
        metadata: {name: none, namespace: db}
        spec: {instances: 1}
        ---
        apiVersion: postgresql.cnpg.io/v1
        kind: Cluster
        metadata: {name: full, namespace: db}
        spec:
          plugins: [{name: barman-cloud.cloudnative-pg.io, parameters: {barmanObjectName: s3}}]
        ---
        apiVersion: postgresql.cnpg.io/v1
        kind: ScheduledBackup
        metadata: {name: full-daily, namespace: db}
        spec: {schedule: "0 0 3 * * *", cluster: {name: full}}
        """})
    st = {f["subject"]: f["status"] for f in run(tmp_path, "backups.database-backup")["backups.database-backup"]["findings"]}
    assert st == {"CloudNativePG Cluster db/walonly": "warn", "CloudNativePG Cluster db/none": "fail",
                  "CloudNativePG Cluster db/full": "pass"}


@pytest.mark.skipif(not (CORPUS / "bjw-s-labs__home-ops").is_dir(), reason="corpus absent")
def test_corpus_kopiur_component_claims_resolve():
    c = run(CORPUS / "bjw-s-labs__home-ops", "backups.pvc-backup-coverage")
    subjects = [f["subject"] for f in c["backups.pvc-backup-coverage"]["findings"]]
    assert not any("}" in s or "${" in s for s in subjects)
    assert any(f["status"] == "pass" and "kopiur" in f["message"] for f in c["backups.pvc-backup-coverage"]["findings"])


@pytest.mark.skipif(not (CORPUS / "dapperdivers__dapper-cluster").is_dir(), reason="corpus absent")
def test_corpus_target_volsync_component():
    c = run(CORPUS / "dapperdivers__dapper-cluster", "backups.pvc-backup-coverage", "backups.database-backup")
    f = c["backups.pvc-backup-coverage"]["findings"]
    volsync = [x for x in f if x["status"] == "pass" and "VolSync" in x["message"]]
    assert len(volsync) >= 30
    assert not any(x["subject"].startswith("PVC") and "volsync-" in x["subject"] and x["subject"].endswith("-repo") for x in f)
