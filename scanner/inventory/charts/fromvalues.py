"""Objects a release deploys, derived from its values when the chart cannot be rendered.

Shapes, not chart names: a mapping under an ingress-like key (`ingress`, `server.ingress`, a map of
them) with hosts or `enabled: true` is an Ingress; a mapping with `parentRefs`, or under a
route-like key (`httpRoute`, `route`) with hostnames or `enabled: true`, is an HTTPRoute; a
`gateway` mapping with `listeners` is a Gateway; a list (or map) of mappings having apiVersion and
kind (`extraObjects`, `extraManifests`, `extraDeploy`, ...), or YAML text holding them, gives those
objects as written. Names follow the common `fullname` convention of charts and are marked
approximate; Helm template text the scan cannot evaluate is left as it is and marked."""
from __future__ import annotations

import copy
import re

from scanner.inventory.charts.model import Provenance
from scanner.sources.yamlload import load_documents

INGRESS_KEYS = {"ingress", "ingresses"}
ROUTE_KEYS = {"httproute", "httproutes", "route", "routes", "grpcroute", "grpcroutes", "gatewayapi"}
SINGULAR_KEYS = {"ingress", "httproute", "route", "grpcroute"}
_INGRESS_FIELDS = ("hosts", "host", "hostname", "rules", "tls", "ingressClassName", "className", "paths", "path")
_ROUTE_FIELDS = ("hostnames", "parentRefs", "rules")
MAX_DEPTH = 4
# No nested braces inside an expression: keeps the match linear on hostile text.
_TEMPLATE = re.compile(r"\{\{-?([^{}]*?)-?\}\}")


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


def fullname(release: str, chart: str | None, values: dict) -> str:
    """The `<chart>.fullname` helper `helm create` writes, which most charts keep."""
    if isinstance(values.get("fullnameOverride"), str) and values["fullnameOverride"]:
        return values["fullnameOverride"][:63].rstrip("-")
    name = values.get("nameOverride") if isinstance(values.get("nameOverride"), str) and values.get("nameOverride") \
        else (chart or release)
    out = release if name in release else f"{release}-{name}"
    return out[:63].rstrip("-")


def _is_object(v) -> bool:
    return isinstance(v, dict) and isinstance(v.get("apiVersion"), str) and isinstance(v.get("kind"), str) \
        and bool(v.get("kind"))


