"""Talos machine configuration as the nodes would run it: talhelper `talconfig.yaml`, its patches and
machine configs, merged in order onto Talos's generated defaults.

Shapes recognised (never file or repo names):
- a talhelper config: a kind-less document with `talosVersion`/`kubernetesVersion` and `nodes`, whose
  `patches`, `controlPlane.patches`, `worker.patches` and `nodes[].patches` are `@./file` references,
  inline YAML strings or inline mappings (strategic merge) or JSON6902 operation lists;
- Talos machine-config documents (`machine:`/`cluster:` with Talos keys), JSON6902 patch lists on
  `/machine` or `/cluster`, and the multi-document `apiVersion: v1alpha1` kinds (VolumeConfig, ...);
- a Talos secrets bundle (`cluster`, `secrets`, `certs`, `trustdinfo`).

Merging follows Talos's strategic merge (pkg/machinery/config/merge): mappings merge key by key, lists
append (duplicates dropped), `admissionControl` entries merge by plugin name (the configuration of a
plugin given again is deep-merged into the earlier one: maps key by key, lists appended) and an empty
`admissionControl: []` changes nothing (the list's own merge adds no entry; a Talos maintainer confirms
a strategic patch cannot drop the default, only a JSON6902 `remove`/`replace` or `$patch: delete` can),
`auditPolicy` is replaced whole, a mapping `{$patch: delete}` deletes its key. Every key set remembers
which fragment (file, key path) set it last, so a finding points at the patch line that causes it.

Configuration kept as templates (`talconfig.yaml.j2`, `.tmpl` patches, a talconfig with template
lines) is read through `talos_templates`, as far as it is plain YAML.
"""
from __future__ import annotations

import copy
import posixpath
from dataclasses import dataclass, field
from typing import Any

from scanner.core.model import Document, Location
from scanner.inventory.substitute import substitute
from scanner.sources.yamlload import load_documents
from scanner.analysis import talos_templates

# Keys that only Talos machine configs carry (Helm values also have `cluster: {name, id}`).
MACHINE_KEYS = {"certSANs", "kubelet", "install", "files", "features", "sysctls", "time", "kernel", "registries",
                "udev", "nodeLabels", "nodeTaints", "disks", "systemDiskEncryption", "logging", "pods", "sysfs",
                "seccompProfiles", "controlPlane", "acceptedCAs", "baseRuntimeSpecOverrides"}
CLUSTER_KEYS = {"apiServer", "controllerManager", "scheduler", "etcd", "proxy", "discovery", "coreDNS",
                "allowSchedulingOnControlPlanes", "allowSchedulingOnMasters", "inlineManifests", "extraManifests",
                "secretboxEncryptionSecret", "aescbcEncryptionSecret", "controlPlane", "aggregatorCA",
                "serviceAccount", "adminKubeconfig", "externalCloudProvider"}
# Talos multi-document config kinds (v1.5+); they carry `apiVersion: v1alpha1`.
TALOS_DOC_KINDS = {"VolumeConfig", "UserVolumeConfig", "RawVolumeConfig", "ExistingVolumeConfig", "SwapVolumeConfig",
                   "ZswapConfig", "LinkConfig", "VLANConfig", "BondConfig", "BridgeConfig", "DummyLinkConfig",
                   "LinkAliasConfig", "DHCPv4Config", "DHCPv6Config", "HostnameConfig", "ResolverConfig",
                   "TimeSyncConfig", "StaticHostConfig", "WatchdogTimerConfig", "KmsgLogConfig", "EventSinkConfig",
                   "NetworkDefaultActionConfig", "NetworkRuleConfig", "SideroLinkConfig", "TrustedRootsConfig",
                   "ExtensionServiceConfig", "EthernetConfig", "KubespanEndpointsConfig", "PCIDriverRebindConfig",
                   "SecurityProfileConfig", "KubeTalosAPIAccessConfig", "KubeAuditPolicyConfig",
                   "KubeEtcdEncryptionConfig", "KubeletConfig", "ImageVerificationConfig", "RegistryMirrorConfig",
                   "RegistryAuthConfig", "RegistryTLSConfig", "EncryptionConfig", "Layer2VIPConfig", "HCloudVIPConfig",
                   "WireguardConfig", "RunDefaultActionConfig", "OOMConfig", "UdevRuleConfig", "FirewallConfig"}
