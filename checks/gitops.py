"""GitOps integrity layer: the Flux graph resolves and is acyclic, nothing is frozen or left behind,
sources are fetched over authenticated transports, releases remediate, and dependencies are updated."""
from __future__ import annotations

import posixpath

from scanner.core.model import Location
from scanner.checkapi.registry import check
from scanner.checkapi.results import failed, passed, warned

FLUX_KINDS = ("Kustomization", "HelmRelease")
SOURCE_KINDS = ("GitRepository", "OCIRepository", "HelmRepository", "Bucket")


def flux_objects(inv):
    return [r for r in inv.of_kind(*FLUX_KINDS)
            if r.api_version.startswith(("kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io"))]


def flux_sources(inv):
    return [r for r in inv.of_kind(*SOURCE_KINDS) if r.api_version.startswith("source.toolkit.fluxcd.io")]


def _dep_target(r, dep) -> tuple[str, str, str] | None:
    if not isinstance(dep, dict) or not dep.get("name"):
        return None
    return (r.kind, str(dep.get("namespace") or r.namespace), str(dep["name"]))


@check(
    id="gitops.dependson-resolves",
    title="Every Flux dependsOn points at an object that exists",
    severity="medium",
    rationale="""
        Flux waits forever for a dependency that does not exist: the dependent Kustomization or HelmRelease
        never reconciles, so a security fix merged to Git silently never reaches the cluster.""",
    remediation="""
        Fix the `dependsOn` name/namespace, or remove the entry when the dependency was retired.""",
    references=["https://fluxcd.io/flux/components/kustomize/kustomizations/#dependencies",
                "https://fluxcd.io/flux/components/helm/helmreleases/#dependencies"],
)
def dependson_resolves(inv, options):
    objs = flux_objects(inv)
    index = {(r.kind, r.namespace, r.name) for r in objs}
    for r in objs:
        for i, dep in enumerate(r.spec.get("dependsOn") or []):
            target = _dep_target(r, dep)
            if target is None:
                continue
            _, ns, name = target
            subject = f"{r.kind} {r.namespace}/{r.name} dependsOn {ns}/{name}"
            if target in index:
                yield passed(inv, subject, f"dependency {ns}/{name} exists", r, ("spec", "dependsOn", i))
            else:
                yield failed(inv, subject, f"{r.kind} {r.namespace}/{r.name} depends on {r.kind} {ns}/{name}, "
                             "which no deployed Flux object defines", r, ("spec", "dependsOn", i))