class _Templates:
    """Evaluates the few expressions that need no chart (`.Release.Name`, `.Release.Namespace`) and
    records whether any other template text was left in place."""

    def __init__(self, release: str, namespace: str):
        self.known = {".Release.Name": release, ".Release.Namespace": namespace}
        self.left = False

    def text(self, s: str) -> str:
        def sub(m: re.Match) -> str:
            expr = m.group(1).strip()
            if expr in self.known:
                return self.known[expr]
            self.left = True
            return m.group(0)

        return _TEMPLATE.sub(sub, s) if "{{" in s else s

    def tree(self, v):
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, dict):
            return {self.text(k) if isinstance(k, str) else k: self.tree(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.tree(x) for x in v]
        return v


def _objects_from_text(text: str) -> list:
    """Manifests written as YAML text; template expressions are hidden from the YAML parser."""
    holes: list[str] = []

    def hide(m: re.Match) -> str:
        holes.append(m.group(0))
        return f"__posture_tpl_{len(holes) - 1}__"

    docs, _ = load_documents(_TEMPLATE.sub(hide, text))

    def restore(v):
        if isinstance(v, str) and "__posture_tpl_" in v:
            return re.sub(r"__posture_tpl_(\d+)__", lambda m: holes[int(m.group(1))], v)
        if isinstance(v, dict):
            return {restore(k): restore(x) for k, x in v.items()}
        if isinstance(v, list):
            return [restore(x) for x in v]
        return v

    return [restore(d.body) for d in docs]


def _raw_items(v) -> list[tuple[object, dict | str]] | None:
    """(key or index, item) of a raw-object list/map/text, or None when `v` is not one."""
    if isinstance(v, str):
        return [(None, v)] if "kind" in v and "apiVersion" in v else None
    if isinstance(v, list) and v:
        items = [(i, x) for i, x in enumerate(v) if _is_object(x) or (isinstance(x, str) and "apiVersion" in x)]
        return items or None
    if isinstance(v, dict) and v and all(_is_object(x) for x in v.values()):
        return list(v.items())
    return None


class Deriver:
    def __init__(self, release: str, namespace: str, chart: str | None, values: dict, base: tuple):
        self.release = release
        self.namespace = namespace
        self.values = values
        self.base = base
        self.fullname = fullname(release, chart, values)
        self.out: list[tuple[dict, Provenance]] = []

    # ---- routes and ingresses -------------------------------------------------------------------
    def _component_name(self, block_path: tuple, ident: str | None) -> str:
        """`<fullname>[-<component>][-<id>]`: `server.ingress` -> fullname-server; `route.main` -> fullname."""
        parts = [p for p in block_path[:-1] if isinstance(p, str)]
        name = self.fullname + "".join(f"-{p}" for p in parts[-1:])
        return f"{name}-{ident}" if ident and ident not in ("main", "default") else name

    @staticmethod
    def _classify(key: str, v: dict) -> str | None:
        if v.get("enabled") is False:
            return None
        low = key.lower()
        if isinstance(v.get("parentRefs"), list):
            return "GRPCRoute" if "grpc" in low else "HTTPRoute"
        if "gateway" in low and isinstance(v.get("listeners"), (list, dict)):
            return "Gateway"
        # `enabled: true` alone says enough only under the conventional singular keys (the chart's
        # defaults hold the hosts); a plural key with only a switch is a setting (vcluster sync.ingresses).
        alone = v.get("enabled") is True and low in SINGULAR_KEYS
        if low in INGRESS_KEYS or low.endswith("ingress"):
            if alone or any(f in v for f in _INGRESS_FIELDS):
                return "Ingress"
        if low in ROUTE_KEYS:
            if alone or any(f in v for f in _ROUTE_FIELDS):
                return "GRPCRoute" if "grpc" in low else "HTTPRoute"
        return None

    def _emit(self, obj: dict, path: tuple, tpl: _Templates) -> None:
        obj = tpl.tree(obj)
        md = obj["metadata"]
        for k in ("labels", "annotations"):
            if not md.get(k):
                md.pop(k, None)
        self.out.append((obj, Provenance(template="values:" + ".".join(map(str, path)), values_path=self.base + path,
                                         templated=tpl.left, approximate_name=True)))

    def _meta(self, block: dict, name: str) -> dict:
        return {"name": name, "labels": copy.deepcopy(_d(block.get("labels"))),
                "annotations": copy.deepcopy(_d(block.get("annotations")))}

    def _ingress(self, block: dict, path: tuple, ident: str | None) -> None:
        block_path = path if ident is None else path[:-1]
        svc = self._component_name(block_path, None)
        default_paths = _l(block.get("paths")) or ([block["path"]] if isinstance(block.get("path"), str) else ["/"])
        rules = []
        raw_hosts = _l(block.get("hosts"))
        if not raw_hosts:
            h = block.get("hostname") or block.get("host")
            raw_hosts = [h] if h else []
            raw_hosts += [x for x in _l(block.get("extraHosts"))]
        for h in raw_hosts:
            if isinstance(h, dict):
                host = h.get("host") or h.get("name") or h.get("hostname")
                paths = _l(h.get("paths")) or ([h["path"]] if isinstance(h.get("path"), str) else default_paths)
            else:
                host, paths = h, default_paths
            http_paths = []
            for p in paths:
                p = p if isinstance(p, dict) else {"path": str(p)}
                http_paths.append({"path": str(p.get("path") or "/"), "pathType": p.get("pathType") or "Prefix",
                                   "backend": p.get("backend") if isinstance(p.get("backend"), dict)
                                   else {"service": {"name": svc}}})
            rule: dict = {"http": {"paths": http_paths}}
            if host:
                rule = {"host": str(host), **rule}
            rules.append(rule)
        if isinstance(block.get("rules"), list):
            rules = copy.deepcopy(block["rules"])
        spec: dict = {"rules": rules}
        cls = block.get("ingressClassName") or block.get("className") or block.get("class")
        if cls:
            spec["ingressClassName"] = cls
        tls = block.get("tls")
        hosts = [r["host"] for r in rules if isinstance(r, dict) and r.get("host")]
        if isinstance(tls, list):
            spec["tls"] = copy.deepcopy(tls)
        elif tls is True or (isinstance(tls, dict) and tls.get("enabled") is not False and tls):
            spec["tls"] = [{"hosts": hosts, **({"secretName": tls["secretName"]} if isinstance(tls, dict)
                                               and tls.get("secretName") else {})}]
        name = block.get("name") if isinstance(block.get("name"), str) else self._component_name(block_path, ident)
        obj = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": self._meta(block, name),
               "spec": spec}
        self._emit(obj, path, _Templates(self.release, self.namespace))

    def _route(self, kind: str, block: dict, path: tuple, ident: str | None) -> None:
        block_path = path if ident is None else path[:-1]
        svc = self._component_name(block_path, None)
        hostnames = _l(block.get("hostnames")) or [h for h in _l(block.get("hosts")) if isinstance(h, str)] \
            or _l(block.get("hostnamesOverride"))
        backend = {"name": svc}
        port = block.get("port") or block.get("servicePort")
        if isinstance(port, int):
            backend["port"] = port
        filters = _l(block.get("filters"))
        if isinstance(block.get("rules"), list) and block["rules"]:
            rules = []
            for r in copy.deepcopy(block["rules"]):
                if isinstance(r, dict):
                    r.setdefault("backendRefs", [dict(backend)])
                    if filters:
                        r["filters"] = _l(r.get("filters")) + copy.deepcopy(filters)
                    rules.append(r)
        else:
            rule: dict = {"matches": [{"path": {"type": "PathPrefix", "value": str(block.get("path") or "/")}}],
                          "backendRefs": [backend]}
            if filters:
                rule["filters"] = copy.deepcopy(filters)
            rules = [rule]
        spec: dict = {"parentRefs": copy.deepcopy(_l(block.get("parentRefs"))), "rules": rules}
        if hostnames:
            spec["hostnames"] = [str(h) for h in hostnames]
        name = block.get("name") if isinstance(block.get("name"), str) else self._component_name(block_path, ident)
        obj = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": kind, "metadata": self._meta(block, name),
               "spec": spec}
        self._emit(obj, path, _Templates(self.release, self.namespace))

    def _gateway(self, block: dict, path: tuple) -> None:
        raw = block.get("listeners")
        items = list(raw.items()) if isinstance(raw, dict) else [(None, x) for x in _l(raw)]
        listeners = []
        for lname, spec in items:
            if not isinstance(spec, dict):
                continue
            entry: dict = {"name": str(spec.get("name") or lname or f"listener-{len(listeners)}"),
                           "port": spec.get("port"), "protocol": spec.get("protocol") or "HTTP"}
            if spec.get("hostname"):
                entry["hostname"] = spec["hostname"]
            if spec.get("certificateRefs") or isinstance(spec.get("tls"), dict):
                entry["tls"] = copy.deepcopy(_d(spec.get("tls"))) or {"certificateRefs": spec["certificateRefs"]}
            frm = _d(spec.get("namespacePolicy")).get("from") or _d(_d(spec.get("allowedRoutes")).get("namespaces")).get("from")
            if frm:
                entry["allowedRoutes"] = {"namespaces": {"from": frm}}
            listeners.append(entry)
        name = block.get("name") if isinstance(block.get("name"), str) else self._component_name(path, None)
        spec = {"gatewayClassName": block.get("gatewayClassName") or block.get("className") or self.fullname,
                "listeners": listeners}
        obj = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": self._meta(block, name),
               "spec": spec}
        self._emit(obj, path, _Templates(self.release, self.namespace))

    def _block(self, kind: str, block: dict, path: tuple, ident: str | None) -> None:
        if kind == "Ingress":
            self._ingress(block, path, ident)
        elif kind == "Gateway":
            self._gateway(block, path)
        else:
            self._route(kind, block, path, ident)

    # ---- raw objects ----------------------------------------------------------------------------
    def _raw(self, items, path: tuple) -> None:
        for key, item in items:
            ipath = path + ((key,) if key is not None else ())
            bodies = _objects_from_text(item) if isinstance(item, str) else [item]
            for body in bodies:
                if not _is_object(body):
                    continue
                tpl = _Templates(self.release, self.namespace)
                obj = tpl.tree(copy.deepcopy(body))
                md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
                if not md.get("name") and isinstance(key, str):
                    md = dict(md, name=f"{self.fullname}-{key}")
                obj["metadata"] = md
                self.out.append((obj, Provenance(template="values:" + ".".join(map(str, ipath)),
                                                 values_path=self.base + ipath, templated=tpl.left)))

    # ---- the walk -------------------------------------------------------------------------------
    def walk(self, node: dict, path: tuple = (), depth: int = 0) -> None:
        for key, v in node.items():
            if not isinstance(key, str):
                continue
            here = path + (key,)
            if isinstance(v, (list, str)) or (isinstance(v, dict) and not _is_object(v)):
                raw = _raw_items(v)
                if raw is not None and (not isinstance(v, str) or _looks_raw_key(key)):
                    self._raw(raw, here)
                    continue
            if not isinstance(v, dict):
                continue
            kind = self._classify(key, v)
            if kind:
                self._block(kind, v, here, None)
                continue
            if v.get("enabled") is False and (key.lower() in INGRESS_KEYS | ROUTE_KEYS):
                continue
            if key.lower() in INGRESS_KEYS | ROUTE_KEYS or key.lower().endswith("ingress"):
                found = False
                for ident, sub in v.items():
                    if isinstance(sub, dict) and isinstance(ident, str):
                        sub_kind = self._classify(key, sub)
                        if sub_kind:
                            self._block(sub_kind, sub, here + (ident,), ident)
                            found = True
                if found:
                    continue
            if depth < MAX_DEPTH:
                self.walk(v, here, depth + 1)


