"""`posture inventory`: what the scanner thinks Flux deploys, as a list (table, JSON, YAML) and as the
rendered manifests themselves.

The JSON document is a typed model (`InventoryDocument`); its schema, reports/schema/inventory/inventory.schema.json,
is generated from it (`python -m reports.inventory --schema`) and a test keeps the two equal. Order and
content are deterministic: two runs on the same tree give byte-identical output. Secret values never
appear: `--rendered` replaces Secret `data`/`stringData` values with a fixed placeholder and drops SOPS
metadata.
"""
from __future__ import annotations

import json
import re
import sys
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

from checks.secrets import looks_like_credential
from scanner import __version__
from scanner.core.redact import redact_urls
from scanner.core.secretdata import may_hold_token

SCHEMA_VERSION = "1"
REDACTED = "REDACTED"
How = Literal["kustomize", "native", "helm", "values", "resourceset", "file", "live"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Closed):
    """The document the object comes from, and its identity as written there (before the kustomization's
    namespace, name prefixes, replacements and Flux's targetNamespace and substitutions): "why is this
    object in namespace X" is answered by comparing the two."""

    path: str
    line: int | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None


class InventoryObject(_Closed):
    """One deployed object."""

    cluster: str
    producer: str  # the Flux Kustomization ("Kustomization/<ns>/<name>") or HelmRelease that deploys it
    apiVersion: str
    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str
    source: Source
    how: How


class InventoryGap(_Closed):
    """Something the scan could not see."""

    code: str
    cluster: str | None = None
    path: str
    line: int | None = None
    subject: str
    message: str


class ClusterRoot(_Closed):
    name: str
    path: str
    kind: str
    declared_in: str | None = None
    line: int | None = None
    source_kind: str
    implicit: bool = False


class InventoryCluster(_Closed):
    name: str
    root: ClusterRoot
    objects: list[InventoryObject]


class ToolInfo(_Closed):
    name: str
    version: str
    kustomize: dict[str, str | int | float | bool | None] = {}