def find_cycles(graph: dict) -> list[list]:
    """Strongly connected components with a cycle (Tarjan), each as a node path that closes on itself."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(_cycle_path(graph, set(comp)))

    import sys
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10000))
    try:
        for v in sorted(graph):
            if v not in index:
                strong(v)
    finally:
        sys.setrecursionlimit(old)
    return out


def _cycle_path(graph, comp: set) -> list:
    start = min(comp)
    path, seen, cur = [start], {start}, start
    while True:
        nxt = sorted(w for w in graph.get(cur, ()) if w in comp)
        back = [w for w in nxt if w == start]
        if back and len(path) > 1 or (back and len(comp) == 1):
            return path + [start]
        fresh = [w for w in nxt if w not in seen]
        if not fresh:
            return path + [start]
        cur = fresh[0]
        seen.add(cur)
        path.append(cur)


@check(
    id="gitops.dependson-acyclic",
    title="Flux dependencies form no cycle",
    severity="medium",
    rationale="""
        Objects in a `dependsOn` cycle each wait for the other to become ready: none of them reconciles
        again, and every change (including security fixes) to them or to what depends on them stalls.""",
    remediation="""
        Break the cycle: remove the `dependsOn` entry that points back, or split the shared prerequisite into
        its own Kustomization both can depend on.""",
    references=["https://fluxcd.io/flux/components/kustomize/kustomizations/#dependencies"],
)
def dependson_acyclic(inv, options):
    objs = flux_objects(inv)
    by_key = {(r.kind, r.namespace, r.name): r for r in objs}
    graph: dict = {}
    edges = 0
    for r in objs:
        deps = [t for t in (_dep_target(r, d) for d in r.spec.get("dependsOn") or []) if t in by_key]
        graph[(r.kind, r.namespace, r.name)] = deps
        edges += len(deps)
    if not edges:
        return
    cycles = find_cycles(graph)
    for cyc in cycles:
        names = " -> ".join(f"{k[0]} {k[1]}/{k[2]}" for k in cyc)
        first = by_key[cyc[0]]
        yield failed(inv, f"dependsOn cycle {' -> '.join(f'{k[1]}/{k[2]}' for k in cyc)}",
                     f"dependsOn cycle: {names}", first, ("spec", "dependsOn"),
                     evidence={"cycle": [f"{k[0]}/{k[1]}/{k[2]}" for k in cyc]})
    if not cycles:
        anchor = next(r for r in objs if graph.get((r.kind, r.namespace, r.name)))
        yield passed(inv, "Flux dependsOn graph", f"{edges} dependsOn edges between {len(graph)} objects, no cycle",
                     anchor, ("spec", "dependsOn"))


@check(
    id="gitops.not-suspended",
    title="No Kustomization or HelmRelease is suspended",
    severity="low",
    rationale="""
        A suspended object stops reconciling: drift (including manual changes an intruder makes) is no
        longer reverted and fixes merged to Git never apply. Suspension is for short maintenance windows.""",
    remediation="""
        Remove `spec.suspend: true` (or `flux resume`) once the maintenance is over; delete objects that are
        kept suspended for good.""",
    references=["https://fluxcd.io/flux/components/kustomize/kustomizations/#suspend"],
)
def not_suspended(inv, options):
    for r in flux_objects(inv):
        subject = f"{r.kind} {r.namespace}/{r.name}"
        if r.spec.get("suspend") is True:
            yield failed(inv, subject, f"{subject} is suspended: drift is not reverted", r, ("spec", "suspend"))
        else:
            yield passed(inv, subject, "reconciling (not suspended)", r, ("spec",))


@check(
    id="gitops.prune-enabled",
    title="Flux Kustomizations prune what Git no longer declares",
    severity="low",
    rationale="""
        Without `prune: true`, objects removed from Git stay in the cluster: a deleted RoleBinding, an old
        exposed Service or a retired workload keeps running unseen by the repository.""",
    remediation="""
        Set `spec.prune: true` on every Flux Kustomization (mark objects that must survive with
        `kustomize.toolkit.fluxcd.io/prune: disabled`).""",
    references=["https://fluxcd.io/flux/components/kustomize/kustomizations/#prune"],
)
def prune_enabled(inv, options):
    for r in flux_objects(inv):
        if r.kind != "Kustomization":
            continue
        subject = f"Kustomization {r.namespace}/{r.name}"
        if r.spec.get("prune") is True:
            yield passed(inv, subject, "prune: true", r, ("spec", "prune"))
        else:
            yield failed(inv, subject, f"prune is {'false' if r.spec.get('prune') is False else 'not set (false)'}: "
                         "objects deleted from Git linger in the cluster", r, ("spec", "prune") if "prune" in r.spec else ("spec",))


def _entry_sources(inv):
    """The sync source of the Flux entry point (FluxInstance / flux-instance values), as (doc, body path, sync)."""
    out = []
    for r in inv.of_kind("FluxInstance"):
        sync = r.spec.get("sync")
        if isinstance(sync, dict) and sync.get("url"):
            out.append((r, ("spec", "sync"), sync))
    for r in inv.of_kind("HelmRelease"):
        sync = ((r.spec.get("values") or {}).get("instance") or {}).get("sync") if isinstance(r.spec.get("values"), dict) else None
        if isinstance(sync, dict) and sync.get("url"):
            out.append((r, ("spec", "values", "instance", "sync"), sync))
    if inv.entry and inv.entry.found and inv.entry.kind == "flux-instance values":
        for d in inv.documents:
            if d.path == inv.entry.path and isinstance(d.body, dict):
                sync = (d.body.get("instance") or {}).get("sync")
                if isinstance(sync, dict) and sync.get("url"):
                    out.append((d, ("instance", "sync"), sync))
    return out


def _loc(inv, obj, path):
    from scanner.core.model import Resource

    if isinstance(obj, Resource):
        return inv.location(obj, path)
    return Location(obj.path, inv.line_of(obj, path))


@check(
    id="gitops.source-transport",
    title="Flux sources are fetched over TLS (HTTPS, SSH or OCI)",
    severity="medium",
    rationale="""
        Flux applies whatever its sources serve. A `http://` or `git://` URL, or `insecure: true`, lets anyone
        on the path between the cluster and the server replace manifests or charts and run code in the
        cluster with Flux's cluster-admin rights.""",
    remediation="""
        Use `https://`, `ssh://` or `oci://` URLs and drop `insecure: true`.""",
    references=["https://fluxcd.io/flux/components/source/gitrepositories/",
                "https://fluxcd.io/flux/components/source/ocirepositories/#insecure"],
)
def source_transport(inv, options):
    items = [(r, ("spec", "url"), r.spec, f"{r.kind} {r.namespace}/{r.name}") for r in flux_sources(inv)]
    for obj, path, sync in _entry_sources(inv):
        name = f"{obj.kind} {obj.namespace}/{obj.name}" if hasattr(obj, "namespace") else f"Flux entry point {obj.path}"
        items.append((obj, path + ("url",), sync, f"{name} sync source"))
    for obj, path, spec, subject in items:
        url = str(spec.get("url") or "")
        if not url:
            continue
        loc = _loc(inv, obj, path)
        res = obj.ref() if hasattr(obj, "ref") else None
        scheme = url.split("://", 1)[0].lower() if "://" in url else ("ssh" if url.startswith("git@") else "")
        if scheme in ("http", "git"):
            yield failed(inv, subject, f"source URL {url} is fetched without TLS", location=loc, resource=res,
                         namespace=getattr(obj, "namespace", None))
        elif spec.get("insecure") is True:
            yield failed(inv, subject, f"insecure: true: {url} is fetched over plain HTTP", location=loc, resource=res,
                         namespace=getattr(obj, "namespace", None))
        else:
            yield passed(inv, subject, f"fetched over {scheme or 'TLS'}", location=loc, resource=res,
                         namespace=getattr(obj, "namespace", None))