SECRET_FIELDS = (  # key paths holding Talos private material
    ("machine", "token"), ("machine", "ca", "key"), ("cluster", "secret"), ("cluster", "token"),
    ("cluster", "ca", "key"), ("cluster", "aggregatorCA", "key"), ("cluster", "serviceAccount", "key"),
    ("cluster", "etcd", "ca", "key"), ("cluster", "secretboxEncryptionSecret"), ("cluster", "aescbcEncryptionSecret"),
    ("secrets", "bootstraptoken"), ("secrets", "secretboxencryptionsecret"), ("secrets", "aescbcencryptionsecret"),
    ("trustdinfo", "token"), ("certs", "etcd", "key"), ("certs", "k8s", "key"), ("certs", "k8saggregator", "key"),
    ("certs", "k8sserviceaccount", "key"), ("certs", "os", "key"),
)

# What talosctl/talhelper generate before any patch: the secure defaults a patch can weaken.
TALOS_DEFAULTS: dict = {
    "machine": {
        "features": {"rbac": True},
        "kubelet": {"defaultRuntimeSeccompProfileEnabled": True},
    },
    "cluster": {
        "apiServer": {
            "admissionControl": [{
                "name": "PodSecurity",
                "configuration": {
                    "apiVersion": "pod-security.admission.config.k8s.io/v1alpha1",
                    "kind": "PodSecurityConfiguration",
                    "defaults": {"enforce": "baseline", "enforce-version": "latest", "audit": "restricted",
                                 "audit-version": "latest", "warn": "restricted", "warn-version": "latest"},
                    "exemptions": {"namespaces": ["kube-system"], "runtimeClasses": [], "usernames": []},
                },
            }],
            "auditPolicy": {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}]},
        },
    },
}


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def expand(value, variables: dict) -> Any:
    """Flux/talhelper substitution, nested defaults included (`${A:-${B}}`)."""
    if not isinstance(value, str):
        return value
    out = value
    for _ in range(3):
        nxt = substitute(out, variables)
        if nxt == out:
            break
        out = nxt
    while out.endswith("}") and out.count("}") > out.count("{"):
        out = out[:-1]
    return out


# ---- shapes -----------------------------------------------------------------------------------------

def is_talconfig(doc: Document) -> bool:
    b = doc.body
    return (isinstance(b, dict) and not doc.is_manifest
            and ("talosVersion" in b or ("clusterName" in b and isinstance(b.get("nodes"), list)
                                         and "endpoint" in b)))


def is_machine_config(body) -> bool:
    if not isinstance(body, dict) or body.get("kind") or is_secrets_bundle(body):
        return False
    m, c = body.get("machine"), body.get("cluster")
    return (isinstance(m, dict) and bool(MACHINE_KEYS & set(m))) or (isinstance(c, dict) and bool(CLUSTER_KEYS & set(c)))


def is_json6902_patch(body) -> bool:
    return (isinstance(body, list) and bool(body)
            and all(isinstance(op, dict) and op.get("op") and isinstance(op.get("path"), str) for op in body)
            and any(op["path"].startswith(("/machine", "/cluster")) for op in body))


def is_talos_kind_doc(doc_or_body) -> bool:
    body = doc_or_body.body if isinstance(doc_or_body, Document) else doc_or_body
    return isinstance(body, dict) and body.get("apiVersion") == "v1alpha1" and body.get("kind") in TALOS_DOC_KINDS


def is_secrets_bundle(body) -> bool:
    return (isinstance(body, dict) and not body.get("kind") and isinstance(body.get("secrets"), dict)
            and (isinstance(body.get("certs"), dict) or isinstance(body.get("trustdinfo"), dict)))


def has_sops(body) -> bool:
    s = body.get("sops") if isinstance(body, dict) else None
    return isinstance(s, dict) and bool(s.get("mac") or s.get("age") or s.get("pgp") or s.get("kms") or s.get("lastmodified"))


def get_path(body, path):
    cur = body
    for k in path:
        if isinstance(cur, dict):
            cur = cur.get(k)
        elif isinstance(cur, list) and isinstance(k, int) and k < len(cur):
            cur = cur[k]
        else:
            return None
    return cur


# ---- fragments and merge ----------------------------------------------------------------------------

