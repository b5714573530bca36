"""Monitoring: metrics scraped, uptime probes on external routes (Gatus sidecar, component configs), Flux alerts."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support.paths import CORPUS
from tests.support.scanning import scan


def write(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip())
    return root


def run(root, *ids):
    return {c["id"]: c for c in scan(str(root), only=list(ids) or None).report.to_json_dict()["checks"]}


def test_app_template_metrics_port_needs_a_monitor(tmp_path):
    hr = """
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata: {{name: {name}, namespace: demo}}
        spec:
          chart: {{spec: {{chart: app-template, version: 4.4.0, sourceRef: {{kind: HelmRepository, name: bjw-s}}}}}}
          values:
            controllers:
              {name}:
                containers:
                  app: {{image: {{repository: ghcr.io/x/y, tag: 1.0.0}}}}
            service:
              app:
                ports:
                  http: {{port: 80}}
                  metrics: {{port: 9090}}
        {extra}
        """
    write(tmp_path, {
        "a.yaml": hr.format(name="scraped", extra="""    serviceMonitor:
              app:
                serviceName: scraped
                endpoints: [{port: metrics}]"""),
        "b.yaml": hr.format(name="unscraped", extra=""),
    })
    st = {f["subject"]: f["status"] for f in run(tmp_path, "monitoring.metrics-scraped")["monitoring.metrics-scraped"]["findings"]}
    assert st == {"HelmRelease demo/scraped": "pass", "HelmRelease demo/unscraped": "fail"}


def test_gatus_component_config_instantiated_per_app(tmp_path):
    write(tmp_path, {
        "kubernetes/apps/ks.yaml": """
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata: {name: &app echo, namespace: flux-system}
            spec:
              path: ./kubernetes/apps/echo
              targetNamespace: default
              prune: true
              sourceRef: {kind: GitRepository, name: flux-system}
              components: [../../components/gatus]
              postBuild:
                substitute: {APP: *app}
            """,
        "kubernetes/apps/echo/ingress.yaml": """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: echo}
            spec:
              ingressClassName: external
              rules: [{host: "echo.${SECRET_DOMAIN}"}]
            """,
        "kubernetes/apps/other/ingress.yaml": """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: other, namespace: default}
            spec:
              ingressClassName: external
              rules: [{host: "other.example.com"}]
            """,
        "kubernetes/components/gatus/kustomization.yaml": """
            apiVersion: kustomize.config.k8s.io/v1alpha1
            kind: Component
            configMapGenerator:
              - name: ${APP}-gatus-ep
                files: [config.yaml=./config.yaml]
                options: {labels: {gatus.io/enabled: "true"}}
            """,
        "kubernetes/components/gatus/config.yaml": """
            endpoints:
              - name: "${APP}"
                url: "https://${GATUS_SUBDOMAIN:=${APP}}.${SECRET_DOMAIN}/"
                conditions: ["[STATUS] == 200"]
            """,
    })
    findings = run(tmp_path, "monitoring.external-uptime-probe")["monitoring.external-uptime-probe"]["findings"]
    st = {f["subject"]: f["status"] for f in findings}
    assert st.get("Ingress default/echo") == "pass", findings


def test_gateway_annotation_inherited_and_disabled_route(tmp_path):
    write(tmp_path, {"gw.yaml": """
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata:
          name: envoy-external
          namespace: network
          annotations: {gatus.home-operations.com/endpoint: "group: external"}
        spec: {gatewayClassName: envoy, listeners: [{name: https, protocol: HTTPS, port: 443}]}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: app, namespace: demo}
        spec:
          parentRefs: [{name: envoy-external, namespace: network}]
          hostnames: [app.example.com]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata:
          name: hook
          namespace: demo
          annotations: {gatus.home-operations.com/enabled: "false"}
        spec:
          parentRefs: [{name: envoy-external, namespace: network}]
          hostnames: [hook.example.com]
        """})
    st = {f["subject"]: f["status"] for f in run(tmp_path, "monitoring.external-uptime-probe")["monitoring.external-uptime-probe"]["findings"]}
    assert st == {"HTTPRoute demo/app": "pass", "HTTPRoute demo/hook": "fail"}


def test_flux_alert_provider_must_resolve(tmp_path):
    write(tmp_path, {"n.yaml": """
        apiVersion: notification.toolkit.fluxcd.io/v1beta3
        kind: Alert
        metadata: {name: a, namespace: flux-system}
        spec:
          providerRef: {name: missing}
          eventSources: [{kind: Kustomization, name: "*"}]
        """})
    assert run(tmp_path, "monitoring.flux-alerts")["monitoring.flux-alerts"]["status"] == "fail"


@pytest.mark.skipif(not (CORPUS / "dapperdivers__dapper-cluster").is_dir(), reason="corpus absent")
def test_corpus_target_gatus_sidecar():
    c = run(CORPUS / "dapperdivers__dapper-cluster", "monitoring.external-uptime-probe", "monitoring.flux-alerts",
            "monitoring.alertmanager-receiver")
    up = c["monitoring.external-uptime-probe"]["findings"]
    assert sum(f["status"] == "pass" for f in up) >= 5
    assert c["monitoring.flux-alerts"]["status"] == "pass"
    assert c["monitoring.alertmanager-receiver"]["status"] == "pass"
