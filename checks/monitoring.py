"""Monitoring layer: metrics are scraped, external routes have uptime probes, alerts reach a person,
Flux reports its failures."""
from __future__ import annotations

import bisect
import re


from scanner.analysis.exposure import classify
from scanner.core.memo import memo
from scanner.core.model import Location
from scanner.checkapi.registry import check
from scanner.checkapi.results import failed, passed, warned
from scanner.analysis.talos import expand
from scanner.sources.yamlload import load_documents

GATUS_ENDPOINT = "gatus.home-operations.com/endpoint"
GATUS_ENABLED = "gatus.home-operations.com/enabled"
METRICS_PORT = re.compile(r"(^|-)(metrics|prometheus|prom)($|-)", re.I)


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


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
                               "name": "alertmanager", "origin": "repository"})


# ---- metrics scraped --------------------------------------------------------------------------------

def _monitor_toggles(values, path=()):
    """(key path, enabled) of every serviceMonitor/podMonitor block in chart values."""
    if isinstance(values, dict):
        for k, v in values.items():
            kl = str(k).lower()
            if kl in ("servicemonitor", "servicemonitors", "podmonitor", "podmonitors") and isinstance(v, (dict, list)):
                flag = "enabled" if isinstance(v, dict) and "enabled" in v else "create"
                if isinstance(v, dict) and flag in v:
                    on = v.get(flag) is True or str(v.get(flag)).lower() == "true"
                    nested = len(path) > 1 or (len(path) == 1 and path[0] not in ("metrics", "prometheus"))
                    if not on and nested:
                        continue  # a nested toggle of a multi-component chart: disabling it is deliberate
                    yield path + (k,), v.get(flag) is True or str(v.get(flag)).lower() == "true"
                elif isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
                    # app-template: serviceMonitor: {<id>: {serviceName/service, endpoints, enabled?}}
                    yield path + (k,), any(x.get("enabled", True) is not False for x in v.values())
                elif isinstance(v, list):
                    yield path + (k,), bool(v)
                elif v:
                    yield path + (k,), True  # configured without a toggle: the chart's default (on) applies
            elif isinstance(v, (dict, list)):  # (a scalar holds no toggle: no generator made for it)
                yield from _monitor_toggles(v, path + (k,))
    elif isinstance(values, list):
        for i, v in enumerate(values):
            if isinstance(v, (dict, list)):
                yield from _monitor_toggles(v, path + (i,))


def _metrics_enabled(values) -> tuple | None:
    m = _d(values).get("metrics")
    if isinstance(m, dict) and (m.get("enabled") is True):
        return ("metrics", "enabled")
    return None


def _app_template_metrics_ports(values) -> list[str]:
    out = []
    for sid, svc in _d(_d(values).get("service")).items():
        for pname in _d(_d(svc).get("ports")):
            if METRICS_PORT.search(str(pname)):
                out.append(f"service.{sid}.ports.{pname}")
    return out


def _monitors(inv):
    return inv.of_kind("ServiceMonitor", "PodMonitor", "ScrapeConfig", "VMServiceScrape", "VMPodScrape")


def _monitors_for_ns(inv, ns) -> list:
    """The monitors that may watch namespace `ns`, in `_monitors` order: its own, plus those with a
    namespaceSelector (judged per namespace by `_monitor_for`). Indexed once per inventory."""
    own, selecting = memo(inv, "monitoring.monitors_by_ns", lambda: _monitor_index(inv))
    try:
        mine = own.get(ns, [])
    except TypeError:  # an unhashable namespace: no index
        return _monitors(inv)
    if not selecting:
        return [m for _, m in mine]
    return [m for _, m in sorted(mine + selecting, key=lambda x: x[0])]


def _monitor_index(inv) -> tuple[dict, list]:
    own: dict = {}
    selecting = []
    for i, m in enumerate(_monitors(inv)):
        nsel = _d(m.spec.get("namespaceSelector"))
        if nsel.get("matchNames") or nsel.get("any"):
            selecting.append((i, m))
        else:
            own.setdefault(m.namespace, []).append((i, m))
    return own, selecting


