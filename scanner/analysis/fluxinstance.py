"""Flux as the repository installs it: FluxInstance specs, the sync source they create, and the
flags the controllers run with.

A FluxInstance spec is written in one of three places: a `FluxInstance` object, the `instance:` values
of a flux-instance HelmRelease, or a values file a configMapGenerator feeds to that release (or to a
ResourceSet that wraps it). `instance_specs` finds all three, each with the document and key path its
lines come from, so a finding points at the line that sets the field.

The operator generates the sync source (a GitRepository, OCIRepository or Bucket named after the
instance's namespace, or `sync.name`): `sync_sources` returns it as the repo declares it, since no
document in the repo defines that object.

Controller flags (`--no-cross-namespace-refs`, `--default-service-account`) come from FluxInstance
`cluster.multitenant: true` (the operator sets both), from kustomize patches of the controllers
(FluxInstance `kustomize.patches`, a bootstrap `flux-system/kustomization.yaml`), or from the
controller Deployments themselves (a bootstrap `gotk-components.yaml`).
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from scanner.core.memo import memo
from scanner.core.model import Document, Location, Resource

FLUX_NAMESPACE = "flux-system"
INSTANCE_KEYS = ("distribution", "sync", "cluster", "components")
KUSTOMIZE_GROUP = "kustomize.config.k8s.io"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CONTROLLERS = ("source-controller", "kustomize-controller", "helm-controller", "notification-controller",
               "image-reflector-controller", "image-automation-controller", "source-watcher")
# The flags that lock a shared cluster down, as the controllers spell them.
FLAG = re.compile(r"--(no-cross-namespace-refs|default-service-account|no-remote-bases)(?:=([^\s\"',\]]*))?")


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


@dataclass(eq=False)
class InstanceSpec:
    """One FluxInstance spec and where it is written."""

    spec: dict  # the FluxInstance spec (FluxInstance.spec, or the `instance` values)
    doc: Document  # the document holding it (line lookups)
    base: tuple  # key path of the spec inside doc.body
    subject: str  # "FluxInstance flux-system/flux", "HelmRelease flux-system/flux-instance", ...
    namespace: str  # where the instance, and the sync objects it generates, live
    resource: dict  # identity for findings
    res: Resource | None = None  # the FluxInstance or HelmRelease, when there is one

    def get(self, *keys):
        node = self.spec
        for k in keys:
            if not isinstance(node, dict):
                return None
            node = node.get(k)
        return node

    def path(self, *keys) -> tuple:
        return self.base + keys

    def location(self, inv, *keys) -> Location:
        return Location(self.doc.path, inv.line_of(self.doc, self.base + keys))


@dataclass(eq=False)
class SyncSource:
    """The source a FluxInstance sync generates (no document in the repo defines it)."""

    kind: str
    namespace: str
    name: str
    url: str
    ref: str  # refs/heads/main, a tag, ...
    secret: str | None
    provider: str | None
    instance: InstanceSpec

    @property
    def branch(self) -> str | None:
        if self.ref.startswith("refs/heads/"):
            return self.ref[len("refs/heads/"):]
        return None if self.ref.startswith("refs/") else (self.ref or None)


def _file_ref(path: str) -> dict:
    return {"apiVersion": None, "kind": "File", "namespace": None, "name": path, "origin": "file"}


def is_instance_values(body) -> bool:
    inst = body.get("instance") if isinstance(body, dict) else None
    return isinstance(inst, dict) and any(k in inst for k in INSTANCE_KEYS)


def generator_files(inv, directory: str, generator: str, kinds=("configMapGenerator",)) -> list[str]:
    """Files (repo paths) a kustomize generator named `generator` reads, from the kustomization in
    `directory` or its parent. Paths that leave the repository are dropped."""
    out = []
    for base in (directory, posixpath.dirname(directory)):
        for kname in KUSTOMIZATION_FILES:
            for kdoc in inv.docs_at(posixpath.join(base, kname) if base else kname):
                for kind in kinds:
                    for gen in _l(_d(kdoc.body).get(kind)):
                        if not isinstance(gen, dict) or gen.get("name") != generator:
                            continue
                        for f in _l(gen.get("files")) + _l(gen.get("envs")):
                            if isinstance(f, str):
                                p = resolve(base, f.rpartition("=")[2])
                                if p:
                                    out.append(p)
    return out


def resolve(base: str, rel: str) -> str | None:
    """`rel` (as a kustomization writes it) as a repo path, or None when it leaves the repo or is remote."""
    if not rel or "://" in rel or rel.startswith("/"):
        return None
    p = posixpath.normpath(posixpath.join(base, rel)) if base else posixpath.normpath(rel)
    return None if p == ".." or p.startswith("../") else p


def _namespace_of_release(hr: Resource) -> str:
    return str(hr.spec.get("targetNamespace") or hr.namespace or FLUX_NAMESPACE)


def _build_instances(inv) -> list[InstanceSpec]:
    out: list[InstanceSpec] = []
    used_files: set[str] = set()
    for hr in inv.of_kind("HelmRelease"):
        if not hr.api_version.startswith("helm.toolkit.fluxcd.io"):
            continue
        values = _d(hr.spec.get("values"))
        ns = _namespace_of_release(hr)
        subject = f"HelmRelease {hr.namespace}/{hr.name}"
        from_files = []
        for ref in _l(hr.spec.get("valuesFrom")):
            if isinstance(ref, dict) and ref.get("kind") == "ConfigMap" and ref.get("name"):
                for path in generator_files(inv, posixpath.dirname(hr.path), str(ref["name"])):
                    from_files.extend(d for d in inv.docs_at(path) if is_instance_values(d.body))
        for vdoc in from_files:
            used_files.add(vdoc.path)
            out.append(InstanceSpec(vdoc.body["instance"], vdoc, ("instance",), subject, ns, hr.ref(), hr))
        if is_instance_values(values):
            out.append(InstanceSpec(values["instance"], hr.doc, ("spec", "values", "instance"), subject, ns,
                                    hr.ref(), hr))
    # A FluxInstance is usually applied by hand (or by a bootstrap tool) rather than by the sync it
    # defines: one outside archive/example folders counts even when no Flux build deploys it. One a
    # flux-instance release renders (`producer`) is that release's values, read above with their lines.
    releases = {f"HelmRelease/{s.res.namespace}/{s.res.name}" for s in out if s.res is not None}
    for r in inv.of_kind("FluxInstance", deployed_only=False):
        if not r.spec or not r.api_version.startswith("fluxcd.controlplane.io") or getattr(r, "producer", None) in releases:
            continue
        if r.deployed or not inv.is_archived(r.path):
            out.insert(0, InstanceSpec(r.spec, r.doc, ("spec",), f"FluxInstance {r.namespace or FLUX_NAMESPACE}/{r.name}",
                                       r.namespace or FLUX_NAMESPACE, r.ref(), r))
    # Values files whose release is out of sight (wrapped in a ResourceSet template, say).
    deployed = getattr(inv, "deployed_files", set())
    for d in inv.documents:
        if d.origin == "git" and not d.is_manifest and d.path not in used_files and d.path in deployed \
                and is_instance_values(d.body):
            out.append(InstanceSpec(d.body["instance"], d, ("instance",), f"flux-instance values {d.path}",
                                    FLUX_NAMESPACE, _file_ref(d.path)))
    return out


def instance_specs(inv) -> list[InstanceSpec]:
    """Every FluxInstance spec the deployed repository declares."""
    return memo(inv, "fluxinstance.instances", lambda: _build_instances(inv))


def sync_sources(inv) -> list[SyncSource]:
    """The sources FluxInstance syncs generate, as the repo declares them."""
    out = []
    for inst in instance_specs(inv):
        sync = _d(inst.get("sync"))
        if not sync.get("url"):
            continue
        out.append(SyncSource(kind=str(sync.get("kind") or "GitRepository"), namespace=inst.namespace,
                              name=str(sync.get("name") or inst.namespace), url=str(sync["url"]),
                              ref=str(sync.get("ref") or ""), secret=str(sync["pullSecret"]) if sync.get("pullSecret") else None,
                              provider=str(sync["provider"]) if sync.get("provider") else None, instance=inst))
    return out


# ---- controller flags -----------------------------------------------------------------------------

@dataclass
class FlagSetting:
    """One place that sets a controller flag."""

    flag: str  # no-cross-namespace-refs, default-service-account
    value: str  # "true", "false", a service account name
    where: Location
    how: str  # what sets it ("FluxInstance cluster.multitenant: true", "kustomize patch", ...)
    controllers: tuple = ()  # the controllers it applies to (empty: all of them)


@dataclass
class ControllerFlags:
    settings: list[FlagSetting] = field(default_factory=list)

    def effective(self, flag: str) -> FlagSetting | None:
        """The setting in force for `flag` (the last one found; a `false` switches it off)."""
        hits = [s for s in self.settings if s.flag == flag]
        return hits[-1] if hits else None

    def enabled(self, flag: str) -> FlagSetting | None:
        s = self.effective(flag)
        if s is None or s.value.lower() == "false" or (flag == "default-service-account" and not s.value):
            return None
        return s


def _flags_in_text(text: str) -> list[tuple[str, str, int]]:
    """(flag, value, line offset) of each lockdown flag in a text (patch, args list)."""
    out = []
    for m in FLAG.finditer(text):
        value = m.group(2)
        if value is None:
            value = "true" if m.group(1) != "default-service-account" else ""
        out.append((m.group(1), value, text.count("\n", 0, m.start())))
    return out


def _targets(patch: dict) -> tuple:
    target = _d(patch.get("target"))
    name = str(target.get("name") or "")
    if not name:
        return ()
    return tuple(c for c in CONTROLLERS if re.fullmatch(name, c) or name == c) if _valid_regex(name) else (name,)


def _valid_regex(s: str) -> bool:
    try:
        re.compile(s)
    except re.error:
        return False
    return True


def _patch_settings(inv, doc: Document, patches_path: tuple, patches: list, how: str) -> list[FlagSetting]:
    out = []
    for i, p in enumerate(patches):
        if isinstance(p, str):
            text, line_path, controllers = p, patches_path + (i,), ()
        elif isinstance(p, dict) and isinstance(p.get("patch"), str):
            text, line_path, controllers = p["patch"], patches_path + (i, "patch"), _targets(p)
        else:
            continue
        base = inv.line_of(doc, line_path)
        for flag, value, offset in _flags_in_text(text):
            line = base + offset + (1 if base is not None and "\n" in text else 0) if base is not None else None
            out.append(FlagSetting(flag, value, Location(doc.path, line), how, controllers))
    return out


def _build_flags(inv) -> ControllerFlags:
    flags = ControllerFlags()
    for inst in instance_specs(inv):
        cluster = _d(inst.get("cluster"))
        if cluster.get("multitenant") is True:
            where = inst.location(inv, "cluster", "multitenant")
            sa = str(cluster.get("tenantDefaultServiceAccount") or "default")
            flags.settings.append(FlagSetting("no-cross-namespace-refs", "true", where,
                                              f"{inst.subject}: cluster.multitenant: true"))
            flags.settings.append(FlagSetting("default-service-account", sa, where,
                                              f"{inst.subject}: cluster.multitenant: true"))
        patches = _l(_d(inst.get("kustomize")).get("patches"))
        flags.settings.extend(_patch_settings(inv, inst.doc, inst.path("kustomize", "patches"), patches,
                                              f"{inst.subject}: kustomize.patches"))
    deployed = getattr(inv, "deployed_files", None)
    for d in inv.documents:
        if d.kind != "Kustomization" or not d.api_version.startswith(KUSTOMIZE_GROUP) or d.origin != "git":
            continue
        if deployed is not None and d.path not in deployed:
            continue
        body = _d(d.body)
        for key in ("patches", "patchesJson6902", "patchesStrategicMerge"):
            flags.settings.extend(_patch_settings(inv, d, (key,), _l(body.get(key)), f"kustomize {key} in {d.path}"))
    for r in inv.of_kind("Deployment"):
        if r.name not in CONTROLLERS:
            continue
        containers = _l(_d(_d(_d(r.spec.get("template")).get("spec"))).get("containers"))
        for ci, c in enumerate(containers):
            for ai, arg in enumerate(_l(_d(c).get("args"))):
                for flag, value, _ in _flags_in_text(str(arg)):
                    where = Location(r.path, inv.line_of(r, ("spec", "template", "spec", "containers", ci, "args", ai)))
                    flags.settings.append(FlagSetting(flag, value, where, f"Deployment {r.namespace}/{r.name} args",
                                                      (r.name,)))
    return flags


def controller_flags(inv) -> ControllerFlags:
    return memo(inv, "fluxinstance.flags", lambda: _build_flags(inv))


def flux_namespace(inv) -> str:
    """The namespace the Flux controllers run in."""
    insts = instance_specs(inv)
    return insts[0].namespace if insts else FLUX_NAMESPACE