def _looks_raw_key(key: str) -> bool:
    """YAML text counts as manifests only under keys that say so (extraManifests: |, rawResources...)."""
    low = key.lower()
    return any(w in low for w in ("extra", "raw", "manifest", "object", "resource", "deploy", "additional"))


def app_template_raw_resources(values: dict, release: str, namespace: str, base: tuple) -> list[tuple[dict, Provenance]]:
    """app-template `rawResources.<id>`: `{apiVersion, kind, spec}` (v3) or `{manifest: {...}}` (v4+),
    named by the common library's rule (release name, `-<id>` when several, prefix/suffix/forceRename)."""
    raw = _d(values.get("rawResources"))
    enabled = {k: v for k, v in raw.items() if isinstance(v, dict) and v.get("enabled", True) is not False}
    out = []
    for ident, spec in enabled.items():
        manifest = _d(spec.get("manifest")) or spec
        if not _is_object(manifest):
            continue
        name = release
        if spec.get("forceRename"):
            name = str(spec["forceRename"])
        else:
            if spec.get("prefix") and spec["prefix"] != name:
                name = f"{spec['prefix']}-{name}"
            if spec.get("nameOverride") and spec["nameOverride"] != name:
                name = f"{name}-{spec['nameOverride']}"
            elif (len(enabled) > 1 or _d(values.get("global")).get("alwaysAppendIdentifierToResourceName")) \
                    and not name.endswith(f"-{ident}") and ident != name:
                name = f"{name}-{ident}"
            if spec.get("suffix") and not name.endswith(f"-{spec['suffix']}"):
                name = f"{name}-{spec['suffix']}"
        tpl = _Templates(release, namespace)
        body = {k: copy.deepcopy(v) for k, v in manifest.items() if k not in ("spec", "metadata")}
        md = dict(_d(manifest.get("metadata")))
        md["name"] = name.lower()
        for k in ("labels", "annotations"):
            if spec.get(k):
                md[k] = dict(_d(md.get(k)), **_d(spec[k]))
        body["metadata"] = md
        # v3: `spec` holds the object's top-level fields (spec:, data:, ...); v4: the manifest as written.
        inner = manifest.get("spec")
        if manifest is spec and isinstance(inner, dict):
            body.update(copy.deepcopy(inner))
        elif inner is not None:
            body["spec"] = copy.deepcopy(inner)
        obj = tpl.tree(body)
        out.append((obj, Provenance(template=f"values:rawResources.{ident}", values_path=base + ("rawResources", ident),
                                    templated=tpl.left, approximate_name=True)))
    return out


def derive(values: dict, release: str, namespace: str, chart: str | None, app_template: bool,
           base: tuple = ("spec", "values")) -> list[tuple[dict, Provenance]]:
    """Objects (with provenance) the values of a release describe; namespaces are not filled here."""
    if app_template:
        return app_template_raw_resources(values, release, namespace, base)
    d = Deriver(release, namespace, chart, values, base)
    d.walk(values)
    return d.out