def _monitor_for(inv, ns, names: set, labels: dict):
    for m in _monitors_for_ns(inv, ns):
        if m.namespace != ns and ns not in (_d(m.spec.get("namespaceSelector")).get("matchNames") or []) \
                and not _d(m.spec.get("namespaceSelector")).get("any"):
            continue
        sel = _d(_d(m.spec.get("selector")).get("matchLabels"))
        if sel and labels and all(labels.get(k) == v for k, v in sel.items()):
            return m
        if any(n and (n == m.name or m.name.startswith(n) or n in str(sel.values())) for n in names):
            return m
    return None


@check(
    id="monitoring.metrics-scraped",
    title="Workloads that expose metrics are scraped",
    severity="low",
    rationale="""
        Metrics an app exposes but nobody scrapes detect nothing: error spikes, restarts, certificate or
        backup failures stay invisible. A ServiceMonitor/PodMonitor (or the chart's own
        `serviceMonitor.enabled`) makes Prometheus collect them and alert rules see them.""",
    remediation="""
        Enable the chart's `serviceMonitor` (`serviceMonitor.enabled: true`, `metrics.serviceMonitor.enabled:
        true`), add an app-template `serviceMonitor:` block, or write a ServiceMonitor/PodMonitor for the
        metrics port.""",
    references=["https://prometheus-operator.dev/docs/developer/getting-started/#using-servicemonitors"],
)
def metrics_scraped(inv, options):
    for hr in inv.of_kind("HelmRelease"):
        values = hr.spec.get("values") if isinstance(hr.spec.get("values"), dict) else {}
        subject = f"HelmRelease {hr.namespace}/{hr.name}"
        toggles = list(_monitor_toggles(values))
        on = [p for p, e in toggles if e]
        if on:
            yield passed(inv, subject, f"{'.'.join(map(str, on[0]))} creates a monitor", hr, ("spec", "values") + on[0])
            continue
        exposes = None
        if inv.is_app_template(hr):
            ports = _app_template_metrics_ports(values)
            if ports:
                exposes = (f"metrics port {ports[0]}", ("spec", "values", "service"))
        if exposes is None and _metrics_enabled(values):
            exposes = ("metrics.enabled: true", ("spec", "values", "metrics", "enabled"))
        if exposes is None and toggles:
            exposes = (f"{'.'.join(map(str, toggles[0][0]))} is disabled", ("spec", "values") + toggles[0][0])
        if exposes is None:
            continue
        release = str(hr.spec.get("releaseName") or hr.name)
        mon = _monitor_for(inv, hr.namespace, {release, hr.name}, {"app.kubernetes.io/name": release,
                                                                  "app.kubernetes.io/instance": release})
        if mon:
            yield passed(inv, subject, f"{exposes[0]}; scraped by {mon.kind} {mon.namespace}/{mon.name}", hr, exposes[1])
        else:
            yield failed(inv, subject, f"{exposes[0]} but no ServiceMonitor/PodMonitor scrapes it", hr, exposes[1])
    for w in inv.workloads:
        if w.source != "manifest" or not w.resource.deployed:
            continue
        ports = [str(p.get("name")) for c in w.containers for p in c.spec.get("ports") or []
                 if isinstance(p, dict) and METRICS_PORT.search(str(p.get("name") or ""))]
        if not ports:
            continue
        subject = f"{w.kind} {w.namespace}/{w.name}"
        mon = _monitor_for(inv, w.namespace, {w.name}, w.labels)
        if mon:
            yield passed(inv, subject, f"metrics port {ports[0]} scraped by {mon.kind} {mon.name}", w.resource, w.pod_path)
        else:
            yield failed(inv, subject, f"container port {ports[0]} exposes metrics but no ServiceMonitor/PodMonitor "
                         "selects the workload", w.resource, w.pod_path)


# ---- uptime probes ----------------------------------------------------------------------------------