@dataclass(eq=False)
class Fragment:
    """A piece of Talos configuration in the repo: a patch file document or an inline talconfig patch."""

    doc: Document
    body: Any
    base: tuple = ()  # key path of the fragment inside doc
    opaque: bool = False  # parsed from a YAML string: no line lookup below `base`
    noops: list = field(default_factory=list)  # key paths this fragment sets without effect (`admissionControl: []`)

    def keypath(self, sub=()) -> tuple:
        return self.base if self.opaque else self.base + tuple(sub)

    @property
    def label(self) -> str:
        return self.doc.path + (f" ({'/'.join(str(k) for k in self.base)})" if self.base else "")


@dataclass(eq=False)
class TalosConfig:
    """The merged machine configuration of one node role (or one node with its own patches)."""

    cluster: "TalosCluster"
    role: str  # controlplane, worker, or unknown
    scope: str  # "controlplane nodes", "worker nodes", "node gpu-1", "machine config talos/x.yaml"
    body: dict = field(default_factory=dict)
    prov: dict = field(default_factory=dict)  # key path -> [(Fragment, keypath in doc)]
    documents: list = field(default_factory=list)  # [(Fragment, body)] multi-doc kinds (VolumeConfig, ...)
    defaults: bool = True  # built on Talos generated defaults
    cleared: list = field(default_factory=list)  # "file: how" for each patch that dropped admission plugins
    noops: list = field(default_factory=list)  # "file: what" for each patch line that changed nothing

    @property
    def subject(self) -> str:
        return f"Talos {self.scope} ({self.cluster.label})"

    @property
    def control_plane(self) -> bool:
        return self.role in ("controlplane", "unknown")

    def get(self, *path):
        return get_path(self.body, path)

    def sources(self, *path) -> list:
        """Fragments that set `path` or anything below it, in merge order."""
        out = []
        for p, entries in self.prov.items():
            if p[:len(path)] == tuple(path):
                out.extend(entries)
        seen, uniq = set(), []
        for frag, kp in out:
            if (id(frag), kp) not in seen:
                seen.add((id(frag), kp))
                uniq.append((frag, kp))
        return uniq

    def origin(self, *path):
        """(Fragment, keypath) that last set `path` (or its closest ancestor), or None (Talos default)."""
        path = tuple(path)
        for n in range(len(path), 0, -1):
            entries = self.prov.get(path[:n])
            if entries:
                return entries[-1]
        below = self.sources(*path)
        return below[-1] if below else None

    def location(self, inv, *path) -> Location:
        o = self.origin(*path) if path else None
        if o is None:
            src = self.cluster.anchor
            return Location(src.path, src.line) if src else Location(self.cluster.root or ".", None)
        frag, kp = o
        return Location(frag.doc.path, inv.line_of(frag.doc, kp))

    def where(self, *path) -> str:
        o = self.origin(*path)
        return "Talos default" if o is None else o[0].label


@dataclass(eq=False)
class TalosCluster:
    """A Talos cluster defined in the repository: its talconfig, versions and variables."""

    root: str  # directory holding the talconfig (or the machine configs)
    talconfig: Document | None = None
    name: str | None = None
    talos_version: str | None = None
    kubernetes_version: str | None = None
    variables: dict = field(default_factory=dict)  # talenv values
    configs: list[TalosConfig] = field(default_factory=list)
    fragments: list[Fragment] = field(default_factory=list)
    nodes: list[dict] = field(default_factory=list)
    anchor: Document | None = None  # the document findings fall back to
    errors: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)  # files of this cluster read as templates
    unread: list[str] = field(default_factory=list)  # parts of those templates that did not read as YAML

    @property
    def label(self) -> str:
        return self.talconfig.path if self.talconfig else (self.root or "repository")


def _record(prov: dict, path: tuple, frag: Fragment, kp: tuple) -> None:
    prov.setdefault(path, []).append((frag, kp))


def _deep_merge(dst, src):
    """Talos's merge of untyped maps (a plugin's `configuration`): maps key by key, lists appended, a
    scalar replaced unless the patch gives Go's zero value ("" or 0; `false` is always taken)."""
    if isinstance(dst, dict) and isinstance(src, dict):
        out = dict(dst)
        for k, v in src.items():
            out[k] = _deep_merge(out[k], v) if k in out and out[k] is not None else copy.deepcopy(v)
        return out
    if isinstance(dst, list) and isinstance(src, list):
        return list(dst) + copy.deepcopy(src)
    if src in ("", 0) and src is not False:
        return dst
    return copy.deepcopy(src)


