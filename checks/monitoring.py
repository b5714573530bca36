"""Monitoring layer: alerts reach a person."""
from __future__ import annotations

from scanner.registry import check
from scanner.results import failed, passed


@check(
    id="monitoring.alertmanager-receiver",
    title="Alertmanager is deployed with a receiver",
    severity="medium",
    rationale="""
        Detection without notification is not detection: security-relevant alerts (Flux failures, Kyverno
        violations, certificate expiry) must reach a person. An Alertmanager without a receiver drops them.""",
    remediation="""
        Deploy Alertmanager (kube-prometheus-stack `alertmanager.enabled`) with at least one receiver that
        notifies a person (Pushover, email, Slack...), configured in the chart values or an AlertmanagerConfig.""",
    references=["https://prometheus.io/docs/alerting/latest/configuration/#receiver"],
)
def alertmanager_receiver(inv, options):
    found = False
    for hr in inv.of_kind("HelmRelease"):
        info = inv.chart(hr)
        values = hr.spec.get("values") if isinstance(hr.spec.get("values"), dict) else {}
        am = values.get("alertmanager") if isinstance(values.get("alertmanager"), dict) else None
        if (info.name or "") not in ("kube-prometheus-stack", "alertmanager") and am is None:
            continue
        if am is not None and am.get("enabled") is False:
            continue
        found = True
        cfg = (am or {}).get("config") if isinstance((am or {}).get("config"), dict) else values.get("config")
        receivers = [r for r in ((cfg or {}).get("receivers") or []) if isinstance(r, dict)] if isinstance(cfg, dict) else []
        notifying = [r for r in receivers if any(k.endswith("_configs") for k in r)]
        subject = f"HelmRelease {hr.namespace}/{hr.name}"
        if notifying:
            yield passed(inv, subject, f"Alertmanager receivers: {', '.join(str(r.get('name')) for r in notifying)}", hr,
                         ("spec", "values", "alertmanager", "config", "receivers"))
        elif inv.of_kind("AlertmanagerConfig"):
            a = inv.of_kind("AlertmanagerConfig")[0]
            yield passed(inv, subject, f"receivers configured in AlertmanagerConfig {a.name}", a)
        else:
            yield failed(inv, subject, "Alertmanager is deployed but no receiver notifies anyone", hr,
                         ("spec", "values", "alertmanager"))
    if not found:
        for am in inv.of_kind("Alertmanager"):
            found = True
            yield passed(inv, f"Alertmanager {am.namespace}/{am.name}", "Alertmanager deployed (operator CR)", am)
    if not found:
        yield failed(inv, "Alertmanager", "no Alertmanager is deployed: alerts reach no one",
                     resource={"apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager", "namespace": None,
                               "name": "alertmanager", "origin": "git"})
