"""Who needs which Secret, and who makes it.

Consumers (`needed_secrets`): pod env/envFrom/volumes/projected volumes/imagePullSecrets (manifests
and app-template values, via `inv.workloads`), HelmRelease `valuesFrom`, Flux `postBuild.substituteFrom`
and `decryption.secretRef`, source `secretRef`s, Ingress/app-template ingress TLS secrets that
cert-manager does not issue, Gateway listener certificateRefs, Envoy Gateway SecurityPolicy secrets,
and chart values `existingSecret`.

Producers (`secret_producers`): ExternalSecret, ClusterExternalSecret, Secret documents (and Secrets a
kustomize `secretGenerator` or a rendered chart produces, once the inventory holds them as objects),
cert-manager Certificates, kustomize `secretGenerator` entries of kustomizations whose output the
inventory does not hold, app-template `secrets:` and `rawResources`, Kyverno generate rules, Talos
`ServiceAccount`s (talos.dev: a Secret of the same name with a talosconfig), operators whose custom
resource in the repo makes Secrets under documented names (`OPERATOR_SECRETS`: CloudNativePG,
Crunchy Postgres, Rook, mariadb-operator `generate: true`, grafana-operator, ObjectBucketClaim,
Strimzi KafkaUser), and configurable kinds (InfisicalSecret, SealedSecret, OnePasswordItem
preconfigured).

Names are expanded with the Flux substitution variables in force for each object.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from scanner.inventory.helm import release_name
from scanner.core.model import Resource
from scanner.inventory.substitute import substitute

CERT_MANAGER_ANNOTATIONS = ("cert-manager.io/cluster-issuer", "cert-manager.io/issuer")
FLUX_SOURCE_KINDS = ("GitRepository", "OCIRepository", "HelmRepository", "Bucket")

# kind -> name paths ("a.b[].c", alternatives tried in order), namespace path (optional)
DEFAULT_PRODUCERS = [
    {"kind": "SealedSecret", "name_path": "spec.template.metadata.name|metadata.name",
     "namespace_path": "spec.template.metadata.namespace"},
    {"kind": "OnePasswordItem", "name_path": "metadata.name"},
    {"kind": "InfisicalSecret", "name_path": "spec.managedKubeSecretReferences[].secretName",
     "namespace_path": "spec.managedKubeSecretReferences[].secretNamespace"},
    {"kind": "InfisicalSecret", "name_path": "spec.managedSecretReference.secretName",
     "namespace_path": "spec.managedSecretReference.secretNamespace"},
    {"kind": "PushSecret", "name_path": ""},  # consumes, never produces: kept out of the generic walk
    {"kind": "BitwardenSecret", "name_path": "spec.secretName"},
    {"kind": "VaultStaticSecret", "name_path": "spec.destination.name"},
    {"kind": "VaultDynamicSecret", "name_path": "spec.destination.name"},
    {"kind": "DopplerSecret", "name_path": "spec.managedSecret.name",
     "namespace_path": "spec.managedSecret.namespace"},
]

# Operators that may create Secrets named after their own objects, naming rules not documented exactly:
# (kind, group prefix, suffixes). A match is a warning ("external producer"), never a pass; kinds whose
# rules are exact are producers (`OPERATOR_SECRETS`).
OPERATOR_PATTERNS = [
    ("Dragonfly", "dragonflydb.io", ("",)),
    ("RedisFailover", "databases.spotahome.com", ("",)),
    ("Cluster", "ceph.rook.io", ("",)),
    ("CephCluster", "ceph.rook.io", ("",)),
    ("AutoscalingRunnerSet", "actions.github.com", ("",)),
    ("Outpost", "goauthentik.io", ("",)),
]
# Operators whose custom resource makes Secrets under documented names: (kind, API group, reader). A
# reader yields (name, keypath) for each Secret the object makes in its own namespace.
def _cnpg_cluster(res):
    yield from ((f"{res.name}{suf}", ("metadata", "name")) for suf in ("-app", "-superuser", "-ca", "-replication",
                                                                      "-server"))


def _crunchy_cluster(res):
    users = [u for u in _l(res.spec.get("users")) if isinstance(u, dict) and u.get("name")] or [{"name": res.name}]
    for i, u in enumerate(users):
        yield f"{res.name}-pguser-{u['name']}", ("spec", "users", i) if res.spec.get("users") else ("metadata", "name")
    yield f"{res.name}-pgbouncer", ("metadata", "name")
    yield f"{res.name}-cluster-cert", ("metadata", "name")


def _rook_cluster(res):
    # Rook writes these fixed names in the CephCluster's namespace (mon keys and the config the toolbox reads).
    names = ["rook-ceph-mon", "rook-ceph-config"]
    if not _d(res.spec.get("external")).get("enable"):
        names += ["rook-ceph-admin-keyring", "rook-ceph-crash-collector-keyring"]
    yield from ((n, ("metadata", "name")) for n in names)


def _generated_key_refs(res):
    """mariadb-operator: a `*SecretKeyRef` with `generate: true` is created by the operator."""
    for key, ref in res.spec.items():
        if str(key).endswith("SecretKeyRef") and isinstance(ref, dict) and ref.get("generate") is True and ref.get("name"):
            yield str(ref["name"]), ("spec", key, "name")


def _grafana(res):
    yield f"{res.name}-admin-credentials", ("metadata", "name")


def _same_name(res):
    yield res.name, ("metadata", "name")


OPERATOR_SECRETS = [
    ("Cluster", "postgresql.cnpg.io", _cnpg_cluster),
    ("PostgresCluster", "postgres-operator.crunchydata.com", _crunchy_cluster),
    ("CephCluster", "ceph.rook.io", _rook_cluster),
    ("MariaDB", "k8s.mariadb.com", _generated_key_refs),
    ("User", "k8s.mariadb.com", _generated_key_refs),
    ("MaxScale", "k8s.mariadb.com", _generated_key_refs),
    ("Grafana", "grafana.integreatly.org", _grafana),
    ("ObjectBucketClaim", "objectbucket.io", _same_name),
    ("KafkaUser", "kafka.strimzi.io", _same_name),
    ("ServiceAccount", "talos.dev", _same_name),  # Talos: a Secret holding a talosconfig for the roles
]
OPERATOR_LABELS = {"ServiceAccount": "Talos ServiceAccount"}
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

OPERATOR_NAME_PREFIXES = ("rook-ceph-", "authentik-outpost-", "ak-outpost-", "volsync-", "cnpg-", "sh.helm.release.")


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


@dataclass
class SecretRef:
    """A reference from a resource to a Secret by name."""

    name: str  # as resolved (substitutions expanded where known)
    namespace: str | None
    form: str  # envFrom.secretRef, secretKeyRef, volume.secret, ...
    res: Resource
    path: tuple  # key path inside res.body (for the line)
    raw: str = ""  # the name as written
    optional: bool = False

    @property
    def unresolved(self) -> bool:
        return "${" in self.name or "{{" in self.name


@dataclass
class Producer:
    """Something that creates a Secret: a Secret manifest, an ExternalSecret, a generator..."""

    name: str
    namespace: str | None  # None: cluster-wide / unknown, "*" every namespace
    kind: str
    res: Resource | None
    path: str
    line: int | None = None
    namespaces: frozenset | None = None  # ClusterExternalSecret: explicit set
    pattern: re.Pattern | None = None  # templated names (Kyverno generate)
    external: bool = False  # produced outside Git (operator, bootstrap): "external producer"

    def covers(self, ns: str | None, name: str) -> bool:
        if self.pattern is not None:
            if not self.pattern.fullmatch(name):
                return False
        elif self.name != name:
            return False
        return self.in_namespace(ns)

    def in_namespace(self, ns: str | None) -> bool:
        if self.namespaces is not None:
            return "*" in self.namespaces or ns in self.namespaces or ns is None
        if self.namespace in ("*",) or ns is None or self.namespace is None:
            return True
        return self.namespace == ns

    def as_evidence(self) -> dict:
        out = {"kind": self.kind, "name": self.name, "namespace": self.namespace, "path": self.path, "line": self.line}
        if self.namespaces is not None:
            out["namespaces"] = sorted(self.namespaces)
        if self.pattern is not None:
            out["pattern"] = self.pattern.pattern
        return out


REFLECTOR = "reflector.v1.k8s.emberstack.com/"
REPLICATOR_TO = "replicator.v1.mittwald.de/replicate-to"


def reflected_namespaces(annotations: dict) -> set[str] | None:
    """Namespaces a Secret is copied into by emberstack reflector / mittwald replicator annotations."""
    if not isinstance(annotations, dict):
        return None
    out: set[str] = set()
    if str(annotations.get(REFLECTOR + "reflection-auto-enabled", "")).lower() == "true":
        nss = str(annotations.get(REFLECTOR + "reflection-auto-namespaces", "") or
                  annotations.get(REFLECTOR + "reflection-allowed-namespaces", "") or "")
        out |= {n.strip() for n in nss.split(",") if n.strip()} or {"*"}
    if annotations.get(REPLICATOR_TO):
        out |= {n.strip() for n in str(annotations[REPLICATOR_TO]).split(",") if n.strip()}
    out = {("*" if any(c in n for c in "*[]()|+") else n) for n in out}
    return out or None


def _expand(name, res: Resource) -> str:
    name = str(name)
    if "${" in name and res.variables:
        name = substitute(name, res.variables)
    if "{{" in name and res.kind == "HelmRelease":
        rn = release_name(res)
        name = re.sub(r"\{\{-?\s*\.Release\.Name\s*-?\}\}", rn, name)
    return name


def _hr_namespace(res: Resource) -> str | None:
    tn = res.spec.get("targetNamespace") if res.kind == "HelmRelease" else None
    if isinstance(tn, str) and tn:
        return substitute(tn, res.variables)
    return res.namespace


# ---- consumers -----------------------------------------------------------------------------------

def _container_refs(c, base_path: tuple, res: Resource, ns, out: list[SecretRef]) -> None:
    spec = c.spec
    env = spec.get("env")
    for i, e in enumerate(env if isinstance(env, list) else []):
        if not isinstance(e, dict):
            continue
        ref = _d(_d(e.get("valueFrom")).get("secretKeyRef"))
        if ref.get("name") and isinstance(ref.get("name"), str):
            out.append(SecretRef(_expand(ref["name"], res), ns, "env.valueFrom.secretKeyRef", res,
                                 _env_path(res, base_path, e, i), raw=ref["name"], optional=bool(ref.get("optional"))))
    env_from = spec.get("envFrom")
    for i, e in enumerate(env_from if isinstance(env_from, list) else []):
        ref = _d(_d(e).get("secretRef"))
        if ref.get("name") and isinstance(ref.get("name"), str):
            out.append(SecretRef(_expand(ref["name"], res), ns, "envFrom.secretRef", res, base_path + ("envFrom", i),
                                 raw=ref["name"], optional=bool(ref.get("optional"))))


def _env_path(res: Resource, base: tuple, e: dict, i: int) -> tuple:
    if res.kind == "HelmRelease":
        raw = _get(res.body, base + ("env",))
        if isinstance(raw, dict):
            return base + ("env", e.get("name"), "valueFrom", "secretKeyRef", "name")
    return base + ("env", i, "valueFrom", "secretKeyRef", "name")


def _get(d, path):
    for k in path:
        if isinstance(d, dict):
            d = d.get(k)
        elif isinstance(d, list) and isinstance(k, int) and k < len(d):
            d = d[k]
        else:
            return None
    return d


def _workload_refs(inv, out: list[SecretRef]) -> None:
    for w in inv.workloads:
        res = w.resource
        if not res.deployed:
            continue
        ns = w.namespace
        for c in w.containers:
            _container_refs(c, c.path, res, ns, out)
        pod = w.pod
        for i, v in enumerate(_l(pod.get("volumes"))):
            if not isinstance(v, dict):
                continue
            vpath = w.pod_paths.get(f"volume:{v.get('name')}") or (w.pod_paths.get("volumes", w.pod_path + ("volumes",)) + (i,))
            sec = _d(v.get("secret"))
            if sec.get("secretName") and isinstance(sec.get("secretName"), str):
                out.append(SecretRef(_expand(sec["secretName"], res), ns, "volume.secret", res, vpath,
                                     raw=sec["secretName"], optional=bool(sec.get("optional"))))
            for s in _l(_d(v.get("projected")).get("sources")):
                ps = _d(_d(s).get("secret"))
                if ps.get("name") and isinstance(ps.get("name"), str):
                    out.append(SecretRef(_expand(ps["name"], res), ns, "volume.projected.secret", res, vpath,
                                         raw=ps["name"], optional=bool(ps.get("optional"))))
        for i, p in enumerate(_l(pod.get("imagePullSecrets"))):
            name = p.get("name") if isinstance(p, dict) else p if isinstance(p, str) else None
            if name:
                out.append(SecretRef(_expand(name, res), ns, "imagePullSecrets", res,
                                     w.pod_paths.get("imagePullSecrets", w.pod_path) + (i,), raw=str(name)))


def _existing_secret_refs(res: Resource, ns, out: list[SecretRef]) -> None:
    _walk_existing(res.spec.get("values"), ["spec", "values"], res, ns, out)


def _walk_existing(node, path: list, res: Resource, ns, out: list[SecretRef]) -> None:
    # The key path is one list, made a tuple only for a reference found (most nodes are not one).
    # (A module function, not a closure: a recursive closure is a reference cycle, and it kept `out`,
    # every reference of the scan and their resources, alive until a full garbage collection.)
    if isinstance(node, dict):
        for k, v in node.items():
            ks = k if type(k) is str else str(k)
            if isinstance(v, str):
                if v and (ks == "existingSecret" or ks.endswith("ExistingSecret") or ks == "existingSecretName"):
                    if "{{" in v and "Release.Name" not in v:
                        continue
                    out.append(SecretRef(_expand(v, res), ns, f"values.{ks}", res, (*path, k), raw=v))
            elif isinstance(v, dict):
                if ks == "existingSecret" and isinstance(v.get("name"), str):
                    out.append(SecretRef(_expand(v["name"], res), ns, f"values.{ks}.name", res, (*path, k, "name"),
                                         raw=v["name"]))
                else:
                    path.append(k)
                    _walk_existing(v, path, res, ns, out)
                    path.pop()
            elif isinstance(v, list):
                path.append(k)
                _walk_existing(v, path, res, ns, out)
                path.pop()
    elif isinstance(node, list):
        for i, v in enumerate(node):
            if isinstance(v, (dict, list)):
                path.append(i)
                _walk_existing(v, path, res, ns, out)
                path.pop()


def _tls_refs(inv, out: list[SecretRef]) -> None:
    for res in inv.of_kind("Ingress"):
        if any(a in res.annotations for a in CERT_MANAGER_ANNOTATIONS):
            continue
        for i, t in enumerate(_l(res.spec.get("tls"))):
            name = _d(t).get("secretName")
            if isinstance(name, str) and name:
                out.append(SecretRef(_expand(name, res), res.namespace, "ingress.tls.secretName", res,
                                     ("spec", "tls", i, "secretName"), raw=name))
    for route in inv.routes:
        if route.source == "manifest" or not route.resource.deployed or route.kind != "Ingress":
            continue
        if any(a in route.annotations for a in CERT_MANAGER_ANNOTATIONS):
            continue
        block = _d(_get(route.resource.body, route.path))
        for i, t in enumerate(_l(block.get("tls"))):
            name = _d(t).get("secretName")
            if isinstance(name, str) and name:
                out.append(SecretRef(_expand(name, route.resource), _hr_namespace(route.resource),
                                     "values.ingress.tls.secretName", route.resource, route.path + ("tls", i, "secretName"),
                                     raw=name))
    for res in inv.of_kind("Gateway"):
        if res.group != "gateway.networking.k8s.io":
            continue
        if any(a in res.annotations for a in CERT_MANAGER_ANNOTATIONS):
            continue
        for i, lst in enumerate(_l(res.spec.get("listeners"))):
            for j, ref in enumerate(_l(_d(_d(lst).get("tls")).get("certificateRefs"))):
                ref = _d(ref)
                if ref.get("name") and (ref.get("kind") or "Secret") == "Secret":
                    out.append(SecretRef(_expand(ref["name"], res), ref.get("namespace") or res.namespace,
                                         "gateway.listeners.tls.certificateRefs", res,
                                         ("spec", "listeners", i, "tls", "certificateRefs", j), raw=str(ref["name"])))


def needed_secrets(inv) -> list[SecretRef]:
    out: list[SecretRef] = []
    _workload_refs(inv, out)
    for res in inv.of_kind("HelmRelease"):
        if res.group != "helm.toolkit.fluxcd.io":
            continue
        for i, vf in enumerate(_l(res.spec.get("valuesFrom"))):
            vf = _d(vf)
            if vf.get("kind") == "Secret" and vf.get("name"):
                out.append(SecretRef(_expand(vf["name"], res), res.namespace, "helmrelease.valuesFrom", res,
                                     ("spec", "valuesFrom", i, "name"), raw=str(vf["name"]),
                                     optional=bool(vf.get("optional"))))
        kc = _d(_d(res.spec.get("kubeConfig")).get("secretRef"))
        if kc.get("name"):
            out.append(SecretRef(_expand(kc["name"], res), res.namespace, "helmrelease.kubeConfig.secretRef", res,
                                 ("spec", "kubeConfig", "secretRef", "name"), raw=str(kc["name"])))
        _existing_secret_refs(res, _hr_namespace(res), out)
    for res in inv.of_kind("Kustomization"):
        if not res.api_version.startswith("kustomize.toolkit.fluxcd.io"):
            continue
        post = _d(res.spec.get("postBuild"))
        for i, sf in enumerate(_l(post.get("substituteFrom"))):
            sf = _d(sf)
            if sf.get("kind") == "Secret" and sf.get("name"):
                out.append(SecretRef(_expand(sf["name"], res), res.namespace, "kustomization.postBuild.substituteFrom",
                                     res, ("spec", "postBuild", "substituteFrom", i, "name"), raw=str(sf["name"]),
                                     optional=bool(sf.get("optional"))))
        dec = _d(_d(res.spec.get("decryption")).get("secretRef"))
        if dec.get("name"):
            out.append(SecretRef(_expand(dec["name"], res), res.namespace, "kustomization.decryption.secretRef", res,
                                 ("spec", "decryption", "secretRef", "name"), raw=str(dec["name"])))
    for res in inv.of_kind(*FLUX_SOURCE_KINDS):
        if "toolkit.fluxcd.io" not in res.group:
            continue
        for key in ("secretRef", "certSecretRef"):
            ref = _d(res.spec.get(key))
            if ref.get("name"):
                out.append(SecretRef(_expand(ref["name"], res), res.namespace, f"{res.kind}.{key}", res,
                                     ("spec", key, "name"), raw=str(ref["name"])))
    for res in inv.of_kind("Provider", "Receiver"):
        if "notification.toolkit.fluxcd.io" not in res.group:
            continue
        ref = _d(res.spec.get("secretRef"))
        if ref.get("name"):
            out.append(SecretRef(_expand(ref["name"], res), res.namespace, f"{res.kind}.secretRef", res,
                                 ("spec", "secretRef", "name"), raw=str(ref["name"])))
    for res in inv.of_kind("SecurityPolicy"):
        oidc = _d(res.spec.get("oidc"))
        cs = _d(oidc.get("clientSecret"))
        if cs.get("name"):
            out.append(SecretRef(_expand(cs["name"], res), cs.get("namespace") or res.namespace,
                                 "securitypolicy.oidc.clientSecret", res, ("spec", "oidc", "clientSecret", "name"),
                                 raw=str(cs["name"])))
        users = _d(_d(res.spec.get("basicAuth")).get("users"))
        if users.get("name"):
            out.append(SecretRef(_expand(users["name"], res), users.get("namespace") or res.namespace,
                                 "securitypolicy.basicAuth.users", res, ("spec", "basicAuth", "users", "name"),
                                 raw=str(users["name"])))
    _tls_refs(inv, out)
    return out


# ---- producers -----------------------------------------------------------------------------------

def _path_values(body, path: str) -> list:
    """Values at a dotted path; `[]` iterates a list: `spec.refs[].secretName`."""
    cur = [body]
    for part in [p for p in path.split(".") if p]:
        many = part.endswith("[]")
        key = part[:-2] if many else part
        nxt = []
        for node in cur:
            v = node.get(key) if isinstance(node, dict) else None
            if v is None:
                continue
            if many:
                nxt.extend(v if isinstance(v, list) else [])
            else:
                nxt.append(v)
        cur = nxt
    return cur


def _configured_producers(res: Resource, specs: list[dict], inv, add) -> None:
    for spec in specs:
        if not isinstance(spec, dict) or spec.get("kind") != res.kind or not spec.get("name_path"):
            continue
        for alt in str(spec["name_path"]).split("|"):
            names = [n for n in _path_values(res.body, alt.strip()) if isinstance(n, str) and n]
            if not names:
                continue
            nss = _path_values(res.body, spec["namespace_path"]) if spec.get("namespace_path") else []
            for i, n in enumerate(names):
                ns = nss[i] if i < len(nss) and isinstance(nss[i], str) and nss[i] else res.namespace
                add(_expand(n, res), substitute(ns, res.variables) if isinstance(ns, str) else ns, res.kind, res,
                    tuple(alt.strip().replace("[]", "").split(".")))
            break


def _namespaces_for_selector(inv, selectors: list) -> set[str]:
    out: set[str] = set()
    ns_objs = inv.of_kind("Namespace")
    for sel in selectors:
        sel = _d(sel)
        labels = _d(sel.get("matchLabels"))
        exprs = _l(sel.get("matchExpressions"))
        if not labels and not exprs:
            out.add("*")
            continue
        if exprs and all(_d(e).get("operator") == "Exists" for e in exprs) and not labels:
            # Exists on a key: every namespace carrying that label; unknown labels -> any namespace.
            keys = [str(_d(e).get("key")) for e in exprs]
            hits = {n.name for n in ns_objs if all(k in n.labels for k in keys)}
            out |= hits or {"*"}
            continue
        for n in ns_objs:
            if all(str(n.labels.get(k)) == str(v) for k, v in labels.items()):
                out.add(n.name)
    return out


def generated_by(res: Resource) -> str | None:
    """The kustomization file that generated this object (a `secretGenerator`/`configMapGenerator` output
    the inventory holds as an object of its own), or None for an object some file declares."""
    doc = res.doc
    if doc.index < 0 and posixpath.basename(doc.path) in KUSTOMIZATION_FILES and res.how in ("kustomize", "native"):
        return doc.path
    return None


def _kustomize_generators(inv, add) -> None:
    """`secretGenerator` entries read from kustomization files, for builds whose output the inventory does
    not hold as objects (a build that ran holds them, under their real, possibly hashed, names)."""
    built = {generated_by(r) for r in inv.of_kind("Secret")} - {None}
    deployed = inv.deployed_files
    by_dir: dict[str, set[str]] = {}
    for r in inv.resources:
        if r.deployed and r.namespace:
            by_dir.setdefault(posixpath.dirname(r.path), set()).add(r.namespace)
    for doc in inv.documents:
        if doc.origin != "git" or posixpath.basename(doc.path) not in ("kustomization.yaml", "kustomization.yml",
                                                                     "Kustomization"):
            continue
        body = doc.body if isinstance(doc.body, dict) else {}
        if body.get("kind") not in (None, "Kustomization", "Component") or "toolkit.fluxcd.io" in str(body.get("apiVersion", "")):
            continue
        gens = _l(body.get("secretGenerator"))
        if not gens or (deployed and doc.path not in deployed) or doc.path in built:
            continue
        d = posixpath.dirname(doc.path)
        nss = {body["namespace"]} if isinstance(body.get("namespace"), str) else set(by_dir.get(d, set()))
        if not nss:
            for ks in inv.of_kind("Kustomization"):
                p = str(ks.spec.get("path") or "").strip("./")
                if p and (d == p or d.endswith("/" + p)):
                    tn = ks.spec.get("targetNamespace")
                    if isinstance(tn, str):
                        nss.add(substitute(tn, ks.variables))
        for i, g in enumerate(gens):
            g = _d(g)
            if not isinstance(g.get("name"), str):
                continue
            line = inv.line_of(doc, ("secretGenerator", i, "name"))
            for ns in (nss or {None}):
                add(g["name"], g.get("namespace") or ns, "kustomize secretGenerator", None, (), file=doc.path, line=line)


def _app_template_producers(res: Resource, inv, add) -> None:
    if not inv.is_app_template(res):
        return
    values = _d(res.spec.get("values"))
    rn = release_name(res)
    ns = _hr_namespace(res)
    for sid, s in _d(values.get("secrets")).items():
        if isinstance(s, dict) and s.get("enabled", True) is not False:
            name = s.get("nameOverride")
            names = [name] if name else [f"{rn}-{sid}", rn]
            for n in names:
                add(_expand(n, res), ns, "app-template secrets", res, ("spec", "values", "secrets", sid))
    for rid, raw in _d(values.get("rawResources")).items():
        raw = _d(raw)
        if raw.get("enabled") is False:
            continue
        manifest = _d(raw.get("manifest")) or raw
        kind = manifest.get("kind")
        spec = _d(manifest.get("spec"))
        md = _d(manifest.get("metadata"))
        obj_name = md.get("name") or raw.get("nameOverride") or f"{rn}-{rid}"
        path = ("spec", "values", "rawResources", rid)
        if kind == "Certificate" and isinstance(spec.get("secretName"), str):
            add(_expand(spec["secretName"], res), ns, "app-template rawResources Certificate", res, path)
        elif kind == "Secret":
            add(_expand(obj_name, res), ns, "app-template rawResources Secret", res, path)
        elif kind == "ExternalSecret":
            tname = _d(spec.get("target")).get("name") or obj_name
            add(_expand(tname, res), ns, "app-template rawResources ExternalSecret", res, path)


def _kyverno_producers(res: Resource, add_pattern) -> None:
    for i, rule in enumerate(_l(res.spec.get("rules"))):
        gen = _d(_d(rule).get("generate"))
        kind = gen.get("kind")
        if kind not in ("Secret", "ExternalSecret"):
            continue
        name = gen.get("name")
        if kind == "ExternalSecret":
            tname = _d(_d(_d(gen.get("data")).get("spec")).get("target")).get("name")
            name = tname or name
        if not isinstance(name, str) or not name:
            continue
        pattern = re.compile(re.sub(r"\\\{\\\{.*?\\\}\\\}", ".+", re.escape(name)))
        ns = gen.get("namespace")
        add_pattern(name, None if not isinstance(ns, str) or "{{" in ns else ns, f"Kyverno generate {kind}", res,
                    ("spec", "rules", i, "generate"), pattern)


def secret_producers(inv, extra_specs: list[dict] | None = None) -> list[Producer]:
    out: list[Producer] = []

    def add(name, ns, kind, res, keypath=(), *, file=None, line=None, namespaces=None):
        if not isinstance(name, str) or not name:
            return
        file = file or (res.path if res is not None else "")
        ln = line if line is not None else (inv.line_of(res, keypath) if res is not None else None)
        out.append(Producer(name=name, namespace=ns, kind=kind, res=res, path=file, line=ln, namespaces=namespaces))

    def add_pattern(name, ns, kind, res, path, pattern):
        out.append(Producer(name=name, namespace=ns, kind=kind, res=res, path=res.path, line=inv.line_of(res, path),
                            pattern=pattern))

    specs = list(DEFAULT_PRODUCERS) + [s for s in (extra_specs or []) if isinstance(s, dict)]
    operator_kinds = {k for k, _, _ in OPERATOR_SECRETS}
    for res in inv.deployed():
        kind = res.kind
        if kind == "ExternalSecret" and "external-secrets.io" in res.group:
            name = _d(res.spec.get("target")).get("name") or res.name
            add(_expand(name, res), res.namespace, "ExternalSecret", res,
                ("spec", "target", "name") if _d(res.spec.get("target")).get("name") else ("metadata", "name"))
        elif kind == "ClusterExternalSecret" and "external-secrets.io" in res.group:
            es_spec = _d(res.spec.get("externalSecretSpec"))
            name = _d(es_spec.get("target")).get("name") or res.spec.get("externalSecretName") or res.name
            nss = {str(n) for n in _l(res.spec.get("namespaces"))}
            sels = _l(res.spec.get("namespaceSelectors"))
            if isinstance(res.spec.get("namespaceSelector"), dict):
                sels = sels + [res.spec["namespaceSelector"]]
            nss |= _namespaces_for_selector(inv, sels)
            add(_expand(name, res), None, "ClusterExternalSecret", res, ("spec", "externalSecretSpec"),
                namespaces=frozenset(nss))
        elif kind == "Secret" and res.api_version == "v1":
            refl = reflected_namespaces(res.annotations)
            label = "Secret (SOPS)" if isinstance(res.body.get("sops"), dict) else "Secret"
            if generated_by(res):
                label = "kustomize secretGenerator"
            elif res.how in ("helm", "values") and res.producer:
                label = f"Secret rendered from {res.producer}"
            add(res.name, res.namespace, label, res, ("metadata", "name"),
                namespaces=frozenset(refl | {res.namespace}) if refl else None)
        elif kind == "Certificate" and res.group == "cert-manager.io":
            sn = res.spec.get("secretName")
            if isinstance(sn, str):
                refl = reflected_namespaces(_d(_d(res.spec.get("secretTemplate")).get("annotations")))
                add(_expand(sn, res), res.namespace, "Certificate", res, ("spec", "secretName"),
                    namespaces=frozenset(refl | {res.namespace}) if refl else None)
        elif kind == "HelmRelease" and res.group == "helm.toolkit.fluxcd.io":
            _app_template_producers(res, inv, add)
        elif kind in ("ClusterPolicy", "Policy") and res.group == "kyverno.io":
            _kyverno_producers(res, add_pattern)
        elif kind in operator_kinds and (reader := _operator_reader(kind, res.group)) is not None:
            for name, keypath in reader(res):
                add(_expand(name, res), res.namespace, OPERATOR_LABELS.get(kind, f"{kind} operator"), res, keypath)
        else:
            _configured_producers(res, specs, inv, add)
    _kustomize_generators(inv, add)
    return out


def _operator_reader(kind: str, group: str):
    for k, g, reader in OPERATOR_SECRETS:
        if k == kind and group == g:
            return reader
    return None


def external_producer(inv, ref: SecretRef) -> str | None:
    """Why an uncovered name is probably made outside Git (operator, chart, bootstrap), or None."""
    if ref.unresolved:
        return f"name {ref.name!r} holds an unexpanded substitution; its producer cannot be resolved from Git"
    name = ref.name
    if ref.form == "kustomization.decryption.secretRef":
        return "the SOPS decryption key Secret is created at bootstrap (never committed)"
    if name.startswith(OPERATOR_NAME_PREFIXES):
        return f"name {name!r} follows an operator's naming ({name.split('-')[0]}-...)"
    for kind, group, suffixes in OPERATOR_PATTERNS:
        for res in inv.of_kind(kind):
            if not res.group.startswith(group.split(".")[0]) and res.group != group:
                continue
            if ref.namespace and res.namespace and res.namespace != ref.namespace:
                continue
            for suf in suffixes:
                if suf and name.startswith(res.name + suf):
                    return f"made by the {kind} operator for {res.kind} {res.name}"
                if not suf and name.startswith(res.name):
                    return f"made by the {kind} operator for {res.kind} {res.name}"
    # A chart in the same namespace whose release name prefixes the Secret: chart-created.
    if ref.form.startswith("values.") or ref.form == "helmrelease.valuesFrom":
        return None
    for hr in inv.of_kind("HelmRelease"):
        if _hr_namespace(hr) != ref.namespace or hr is ref.res:
            continue
        rn = release_name(hr)
        if name.startswith(rn + "-") and not inv.is_app_template(hr):
            return f"probably created by the {rn} chart (HelmRelease {hr.namespace}/{hr.name})"
    return None
