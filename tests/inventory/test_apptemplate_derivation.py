"""app-template derivation: v3/v4/v5 shapes, chart defaults, defaultContainerOptions; known third-party charts."""
from __future__ import annotations

import yaml

from scanner.core.model import Document, Resource
from scanner.inventory.workloads import from_app_template, from_chart_values


def hr(values_yaml: str, name="app", ns="demo") -> Resource:
    body = {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": ns}, "spec": {"values": yaml.safe_load(values_yaml)}}
    return Resource(doc=Document("hr.yaml", 1, 0, body), namespace=ns, name=name, deployed=True)


V5 = """
controllers:
  app:
    type: statefulset
    pod:
      hostNetwork: true
    containers:
      app:
        image: {repository: ghcr.io/x/app, tag: 1.0@sha256:abc}
  worker:
    type: cronjob
    containers:
      job:
        image: {repository: ghcr.io/x/job, tag: 2.0}
"""


def test_v5_two_controllers_and_defaults():
    ws = {w.name: w for w in from_app_template(hr(V5), "5.1.0")}
    assert set(ws) == {"app", "app-worker"}
    app, worker = ws["app"], ws["app-worker"]
    assert (app.kind, worker.kind) == ("StatefulSet", "CronJob")
    assert app.pod["automountServiceAccountToken"] is False  # v5 default
    assert "automountServiceAccountToken" not in app.pod_paths  # a chart default, not a value
    assert app.pod_paths["hostNetwork"] == ("spec", "values", "controllers", "app", "pod", "hostNetwork")
    assert app.containers[0].spec["image"] == "ghcr.io/x/app:1.0@sha256:abc"


def test_v3_and_v4_mount_token_by_default():
    for v in ("3.7.3", "4.4.0", None):
        [w] = from_app_template(hr("controllers:\n  main:\n    containers:\n      main:\n        image: {repository: a, tag: b}\n"), v)
        assert w.pod["automountServiceAccountToken"] is True, v


def test_default_pod_options_merge_strategy():
    values = """
defaultPodOptionsStrategy: merge
defaultPodOptions:
  securityContext: {runAsNonRoot: true, runAsUser: 1000}
controllers:
  app:
    pod:
      securityContext: {fsGroup: 1000}
    containers:
      app: {image: {repository: a, tag: b}}
"""
    [w] = from_app_template(hr(values), "4.4.0")
    assert w.pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 1000}
    [w] = from_app_template(hr(values.replace("merge", "overwrite")), "4.4.0")
    assert w.pod["securityContext"] == {"fsGroup": 1000}


def test_default_container_options_overwrite_merge_and_init():
    values = """
controllers:
  app:
    applyDefaultContainerOptionsToInitContainers: false
    defaultContainerOptions:
      securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
      resources: {limits: {memory: 1Gi}}
    initContainers:
      init: {image: {repository: busybox, tag: "1"}}
    containers:
      app: {image: {repository: a, tag: b}}
      side:
        image: {repository: c, tag: d}
        securityContext: {runAsUser: 1}
"""
    [w] = from_app_template(hr(values), "4.4.0")
    c = {x.name: x for x in w.containers}
    assert "securityContext" not in c["init"].spec  # not applied to init containers
    assert c["app"].spec["securityContext"]["readOnlyRootFilesystem"] is True
    assert w.pod_paths["container:app:securityContext"] == ("spec", "values", "controllers", "app",
                                                              "defaultContainerOptions", "securityContext")
    assert c["side"].spec["securityContext"] == {"runAsUser": 1}  # overwrite
    assert "container:side:securityContext" not in w.pod_paths
    assert c["side"].spec["resources"] == {"limits": {"memory": "1Gi"}}
    merged = values.replace("    defaultContainerOptions:", "    defaultContainerOptionsStrategy: merge\n    defaultContainerOptions:")
    [w] = from_app_template(hr(merged), "4.4.0")
    side = next(x for x in w.containers if x.name == "side")
    assert side.spec["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "runAsUser": 1}


def test_persistence_hostpath_and_disabled_controller():
    values = """
controllers:
  app:
    containers:
      app: {image: {repository: a, tag: b}}
  off:
    enabled: false
    containers:
      x: {image: {repository: a, tag: b}}
persistence:
  usb:
    type: hostPath
    hostPath: /dev/ttyUSB0
  cfg:
    existingClaim: app-config
"""
    [w] = from_app_template(hr(values), "4.4.0")
    vols = {v["name"]: v for v in w.pod["volumes"]}
    assert vols["usb"]["hostPath"]["path"] == "/dev/ttyUSB0"
    assert vols["cfg"]["persistentVolumeClaim"]["claimName"] == "app-config"
    assert w.pod_paths["volume:usb"] == ("spec", "values", "persistence", "usb")


def test_dcgm_exporter_chart_values_over_defaults():
    values = """
image: {repository: nvcr.io/nvidia/k8s/dcgm-exporter, tag: 4.5.3-4.8.2-distroless}
securityContext:
  privileged: true
resources: {limits: {memory: 512Mi}}
"""
    [w] = from_chart_values(hr(values, name="dcgm-exporter", ns="observability"), "dcgm-exporter", "4.8.3")
    assert (w.kind, w.source, w.name) == ("DaemonSet", "chart", "dcgm-exporter")
    sc = w.containers[0].spec["securityContext"]
    assert sc["privileged"] is True and sc["runAsUser"] == 0 and sc["capabilities"]["add"] == ["SYS_ADMIN"]  # chart defaults kept
    assert w.pod["volumes"][0]["hostPath"]["path"] == "/var/lib/kubelet/pod-resources"
    assert w.pod_paths["container:exporter:securityContext"] == ("spec", "values", "securityContext")
    assert w.pod["serviceAccountName"] == "dcgm-exporter"
    assert from_chart_values(hr(values), "some-other-chart", "1.0") == []