def _gatus_urls(inv) -> list[tuple[str, object]]:
    """Every URL a Gatus endpoint or Blackbox Probe checks, with the object that declares it."""
    out = []

    def from_config(cfg, res):
        for e in _d(cfg).get("endpoints") or []:
            if isinstance(e, dict) and e.get("url"):
                out.append((str(expand(str(e["url"]), getattr(res, "variables", {}) or {})), res))

    for cm in inv.of_kind("ConfigMap"):
        for v in _d(cm.body.get("data")).values():
            if isinstance(v, str) and "endpoints" in v:
                docs, _errors = load_documents(v)  # bounded: an embedded alias bomb is refused
                for doc in docs:
                    from_config(doc.body, cm)
    for hr in inv.of_kind("HelmRelease"):
        from_config(_d(_d(hr.spec.get("values")).get("config")), hr)
    for d in inv.documents:
        if d.origin == "git" and not d.is_manifest and isinstance(d.body, dict) and d.path in inv.deployed_files:
            from_config(d.body, d)
    # Gatus config files of kustomize components, instantiated with each including Kustomization's vars.
    import posixpath
    for ks in inv.of_kind("Kustomization"):
        if not ks.api_version.startswith("kustomize.toolkit.fluxcd.io"):
            continue
        base = str(ks.spec.get("path") or "").lstrip("./")
        vars_ = dict(ks.variables)
        vars_.update({str(k): str(v) for k, v in _d(_d(ks.spec.get("postBuild")).get("substitute")).items()})
        for comp in ks.spec.get("components") or []:
            cdir = posixpath.normpath(posixpath.join(base, str(comp)))
            for d in _plain_docs_under(inv, cdir + "/"):
                for e in _d(d.body).get("endpoints") or []:
                    if isinstance(e, dict) and e.get("url"):
                        out.append((str(expand(str(e["url"]), vars_)), d))
    for p in inv.of_kind("Probe"):
        targets = _d(_d(p.spec.get("targets")).get("staticConfig")).get("static") or []
        for t in targets:
            out.append((str(expand(str(t), p.variables)), p))
    return out


def _plain_docs_under(inv, prefix: str) -> list:
    """Non-manifest mapping documents whose path starts with `prefix`, in inventory order (a sorted
    index and a bisect instead of a scan of every document per component)."""
    paths, docs = memo(inv, "monitoring.plain_docs", lambda: _plain_doc_index(inv))
    lo = bisect.bisect_left(paths, prefix)
    hits = []
    for j in range(lo, len(paths)):
        if not paths[j].startswith(prefix):
            break
        hits.append(docs[j])
    hits.sort(key=lambda x: x[0])
    return [d for _, d in hits]


def _plain_doc_index(inv) -> tuple[list, list]:
    rows = sorted(((d.path, i, d) for i, d in enumerate(inv.documents)
                   if not d.is_manifest and isinstance(d.body, dict)), key=lambda r: (r[0], r[1]))
    return [r[0] for r in rows], [(r[1], r[2]) for r in rows]


def _host_of(url: str) -> str:
    u = url.split("://", 1)[-1]
    return u.split("/", 1)[0].split(":", 1)[0].lower()


