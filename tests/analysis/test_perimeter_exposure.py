"""Exposure classification (tunnel, external-dns, config), LoadBalancers, host network, OPNsense."""
from __future__ import annotations

import os

import pytest

from scanner.analysis.exposure import classify, exposure_map
from scanner.analysis.opnsense import OPNsenseError, parse, wan_any_any
from tests.support.paths import CORPUS
from tests.support.scanning import scan


def repo(tmp_path, files: dict) -> str:
    root = tmp_path / "repo"
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return str(root)


def run(path, only, **fields):
    r = scan(path, only=only, **fields)
    return r, {c["id"]: c for c in r.report.to_json_dict()["checks"]}


GATEWAY = """apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: {name}, namespace: network{extra}}}
spec:
  gatewayClassName: envoy
  listeners: [{{name: https, protocol: HTTPS, port: 443, tls: {{certificateRefs: [{{name: t}}]}}, allowedRoutes: {{namespaces: {{from: All}}}}}}]
"""
ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: app, namespace: apps}}
spec:
  parentRefs: [{{name: {gw}, namespace: network}}]
  hostnames: [app.example.com]
  rules: [{{backendRefs: [{{name: app, port: 80}}]}}]
"""


def _route_exposure(tmp_path, files, options=None):
    r = scan(repo(tmp_path, files), only=["perimeter.external-routes-tls"])
    inv = r.inventory
    route = next(x for x in inv.routes if x.name == "app")
    return classify(inv, route, options or {}), inv


def test_cloudflared_rule_to_envoy_gateway_service_makes_it_external(tmp_path):
    files = {
        "gw.yaml": GATEWAY.format(name="gw-a", extra=""),
        "route.yaml": ROUTE.format(gw="gw-a"),
        "cloudflared/kustomization.yaml": "configMapGenerator:\n  - name: cf\n    files: [config.yaml=./configs/config.yaml]\nresources: []\n",
        "cloudflared/configs/config.yaml": ("ingress:\n  - hostname: '*.example.com'\n"
                                            "    service: https://envoy-network-gw-a-1a2b3c.network.svc.cluster.local:443\n"
                                            "  - service: http_status:404\n"),
    }
    exp, inv = _route_exposure(tmp_path, files)
    assert exp.external and "cloudflared" in exp.reason
    rows = exposure_map(inv, {})
    assert any(r["kind"] == "CloudflaredRule" and r["host"] == "*.example.com" for r in rows)


def test_gateway_without_signs_is_internal(tmp_path):
    exp, _ = _route_exposure(tmp_path, {"gw.yaml": GATEWAY.format(name="gw-a", extra=""), "route.yaml": ROUTE.format(gw="gw-a")})
    assert not exp.external


def test_external_dns_tunnel_target_makes_gateway_external(tmp_path):
    extra = ", annotations: {external-dns.alpha.kubernetes.io/target: 'abc.cfargotunnel.com'}"
    exp, _ = _route_exposure(tmp_path, {"gw.yaml": GATEWAY.format(name="gw-a", extra=extra), "route.yaml": ROUTE.format(gw="gw-a")})
    assert exp.external and "external-dns" in exp.reason


def test_external_dns_label_filter_on_public_provider(tmp_path):
    extra = ", labels: {publish: 'yes'}"
    hr = """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: dns, namespace: network}
spec:
  chart: {spec: {chart: external-dns, sourceRef: {kind: HelmRepository, name: x}}}
  values: {provider: cloudflare, extraArgs: [--gateway-label-filter=publish=yes]}