@check(
    id="gitops.oci-verify",
    title="OCI sources verify artifact signatures",
    severity="medium",
    rationale="""
        An OCIRepository without `verify` applies whatever the registry serves under the tag: a compromised
        registry account or a re-pushed tag runs attacker code. cosign/notation verification ties the
        artifact to the publisher's key or keyless identity.""",
    remediation="""
        Add `spec.verify: {provider: cosign}` (with `matchOIDCIdentity` for keyless signatures, or a
        `secretRef` with the public key) or `provider: notation`; pin by digest where the publisher does
        not sign.""",
    references=["https://fluxcd.io/flux/components/source/ocirepositories/#verification",
                "https://fluxcd.io/flux/security/#signature-verification"],
)
def oci_verify(inv, options):
    for r in inv.of_kind("OCIRepository"):
        if not r.api_version.startswith("source.toolkit.fluxcd.io"):
            continue
        subject = f"OCIRepository {r.namespace}/{r.name}"
        verify = r.spec.get("verify") if isinstance(r.spec.get("verify"), dict) else {}
        ref = r.spec.get("ref") if isinstance(r.spec.get("ref"), dict) else {}
        provider = str(verify.get("provider") or "")
        if provider in ("cosign", "notation"):
            yield passed(inv, subject, f"signatures verified with {provider}", r, ("spec", "verify"))
        elif ref.get("digest"):
            yield warned(inv, subject, f"no signature verification, but pinned by digest ({str(ref['digest'])[:19]}...)",
                         r, ("spec", "ref", "digest"))
        else:
            yield failed(inv, subject, f"{r.spec.get('url')} is applied without signature verification (no spec.verify)",
                         r, ("spec",))


@check(
    id="gitops.git-source-auth",
    title="Git sources track a branch or tag and authenticate private repositories",
    severity="medium",
    rationale="""
        A GitRepository without a `ref` follows the default branch Flux assumes (`master`); a private
        repository needs SSH or token credentials from a Secret, never in the URL. Public repositories over
        HTTPS need no credentials: Flux only reads.""",
    remediation="""
        Set `spec.ref.branch` (or `tag`/`semver`/`commit`), use `ssh://` or `https://` with `secretRef`, and
        never put a token in the URL; consider `spec.verify` for signed commits.""",
    references=["https://fluxcd.io/flux/components/source/gitrepositories/#reference",
                "https://fluxcd.io/flux/components/source/gitrepositories/#secret-reference"],
)
def git_source_auth(inv, options):
    items = [(r, ("spec",), r.spec, f"GitRepository {r.namespace}/{r.name}") for r in inv.of_kind("GitRepository")
             if r.api_version.startswith("source.toolkit.fluxcd.io")]
    for obj, path, sync in _entry_sources(inv):
        if str(sync.get("kind") or "GitRepository") == "GitRepository":
            name = f"{obj.kind} {obj.namespace}/{obj.name}" if hasattr(obj, "namespace") else f"Flux entry point {obj.path}"
            items.append((obj, path, sync, f"{name} sync source"))
    for obj, path, spec, subject in items:
        url = str(spec.get("url") or "")
        ref = spec.get("ref")
        pinned = (isinstance(ref, dict) and any(ref.get(k) for k in ("branch", "tag", "semver", "commit", "name"))) or \
                 (isinstance(ref, str) and ref.startswith("refs/"))
        secret = spec.get("secretRef") or spec.get("pullSecret")
        res = obj.ref() if hasattr(obj, "ref") else None
        loc = _loc(inv, obj, path)
        ns = getattr(obj, "namespace", None)
        if "@" in url.split("://", 1)[-1].split("/", 1)[0] and ":" in url.split("://", 1)[-1].split("@", 1)[0] \
                and url.startswith("http"):
            yield failed(inv, subject, "credentials embedded in the source URL", location=loc, resource=res, namespace=ns)
        elif not pinned:
            yield warned(inv, subject, f"{url} has no ref: Flux follows its default branch (master)", location=loc,
                         resource=res, namespace=ns)
        elif (url.startswith("ssh://") or url.startswith("git@")) and not secret:
            yield failed(inv, subject, f"{url} uses SSH without a secretRef", location=loc, resource=res, namespace=ns)
        else:
            how = "SSH key from a Secret" if url.startswith(("ssh://", "git@")) else (
                "token from a Secret" if secret else "public repository over HTTPS")
            yield passed(inv, subject, f"pinned to {ref if isinstance(ref, str) else ', '.join(f'{k}={v}' for k, v in ref.items())}; {how}",
                         location=loc, resource=res, namespace=ns)