def is_delete_directive(v) -> bool:
    return isinstance(v, dict) and str(v.get("$patch", "")).lower() == "delete"


def _forget(prov: dict, path: tuple) -> None:
    for p in [p for p in prov if p[:len(path)] == path]:
        del prov[p]


def _merge(dst: dict, src: dict, path: tuple, frag: Fragment, prov: dict, sub: tuple = ()) -> None:
    for k, v in src.items():
        p = path + (k,)
        kp = frag.keypath(sub + (k,))
        if k == "$patch":
            continue
        if is_delete_directive(v):
            dst.pop(k, None)
            _forget(prov, p)
            _record(prov, p, frag, kp)
        elif k == "admissionControl" and isinstance(v, list):
            if not v:
                if p not in frag.noops:
                    frag.noops.append(p)  # `admissionControl: []` merges nothing (see the module docstring)
                continue
            cur = dst.get(k) if isinstance(dst.get(k), list) else []
            for item in v:
                if not isinstance(item, dict):
                    continue
                same = next((i for i, e in enumerate(cur) if isinstance(e, dict) and e.get("name") == item.get("name")), None)
                if is_delete_directive(item):
                    if same is not None:
                        cur.pop(same)
                elif same is None:
                    cur.append(copy.deepcopy(item))
                else:
                    cur[same] = _deep_merge(cur[same], item)
            dst[k] = cur
            _record(prov, p, frag, kp)
        elif k == "auditPolicy":
            dst[k] = copy.deepcopy(v)
            _record(prov, p, frag, kp)
        elif isinstance(v, dict) and isinstance(dst.get(k), dict):
            _record(prov, p, frag, kp)
            _merge(dst[k], v, p, frag, prov, sub + (k,))
        elif isinstance(v, list) and isinstance(dst.get(k), list):
            for item in v:
                if item not in dst[k]:
                    dst[k].append(copy.deepcopy(item))
            _record(prov, p, frag, kp)
        else:
            dst[k] = copy.deepcopy(v)
            _record(prov, p, frag, kp)
            if isinstance(v, dict):
                _record_tree(prov, p, v, frag, sub + (k,))


def _record_tree(prov, path, value, frag, sub):
    for k, v in value.items():
        _record(prov, path + (k,), frag, frag.keypath(sub + (k,)))
        if isinstance(v, dict):
            _record_tree(prov, path + (k,), v, frag, sub + (k,))


def _apply_json6902(dst: dict, ops: list, frag: Fragment, prov: dict) -> None:
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            continue
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].strip("/").split("/") if p != ""]
        if not parts:
            continue
        cur = dst
        for part in parts[:-1]:
            if isinstance(cur, dict):
                if op.get("op") in ("add", "replace") and not isinstance(cur.get(part), (dict, list)):
                    cur[part] = {}
                cur = cur.get(part)
            elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
                cur = cur[int(part)]
            else:
                cur = None
                break
        if cur is None:
            continue
        last = parts[-1]
        path = tuple(int(p) if p.isdigit() else p for p in parts)
        if op.get("op") == "remove":
            if isinstance(cur, dict):
                cur.pop(last, None)
            elif isinstance(cur, list) and last.isdigit() and int(last) < len(cur):
                cur.pop(int(last))
            # Forget what earlier fragments set below the removed key; the removal is the origin now.
            _forget(prov, path)
            _record(prov, path, frag, frag.keypath((i,)))
        elif op.get("op") in ("add", "replace"):
            if isinstance(cur, dict):
                cur[last] = copy.deepcopy(op.get("value"))
            elif isinstance(cur, list):
                if last == "-":
                    cur.append(copy.deepcopy(op.get("value")))
                elif last.isdigit():
                    cur.insert(int(last), copy.deepcopy(op.get("value")))
            _record(prov, path, frag, frag.keypath((i,)))


ADMISSION = ("cluster", "apiServer", "admissionControl")