class InventoryDocument(_Closed):
    """The whole listing: every cluster's deployed objects, and every gap."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    tool: ToolInfo
    clusters: list[InventoryCluster]
    gaps: list[InventoryGap]


def _producer(res) -> str:
    if getattr(res, "producer", None):
        return res.producer
    return f"Kustomization/{res.flux_kustomization}" if res.flux_kustomization else "(root)"


def _source(res) -> Source:
    body = res.doc.body if isinstance(res.doc.body, dict) else {}
    md = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    written_ns = md.get("namespace")
    return Source(path=res.path, line=res.line if res.line > 0 else None,
                  kind=str(body.get("kind")) if body.get("kind") else None,
                  namespace=written_ns if isinstance(written_ns, str) else None,
                  name=str(md["name"]) if md.get("name") is not None else None)


def _sort_key(o: InventoryObject) -> tuple:
    return (o.producer, o.namespace, o.kind, o.name, o.apiVersion, o.source.path)


def document(inv, *, namespaces=(), kinds=(), ks=(), unseen_only: bool = False) -> InventoryDocument:
    """The listing of an Inventory, filtered (namespace, kind, Flux Kustomization name; `unseen_only`:
    the gaps alone)."""
    clusters = []
    for root in inv.roots:
        objects = []
        if not unseen_only:
            for res in inv.resources:
                if not res.deployed or res.cluster != root.name:
                    continue
                if namespaces and (res.namespace or "") not in namespaces:
                    continue
                if kinds and res.kind not in kinds and res.kind.lower() not in kinds:
                    continue
                producer = _producer(res)
                if ks and not any(producer.endswith("/" + k) or producer == k for k in ks):
                    continue
                objects.append(InventoryObject(cluster=root.name, producer=producer, apiVersion=res.api_version,
                                               kind=res.kind, namespace=res.namespace or "", name=res.name,
                                               source=_source(res),
                                               how=res.how if res.how in How.__args__ else "file"))
        clusters.append(InventoryCluster(
            name=root.name, objects=sorted(objects, key=_sort_key),
            root=ClusterRoot(name=root.name, path=root.path, kind=root.kind, declared_in=root.declared_in,
                             line=root.line, source_kind=root.source_kind, implicit=root.implicit)))
    gaps = [InventoryGap(code=g.code, cluster=g.cluster, path=g.path, line=g.line, subject=g.subject, message=g.message)
            for g in inv.gaps
            if not namespaces or g.cluster is None or any(f"/{n}/" in g.subject or g.subject.endswith(f"/{n}") for n in namespaces)]
    gaps.sort(key=lambda g: (g.cluster or "", g.code, g.path, g.subject, g.line or 0))
    kustomize = {k: v for k, v in (inv.tools.get("kustomize") or {}).items()
                 if isinstance(v, (str, int, float, bool)) or v is None}
    if kustomize.get("path"):  # the binary's name, never a local path
        kustomize["path"] = str(kustomize["path"]).rsplit("/", 1)[-1]
    tool = ToolInfo(name="gitops-posture", version=__version__, kustomize=kustomize)
    return InventoryDocument(tool=tool, clusters=clusters, gaps=gaps)


def render_json(doc: InventoryDocument) -> str:
    return json.dumps(doc.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def render_yaml(doc: InventoryDocument) -> str:
    return yaml.safe_dump(doc.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=120)


def render_table(doc: InventoryDocument) -> str:
    """One aligned row per object, grouped by cluster and producer; then the gaps."""
    lines: list[str] = []
    for cluster in doc.clusters:
        root = cluster.root
        lines.append(f"cluster {cluster.name}  (root {root.path or '.'}: {root.kind}"
                     f"{' in ' + root.declared_in if root.declared_in else ''})  {len(cluster.objects)} objects")
        rows = [(o.kind, o.namespace or "-", o.name, o.how, f"{o.source.path}:{o.source.line}" if o.source.line else o.source.path)
                for o in cluster.objects]
        widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(("KIND", "NAMESPACE", "NAME", "HOW", "SOURCE"))]
        current = None
        for o, row in zip(cluster.objects, rows):
            if o.producer != current:
                current = o.producer
                lines.append(f"  {current}")
                lines.append("    " + "  ".join(h.ljust(w) for h, w in zip(("KIND", "NAMESPACE", "NAME", "HOW", "SOURCE"), widths)).rstrip())
            lines.append("    " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        lines.append("")
    if doc.gaps:
        lines.append(f"not seen ({len(doc.gaps)})")
        for g in doc.gaps:
            where = f"{g.path}:{g.line}" if g.line else g.path
            lines.append(f"  {g.code:<22} {(g.cluster or '-'):<10} {where}  {g.subject}")
    return "\n".join(_printable(line) for line in lines) + "\n"


def _printable(text: str) -> str:
    """No raw control characters from a hostile repo reach the terminal."""
    return "".join(c if c.isprintable() or c == "\t" else f"\\x{ord(c):02x}" for c in text)


def redacted(body: dict) -> dict:
    """A deployed object as it may be printed: Secret values replaced, SOPS metadata dropped, and any
    other value that is a credential (by its key, as the plaintext-credential check judges it, or by a
    token shape) replaced too; URLs keep no credentials."""
    out = {k: _redact_values(v, str(k)) for k, v in body.items() if k != "sops"}
    if body.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(out.get(key), dict):
                out[key] = {str(k): REDACTED for k in out[key]}
    return out


def _redact_values(node, key: str):
    if isinstance(node, dict):
        return {k: _redact_values(v, str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_redact_values(v, key) for v in node]
    if isinstance(node, str):
        if looks_like_credential(key, node) or may_hold_token(node.encode("utf-8", "surrogatepass")):
            return REDACTED
        return redact_urls(node)
    return node


def render_manifests(inv, doc: InventoryDocument) -> str:
    """The listed objects themselves, as one multi-document YAML stream (what kustomize-controller and
    helm-controller would apply after substitution), in the listing's order."""
    wanted = {(o.cluster, o.producer, o.kind, o.namespace, o.name) for c in doc.clusters for o in c.objects}
    order = {key: i for i, key in enumerate((o.cluster, o.producer, o.kind, o.namespace, o.name)
                                             for c in doc.clusters for o in c.objects)}
    picked = []
    for res in inv.resources:
        key = (res.cluster, _producer(res), res.kind, res.namespace or "", res.name)
        if res.deployed and key in wanted:
            picked.append((order[key], res))
    picked.sort(key=lambda p: p[0])
    parts = []
    for _, res in picked:
        body = redacted(res.body if isinstance(res.body, dict) else {})
        parts.append(_header(res) + yaml.safe_dump(body, sort_keys=True, allow_unicode=True, width=120))
    return "---\n" + "---\n".join(parts) if parts else ""


def _header(res) -> str:
    """A comment line naming the object, who deploys it and where it comes from, so a diff of two
    streams says which object a hunk belongs to. Names come from the repo: control characters are
    replaced, so no name can end the comment and inject YAML."""
    where = res.path  # no line number: an edit above an object would show it as changed in a diff
    ident = f"{res.kind} {res.namespace + '/' if res.namespace else ''}{res.name}"
    return "# " + _CONTROL.sub("?", f"{ident} · by {_producer(res) or '-'} · {where}") + "\n"


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def schema() -> dict:
    return InventoryDocument.model_json_schema()


if __name__ == "__main__":  # python -m reports.inventory --schema > reports/schema/inventory/inventory.schema.json
    if sys.argv[1:] == ["--schema"]:
        sys.stdout.write(json.dumps(schema(), indent=2) + "\n")