"""
    exp, _ = _route_exposure(tmp_path, {"gw.yaml": GATEWAY.format(name="gw-a", extra=extra),
                                        "route.yaml": ROUTE.format(gw="gw-a"), "dns.yaml": hr})
    assert exp.external and "cloudflare" in exp.reason


def test_explicit_config_wins(tmp_path):
    files = {"gw.yaml": GATEWAY.format(name="envoy-external", extra=""), "route.yaml": ROUTE.format(gw="envoy-external")}
    exp, _ = _route_exposure(tmp_path, files)
    assert exp.external  # the name says so
    exp2, _ = _route_exposure(tmp_path, files, {"internal_gateways": ["network/envoy-external"]})
    assert not exp2.external
    files = {"gw.yaml": GATEWAY.format(name="lan", extra=""), "route.yaml": ROUTE.format(gw="lan")}
    exp3, _ = _route_exposure(tmp_path, files, {"external_gateways": ["lan"]})
    assert exp3.external


def test_ingress_class_fronted_by_tunnel_to_nginx_controller(tmp_path):
    files = {
        "nginx.yaml": """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: edge, namespace: network}
spec:
  chart: {spec: {chart: ingress-nginx, sourceRef: {kind: HelmRepository, name: x}}}
  values: {controller: {ingressClassResource: {name: edge}}}
""",
        "ing.yaml": """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: app, namespace: apps}
spec:
  ingressClassName: edge
  rules: [{host: app.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}}]
""",
        "cf/config.yaml": "ingress:\n  - hostname: '*.example.com'\n    service: https://edge-ingress-nginx-controller.network.svc.cluster.local:443\n  - service: http_status:404\n",
    }
    exp, _ = _route_exposure(tmp_path, files)
    assert exp.external and "ingress-nginx" in exp.reason


def test_loadbalancer_and_hostnetwork_in_map(tmp_path):
    files = {
        "svc.yaml": """apiVersion: v1
kind: Service
metadata: {name: db, namespace: data}
spec: {type: LoadBalancer, ports: [{port: 5432}]}
""",
        "pool.yaml": "apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata: {name: pool}\nspec: {blocks: [{cidr: 10.1.0.0/24}]}\n",
        "ds.yaml": """apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {hostNetwork: true, containers: [{name: a, image: "x/agent:1", ports: [{containerPort: 9100, hostPort: 9100}]}]}
""",
    }
    r, checks = run(repo(tmp_path, files), ["perimeter.loadbalancer-restricted", "perimeter.host-network"])
    rows = r.report.to_json_dict()["exposure"]
    print(rows, r.report.to_json_dict()["errors"])
    kinds = {x["kind"] for x in rows}
    assert "Service/LoadBalancer" in kinds and "HostNetwork" in kinds and "HostPort" in kinds
    lb = checks["perimeter.loadbalancer-restricted"]["findings"][0]
    assert lb["status"] == "pass" and "private pool" in lb["message"]
    assert checks["perimeter.host-network"]["status"] == "fail"


def test_host_network_allow_list(tmp_path):
    files = {"ds.yaml": """apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {hostNetwork: true, containers: [{name: a, image: "x/agent:1"}]}
""", "posture.yaml": "checks:\n  perimeter.host-network:\n    host_network_allowed: [kube-system/agent]\n"}
    _, checks = run(repo(tmp_path, files), ["perimeter.host-network"])
    assert checks["perimeter.host-network"]["status"] == "pass"


# ---- OPNsense --------------------------------------------------------------------------------------

LEGACY = b"""<?xml version="1.0"?>
<opnsense>
  <interfaces><wan><if>igb0</if><ipaddr>dhcp</ipaddr></wan><lan><if>igb1</if></lan></interfaces>
  <filter>
    <rule><type>pass</type><interface>wan</interface><source><any/></source><destination><any/></destination></rule>
    <rule><type>pass</type><interface>wan</interface><disabled>1</disabled><source><any/></source><destination><any/></destination></rule>
    <rule><type>pass</type><interface>lan</interface><source><network>lan</network></source><destination><any/></destination></rule>
  </filter>
  <nat><rule><interface>wan</interface><protocol>tcp</protocol><source><any/></source>
    <destination><network>wanip</network><port>443</port></destination><target>10.0.0.20</target><local-port>443</local-port></rule></nat>