def apply_fragment(cfg: TalosConfig, frag: Fragment) -> None:
    body = frag.body
    before = get_path(cfg.body, ADMISSION)
    names_before = {p.get("name") for p in before or [] if isinstance(p, dict)}
    if is_talos_kind_doc(body):
        cfg.documents.append((frag, body))
    elif isinstance(body, list):
        _apply_json6902(cfg.body, body, frag, cfg.prov)
    elif isinstance(body, dict):
        src = {k: v for k, v in body.items() if k in ("machine", "cluster", "debug", "persist", "version")}
        _merge(cfg.body, src, (), frag, cfg.prov)
        for p in frag.noops:
            note = f"{frag.label}: {p[-1]}: [] (a strategic merge patch cannot empty it; Talos keeps the earlier entries)"
            if note not in cfg.noops:
                cfg.noops.append(note)
    after = get_path(cfg.body, ADMISSION)
    gone = names_before - {p.get("name") for p in after or [] if isinstance(p, dict)}
    if gone:
        how = "$patch: delete"
        if isinstance(body, list):
            ops = [op for op in body if isinstance(op, dict) and str(op.get("path", "")).startswith("/cluster/apiServer")]
            how = "; ".join(f"{op.get('op')} {op.get('path')}" for op in ops) or "JSON patch"
        cfg.cleared.append(f"{frag.label}: {how} (drops {', '.join(sorted(str(n) for n in gone))})")


@dataclass
class PodSecurity:
    """The cluster-wide PodSecurity admission defaults one control-plane configuration gives."""

    configured: bool  # a PodSecurity plugin entry is in admissionControl
    enforce: str | None  # None: not given (Kubernetes then admits as privileged)
    audit: str | None
    warn: str | None
    exempt_namespaces: list
    other_exemptions: list  # usernames, runtimeClasses
    cleared: list  # patches that dropped the plugin
    noops: list  # patches meant to drop it that changed nothing
    default: bool  # Talos's generated entry, untouched

    def level(self, mode: str) -> str:
        v = getattr(self, mode)
        return str(v).lower() if v else "privileged"


def pod_security(cfg: TalosConfig) -> PodSecurity:
    plugins = cfg.get(*ADMISSION)
    ps = next((p for p in plugins or [] if isinstance(p, dict) and p.get("name") == "PodSecurity"), None)
    conf = _d(_d(ps).get("configuration"))
    defaults = _d(conf.get("defaults"))
    ex = _d(conf.get("exemptions"))
    modes = {m: (str(defaults[m]) if defaults.get(m) not in (None, "") else None) for m in ("enforce", "audit", "warn")}
    return PodSecurity(configured=ps is not None, exempt_namespaces=[str(n) for n in ex.get("namespaces") or []],
                       other_exemptions=[str(x) for k in ("usernames", "runtimeClasses") for x in ex.get(k) or []],
                       cleared=list(cfg.cleared), noops=list(cfg.noops),
                       default=cfg.defaults and cfg.origin(*ADMISSION) is None, **modes)


# ---- building the model -----------------------------------------------------------------------------

def _docs_by_path(inv) -> dict:
    out: dict = {}
    for d in inv.documents:
        if d.origin == "git":
            out.setdefault(d.path, []).append(d)
    # Templates answer for their own path and for the name they render to (`@./patches/x.yaml` -> x.yaml.j2),
    # unless a plain file of that name exists.
    for read in talos_templates.talos_templates(inv):
        for name in talos_templates.lookup_names(read.path):
            if name == read.path or name not in out:
                out.setdefault(name, []).extend(read.documents)
    return out


def _talenv(inv, directory: str, by_path: dict) -> dict:
    env: dict = {}
    for name in ("talenv.yaml", "talenv.yml", "talenv.sops.yaml", "talenv.sops.yml"):
        for d in by_path.get(posixpath.join(directory, name) if directory else name, []):
            if isinstance(d.body, dict):
                for k, v in d.body.items():
                    if isinstance(v, (str, int, float)) and not str(v).startswith("ENC["):
                        env[str(k)] = str(v)
    return env


def _patch_fragments(doc: Document, patches, base: tuple, by_path: dict, directory: str, cluster: TalosCluster,
                     variables: dict) -> list[Fragment]:
    out: list[Fragment] = []
    for i, p in enumerate(patches if isinstance(patches, list) else []):
        if isinstance(p, str) and p.strip().startswith("@"):
            ref = expand(p.strip()[1:].strip(), variables)
            target = posixpath.normpath(posixpath.join(directory, ref)) if directory else posixpath.normpath(ref)
            docs = by_path.get(target)
            if not docs:
                cluster.errors.append(f"{doc.path}: patch {p!r} not found")
                continue
            for d in docs:
                if d.body is not None:
                    out.append(Fragment(doc=d, body=d.body))
        elif isinstance(p, str):
            loaded, _errs = load_documents(p)
            for ld in loaded:
                if ld.body is not None:
                    out.append(Fragment(doc=doc, body=ld.body, base=base + (i,), opaque=True))
        elif isinstance(p, (dict, list)):
            out.append(Fragment(doc=doc, body=p, base=base + (i,)))
    return out