@check(
    id="gitops.helm-remediation",
    title="HelmReleases remediate failed installs/upgrades and bound their history",
    severity="low",
    rationale="""
        Without remediation a failed upgrade leaves a release half-applied (a security fix may be partly
        rolled out and nobody told); `maxHistory: 0` keeps every release Secret forever, each one a copy of
        the rendered values (often with credentials).""",
    remediation="""
        Set `spec.install.remediation.retries` and `spec.upgrade.remediation.retries` (with
        `remediateLastFailure`/`strategy: rollback`), and keep `maxHistory` bounded (default 5); set them once
        for every release with a Flux Kustomization `patches` entry.""",
    references=["https://fluxcd.io/flux/components/helm/helmreleases/#install-configuration",
                "https://fluxcd.io/flux/components/helm/helmreleases/#max-history"],
)
def helm_remediation(inv, options):
    for r in flux_objects(inv):
        if r.kind != "HelmRelease":
            continue
        subject = f"HelmRelease {r.namespace}/{r.name}"
        spec = r.spec
        install = ((spec.get("install") or {}).get("remediation") or {}) if isinstance(spec.get("install"), dict) else {}
        upgrade = ((spec.get("upgrade") or {}).get("remediation") or {}) if isinstance(spec.get("upgrade"), dict) else {}
        has_i = isinstance(install, dict) and (install.get("retries") not in (None, 0) or install.get("remediateLastFailure"))
        has_u = isinstance(upgrade, dict) and (upgrade.get("retries") not in (None, 0) or upgrade.get("remediateLastFailure")
                                               or upgrade.get("strategy"))
        if spec.get("maxHistory") == 0:
            yield failed(inv, subject, "maxHistory: 0 keeps every release revision (rendered values) forever", r,
                         ("spec", "maxHistory"))
        elif has_i and has_u:
            yield passed(inv, subject, "install and upgrade remediation configured", r, ("spec", "upgrade"))
        elif has_i or has_u:
            yield warned(inv, subject, f"only {'install' if has_i else 'upgrade'} remediation configured", r,
                         ("spec", "install" if has_i else "upgrade"))
        else:
            yield failed(inv, subject, "no install/upgrade remediation: a failed upgrade stays half-applied", r, ("spec",))


UPDATER_FILES = ("renovate.json", "renovate.json5", ".renovaterc", ".renovaterc.json", ".renovaterc.json5",
                 ".github/renovate.json", ".github/renovate.json5", ".gitlab/renovate.json", ".gitlab/renovate.json5",
                 ".github/dependabot.yml", ".github/dependabot.yaml")


@check(
    id="gitops.dependency-updates",
    title="An updater (Renovate, Dependabot, Flux image automation) keeps versions current",
    severity="medium",
    rationale="""
        Images, charts and Talos/Kubernetes versions pinned in Git only get security fixes when someone
        bumps them. Renovate or Dependabot opens those pull requests; without one the cluster ages silently.""",
    remediation="""
        Add a Renovate config (`.renovaterc.json5` or `.github/renovate.json5` with the flux, helm-values and
        regex managers) or `.github/dependabot.yml`, or Flux image automation.""",
    references=["https://docs.renovatebot.com/modules/manager/flux/",
                "https://fluxcd.io/flux/guides/image-update/"],
)
def dependency_updates(inv, options):
    files = set(inv.files)
    found = [f for f in UPDATER_FILES if f in files]
    res = {"apiVersion": "v1", "kind": "Repository", "namespace": None, "name": "repository", "origin": "repository"}
    if found:
        yield passed(inv, "repository", f"dependency updates configured: {', '.join(found)}",
                     location=Location(found[0], 1), resource=res, evidence={"files": found})
        return
    auto = inv.of_kind("ImageUpdateAutomation")
    if auto:
        yield passed(inv, "repository", f"Flux image automation {auto[0].namespace}/{auto[0].name}", auto[0])
        return
    yield failed(inv, "repository", "no Renovate, Dependabot or Flux image automation configuration found",
                 location=Location(".", None), resource=res)