</opnsense>"""

MVC = b"""<?xml version="1.0"?>
<opnsense>
  <interfaces><wan><if>igb0</if></wan></interfaces>
  <OPNsense><Firewall><Filter><rules>
    <rule uuid="1"><enabled>1</enabled><action>pass</action><interface>wan</interface><source_net>any</source_net><destination_net>any</destination_net></rule>
    <rule uuid="2"><enabled>0</enabled><action>pass</action><interface>wan</interface><source_net>any</source_net><destination_net>any</destination_net></rule>
    <rule uuid="3"><enabled>1</enabled><action>pass</action><interface>wan</interface><source_net>any</source_net><destination_net>10.0.0.20</destination_net><destination_port>443</destination_port></rule>
  </rules></Filter></Firewall></OPNsense>
</opnsense>"""


def test_legacy_rules_and_port_forwards():
    cfg = parse(LEGACY)
    bad = wan_any_any(cfg)
    assert len(bad) == 1 and bad[0].store == "legacy" and bad[0].index == 0
    assert [n.target for n in cfg.port_forwards()] == ["10.0.0.20"]


def test_mvc_rules():
    bad = wan_any_any(parse(MVC))
    assert [r.uuid for r in bad] == ["1"]


def test_entity_expansion_bomb_is_refused():
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<opnsense><filter><rule><descr>&lol3;</descr></rule></filter></opnsense>"""
    with pytest.raises(OPNsenseError, match="refused"):
        parse(bomb)
    external = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><opnsense>&e;</opnsense>"""
    with pytest.raises(OPNsenseError):
        parse(external)


def test_opnsense_checks_end_to_end(tmp_path, monkeypatch):
    files = {"svc.yaml": """apiVersion: v1
kind: Service
metadata: {name: db, namespace: data, annotations: {lbipam.cilium.io/ips: "10.0.0.20"}}
spec: {type: LoadBalancer, ports: [{port: 5432}]}
"""}
    path = repo(tmp_path, files)
    xml = tmp_path / "config.xml"
    xml.write_bytes(LEGACY.replace(b"<interfaces>", b"<system><disablefilter>enabled</disablefilter></system><interfaces>"))
    _, checks = run(path, ["perimeter.opnsense-wan-any-any", "perimeter.opnsense-port-forwards", "perimeter.opnsense-default-deny"],
                    opnsense_config=str(xml))
    assert checks["perimeter.opnsense-wan-any-any"]["status"] == "fail"
    pf = checks["perimeter.opnsense-port-forwards"]
    assert pf["status"] == "fail" and "Service data/db" in pf["findings"][0]["message"]
    assert checks["perimeter.opnsense-default-deny"]["status"] == "fail"


def test_opnsense_bomb_file_is_a_finding_not_a_hang(tmp_path, monkeypatch):
    xml = tmp_path / "config.xml"
    xml.write_text('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaa">]><opnsense>&a;</opnsense>')
    _, checks = run(repo(tmp_path, {"x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: y}\n"}),
                    ["perimeter.opnsense-wan-any-any"], opnsense_config=str(xml))
    f = checks["perimeter.opnsense-wan-any-any"]["findings"][0]
    assert f["status"] == "fail" and "unsafe XML" in f["message"]


def test_no_opnsense_config_is_not_applicable(tmp_path, monkeypatch):
    _, checks = run(repo(tmp_path, {"x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: y}\n"}),
                    ["perimeter.opnsense-wan-any-any"])
    assert checks["perimeter.opnsense-wan-any-any"]["status"] == "not_applicable"


@pytest.mark.skipif(not (CORPUS / "dapperdivers__dapper-cluster").is_dir(), reason="corpus not present")
def test_target_exposure_classification():
    r = scan(str(CORPUS / "dapperdivers__dapper-cluster"), only=["perimeter.external-routes-tls"])
    rows = {(x["namespace"], x["name"]): x for x in r.report.to_json_dict()["exposure"] if x["kind"] == "HTTPRoute"}
    assert rows[("default", "echo-server")]["exposure"] == "external"
    assert rows[("media", "plex")]["exposure"] == "external"  # media gateway published by public external-dns
    assert rows[("media", "sonarr")]["exposure"] == "internal"
    assert rows[("media", "sonarr")]["auth_provider"] == "authentik"