def _role_config(cluster: TalosCluster, role: str, scope: str, frags: list[Fragment]) -> TalosConfig:
    cfg = TalosConfig(cluster=cluster, role=role, scope=scope, body=copy.deepcopy(TALOS_DEFAULTS))
    for f in frags:
        apply_fragment(cfg, f)
    return cfg


def _from_talconfig(inv, doc: Document, by_path: dict) -> TalosCluster:
    directory = posixpath.dirname(doc.path)
    body = doc.body
    cluster = TalosCluster(root=directory, talconfig=doc, anchor=doc)
    cluster.variables = _talenv(inv, directory, by_path)
    v = cluster.variables
    cluster.name = _cluster_name(doc) and (expand(_cluster_name(doc), v) or None)
    cluster.talos_version = expand(str(body["talosVersion"]), v) if body.get("talosVersion") else None
    cluster.kubernetes_version = expand(str(body["kubernetesVersion"]), v) if body.get("kubernetesVersion") else None
    cluster.nodes = [n for n in body.get("nodes") or [] if isinstance(n, dict)]

    global_frags = _patch_fragments(doc, body.get("patches"), ("patches",), by_path, directory, cluster, v)
    # talhelper's top-level `allowSchedulingOnControlPlanes` lands in the machine config before patches.
    for key in ("allowSchedulingOnControlPlanes", "allowSchedulingOnMasters"):
        if key in body:
            global_frags.insert(0, Fragment(doc=doc, body={"cluster": {"allowSchedulingOnControlPlanes": body[key]}},
                                            base=(key,), opaque=True))
            break
    role_frags = {}
    for section, role in (("controlPlane", "controlplane"), ("worker", "worker")):
        sec = _d(body.get(section))
        role_frags[role] = _patch_fragments(doc, sec.get("patches"), (section, "patches"), by_path, directory, cluster, v)
    cluster.fragments = global_frags + role_frags["controlplane"] + role_frags["worker"]

    roles_present = {"controlplane" if n.get("controlPlane") else "worker" for n in cluster.nodes} or {"controlplane"}
    for role in ("controlplane", "worker"):
        plain = [n for n in cluster.nodes if bool(n.get("controlPlane")) == (role == "controlplane") and not n.get("patches")]
        if role in roles_present and (plain or not cluster.nodes):
            cluster.configs.append(_role_config(cluster, role, f"{role} nodes", global_frags + role_frags[role]))
    for i, n in enumerate(cluster.nodes):
        if not n.get("patches"):
            continue
        role = "controlplane" if n.get("controlPlane") else "worker"
        node_frags = _patch_fragments(doc, n.get("patches"), ("nodes", i, "patches"), by_path, directory, cluster, v)
        cluster.fragments.extend(node_frags)
        cluster.configs.append(_role_config(cluster, role, f"node {expand(str(n.get('hostname') or i), v)} ({role})",
                                            global_frags + role_frags[role] + node_frags))
    return cluster


def _group_root(path: str) -> str:
    parts = path.split("/")[:-1]
    for i, seg in enumerate(parts):
        if "talos" in seg.lower():
            return "/".join(parts[:i + 1])
    return "/".join(parts)


def _cluster_name(doc: Document) -> str | None:
    name = doc.body.get("clusterName") if isinstance(doc.body, dict) else None
    return name if isinstance(name, str) and name and not talos_templates.is_template_value(name) else None


def _under(path: str, root: str) -> bool:
    return not root or path == root or path.startswith(root + "/")