@check(
    id="monitoring.external-uptime-probe",
    title="Every internet-facing route has an uptime probe",
    severity="low",
    rationale="""
        An externally exposed service that goes down, starts failing TLS or suddenly answers without its
        auth layer is noticed first by an outside probe. Gatus endpoints (gatus-sidecar annotations on the
        route or its Gateway, ConfigMaps labelled `gatus.io/enabled`, the Gatus config) or Blackbox Probes
        cover that.""",
    remediation="""
        Annotate the route (or its Gateway) with `gatus.home-operations.com/endpoint`, include the gatus
        component in the app's Kustomization, or add a Blackbox `Probe`.""",
    references=["https://github.com/TwiN/gatus", "https://github.com/home-operations/gatus-sidecar",
                "https://prometheus-operator.dev/docs/api-reference/api/#monitoring.coreos.com/v1.Probe"],
)
def external_uptime_probe(inv, options):
    urls = _gatus_urls(inv)
    probed_hosts = {}
    for url, res in urls:
        probed_hosts.setdefault(_host_of(url), res)
    for route in inv.routes:
        if not route.resource.deployed:
            continue
        exp = classify(inv, route, options)
        if not exp.external:
            continue
        subject = f"{route.kind} {route.namespace}/{route.name}"
        ann = route.annotations or {}
        if str(ann.get(GATUS_ENABLED, "")).lower() == "false":
            yield failed(inv, subject, f"Gatus probing disabled on this external route ({GATUS_ENABLED}: false)",
                         route.resource, route.path)
            continue
        if GATUS_ENDPOINT in ann or str(ann.get(GATUS_ENABLED, "")).lower() == "true":
            yield passed(inv, subject, "gatus-sidecar endpoint annotation on the route", route.resource, route.path)
            continue
        gw = None
        for p in route.parent_refs:
            for g in inv.find("Gateway", p["name"], p.get("namespace")) or inv.find("Gateway", p["name"]):
                if GATUS_ENDPOINT in g.annotations or str(g.annotations.get(GATUS_ENABLED, "")).lower() == "true":
                    gw = g
        if gw is not None:
            yield passed(inv, subject, f"gatus-sidecar endpoint inherited from Gateway {gw.namespace}/{gw.name}",
                         route.resource, route.path)
            continue
        hosts = [str(expand(h, route.resource.variables)).lower() for h in route.hosts]
        hit = next((h for h in hosts if h in probed_hosts), None)
        if hit is None:  # unresolved domains (secret substitutions): compare the app's own label
            for h in hosts:
                for ph in probed_hosts:
                    if ("${" in h or "${" in ph) and h.split(".")[0] == ph.split(".")[0] and "${" not in h.split(".")[0]:
                        hit = ph
                        break
        if hit:
            src = probed_hosts.get(hit)
            yield passed(inv, subject, f"{hit} probed by {getattr(src, 'kind', '') or 'Gatus config'} "
                         f"{getattr(src, 'name', '') or src.path}", route.resource, route.path)
        else:
            yield failed(inv, subject, f"external route {', '.join(hosts) or '(no host)'} ({exp.via}) has no uptime "
                         "probe (Gatus endpoint or Blackbox Probe)", route.resource, route.path)


# ---- Flux notifications -----------------------------------------------------------------------------

@check(
    id="monitoring.flux-alerts",
    title="Flux reports reconciliation failures to a notification provider",
    severity="medium",
    rationale="""
        When a Kustomization or HelmRelease fails (a bad merge, a broken chart, a revoked credential) the
        cluster silently stops following Git; a Flux Alert sending error events to a Provider tells a
        person before drift piles up.""",
    remediation="""
        Add a notification.toolkit.fluxcd.io Provider (Pushover, Discord, Slack, GitHub commit status...)
        and an Alert with `eventSeverity: error` on `Kustomization/*` and `HelmRelease/*`.""",
    references=["https://fluxcd.io/flux/monitoring/alerts/"],
)
def flux_alerts(inv, options):
    providers = {(p.namespace, p.name): p for p in inv.of_kind("Provider")
                 if p.api_version.startswith("notification.toolkit.fluxcd.io")}
    alerts = [a for a in inv.of_kind("Alert") if a.api_version.startswith("notification.toolkit.fluxcd.io")]
    for a in alerts:
        ref = _d(a.spec.get("providerRef")).get("name")
        subject = f"Alert {a.namespace}/{a.name}"
        p = providers.get((a.namespace, ref))
        kinds = sorted({str(_d(s).get("kind")) for s in a.spec.get("eventSources") or []})
        if p is None:
            yield failed(inv, subject, f"providerRef {ref} names no Provider in {a.namespace}", a, ("spec", "providerRef"))
        elif a.spec.get("suspend") is True or p.spec.get("suspend") is True:
            yield warned(inv, subject, "alert or provider suspended", a, ("spec",))
        else:
            yield passed(inv, subject, f"{', '.join(kinds) or 'events'} -> Provider {p.name} ({p.spec.get('type')})", a,
                         ("spec", "providerRef"))
    if not alerts:
        yield failed(inv, "Flux alerts", "no Flux Alert/Provider: failed reconciliations notify nobody"
                     + (f" ({len(providers)} Provider(s) without an Alert)" if providers else ""),
                     location=Location(".", None),
                     resource={"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
                               "namespace": "flux-system", "name": "(none)", "origin": "git"})