def build(inv) -> list[TalosCluster]:
    by_path = _docs_by_path(inv)
    reads = talos_templates.talos_templates(inv)
    from_template = {id(d) for r in reads for d in r.documents}
    docs = [d for d in inv.documents if d.origin == "git" and not inv.is_archived(d.path)]
    docs += [d for r in reads for d in r.documents]
    talconfigs = [d for d in docs if is_talconfig(d)]
    plain = [d for d in talconfigs if id(d) not in from_template]
    # A template whose rendered talconfig is committed too describes the same cluster: the rendered one
    # (what talhelper actually reads) is judged, the template is not a second cluster.
    plain_names = {_cluster_name(d) for d in plain}
    templated = [d for d in talconfigs if id(d) in from_template
                 and (not plain or (_cluster_name(d) is not None and _cluster_name(d) not in plain_names))]
    # Several talhelper files in one folder (talconfig_old.yaml): the canonical name wins.
    chosen: dict[str, Document] = {}
    canonical = ("talconfig.yaml", "talconfig.yml")
    for d in sorted(plain + templated, key=lambda d: (id(d) in from_template,
                                                       posixpath.basename(talos_templates.rendered_name(d.path) or d.path)
                                                       not in canonical, d.path)):
        chosen.setdefault(posixpath.dirname(d.path), d)
    clusters = [_from_talconfig(inv, d, by_path) for d in chosen.values()]
    for c in clusters:
        c.templates = sorted({f.doc.path for f in c.fragments if id(f.doc) in from_template}
                             | ({c.talconfig.path} if id(c.talconfig) in from_template else set()))
        c.unread = [f"{r.path}: {u}" for r in reads if r.path in c.templates for u in r.unread]
    used = {id(f.doc) for c in clusters for f in c.fragments} | {id(d) for d in talconfigs}
    roots = [c.root for c in clusters]

    # Machine configs and patches no talconfig references: grouped by their Talos folder. Patches lying
    # under a talconfig's folder that it does not reference are applied to no node: not a cluster of
    # their own (that would judge the same cluster twice, once without the patches that matter).
    loose: dict[str, list[Document]] = {}
    for d in docs:
        if id(d) in used:
            continue
        if is_machine_config(d.body) or is_json6902_patch(d.body) or (is_talos_kind_doc(d) and "talos" in d.path.lower()):
            loose.setdefault(_group_root(d.path), []).append(d)
    for root, group in sorted(loose.items()):
        full = [d for d in group if isinstance(d.body, dict) and isinstance(d.body.get("machine"), dict)
                and isinstance(d.body.get("cluster"), dict) and (d.body.get("version") or _d(d.body["machine"]).get("type"))]
        if not full and any(_under(root, r) for r in roots):
            continue
        cluster = TalosCluster(root=root, anchor=group[0])
        cluster.templates = sorted({d.path for d in group if id(d) in from_template})
        patches = [d for d in group if d not in full]
        cluster.fragments = [Fragment(doc=d, body=d.body) for d in group]
        patch_frags = [Fragment(doc=d, body=d.body) for d in patches]
        if full:
            for d in full:
                mtype = str(_d(d.body["machine"]).get("type") or "unknown")
                role = "controlplane" if mtype in ("controlplane", "init") else ("worker" if mtype == "worker" else "unknown")
                cfg = TalosConfig(cluster=cluster, role=role, scope=f"machine config {d.path}", defaults=False)
                apply_fragment(cfg, Fragment(doc=d, body=d.body))
                for f in patch_frags:
                    apply_fragment(cfg, f)
                cluster.configs.append(cfg)
                if cluster.anchor is group[0]:
                    cluster.anchor = d
                cluster.name = cluster.name or _d(d.body["cluster"]).get("clusterName")
        else:
            cluster.configs.append(_role_config(cluster, "unknown", f"patches in {root or '.'}", patch_frags))
        clusters.append(cluster)
    return clusters


def clusters(inv) -> list[TalosCluster]:
    """The Talos model of the repo, built once per inventory."""
    cached = getattr(inv, "_talos_clusters", None)
    if cached is None:
        cached = build(inv)
        try:
            inv._talos_clusters = cached
        except AttributeError:  # pragma: no cover - slotted inventories
            pass
    return cached


def talos_signals(inv) -> list[str]:
    """Files hinting that the cluster runs Talos even when no machine config is committed."""
    hits = []
    for d in inv.documents:
        if d.origin != "git":
            continue
        if d.kind in ("TalosUpgrade", "KubernetesUpgrade") or (isinstance(d.body, dict) and "customization" in d.body
                                                              and "talos" in d.path.lower()):
            hits.append(d.path)
    hits += [f for f in inv.files if "/talos/" in f"/{f}" or posixpath.basename(f).startswith("talconfig")]
    return sorted(set(hits))[:5]
