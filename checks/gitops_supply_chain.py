"""GitOps supply chain: how Flux authenticates to its sources and how firmly it pins what it fetches.

The Flux project's security audit checklist (fluxcd/agent-skills, gitops-repo-audit) items on source
authentication, OCI and chart supply chain, and the Flux distribution registry. Each check judges
the sources the deployed repository declares, plus the sync source a FluxInstance generates.
"""
from __future__ import annotations

import re

from scanner.analysis import fluxinstance, versions
from scanner.checkapi.registry import check
from scanner.checkapi.results import failed, location, passed, warned
from scanner.core.model import Resource

SOURCE_GROUP = "source.toolkit.fluxcd.io"
IMAGE_GROUP = "image.toolkit.fluxcd.io"
FLUX_CHECKLIST = "https://github.com/fluxcd/agent-skills/blob/main/skills/gitops-repo-audit/references/security-audit.md"

# Registries whose credentials the cloud's workload identity can issue (Flux `spec.provider`).
CLOUD_REGISTRIES = (
    ("aws", "Amazon ECR", re.compile(r"^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")),
    ("gcp", "Google Artifact Registry / GCR", re.compile(r"^([a-z0-9-]+\.)?gcr\.io$|^[a-z0-9-]+-docker\.pkg\.dev$")),
    ("azure", "Azure Container Registry", re.compile(r"^[a-z0-9-]+\.azurecr\.(io|cn|us)$")),
)
# Where the Flux project and ControlPlane publish the controller images and the operator's manifests.
UPSTREAM_REGISTRIES = ("ghcr.io/fluxcd", "docker.io/fluxcd", "index.docker.io/fluxcd", "fluxcd",
                       "ghcr.io/controlplaneio-fluxcd")
UPSTREAM_ARTIFACTS = ("ghcr.io/controlplaneio-fluxcd/flux-operator-manifests",)
GITHUB_HOSTS = ("github.com", "www.github.com")


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def sources(inv, *kinds: str, group: str = SOURCE_GROUP) -> list[Resource]:
    return [r for r in inv.of_kind(*kinds) if r.api_version.startswith(group)]


def where(inv, holder, *keys) -> dict:
    """Keyword arguments naming the file, line and object of a finding on a Resource or an InstanceSpec."""
    if isinstance(holder, Resource):
        loc = location(inv, holder, ("spec",) + keys) if holder.origin == "git" else None
        return {"location": loc, "resource": holder.ref(), "namespace": holder.namespace}
    return {"location": holder.location(inv, *keys), "resource": holder.resource, "namespace": holder.namespace}


def host_of(url: str) -> str:
    """The registry or Git host of a source URL (`oci://`, `https://`, `ssh://`, `git@host:`, bare image)."""
    u = str(url or "").strip()
    if "://" in u:
        u = u.split("://", 1)[1]
    elif re.match(r"^[\w.-]+@[\w.-]+:", u):  # scp-like git@github.com:org/repo
        u = u.split("@", 1)[1].replace(":", "/", 1)
    host = u.split("/", 1)[0]
    host = host.rsplit("@", 1)[-1]
    return host.split(":", 1)[0].lower()


def _subject(r: Resource) -> str:
    return f"{r.kind} {r.namespace}/{r.name}"


# ============================================================================ cloud registries

def cloud_of(url: str) -> tuple[str, str] | None:
    host = host_of(url)
    for provider, label, pattern in CLOUD_REGISTRIES:
        if pattern.match(host):
            return provider, label
    return None


@check(
    id="gitops.cloud-registry-workload-identity",
    title="Sources on cloud registries authenticate with workload identity, not static keys",
    severity="medium",
    rationale="""
        An OCIRepository, ImageRepository or OCI HelmRepository on Amazon ECR, Google Artifact Registry/GCR
        or Azure Container Registry can get short-lived credentials from the cloud's workload identity
        (`spec.provider: aws|gcp|azure`). Without it the pull credentials are static keys kept in a Secret
        (or a ServiceAccount's imagePullSecrets): long-lived, copied into the cluster, and valid wherever
        they leak. A private ECR registry cannot be read at all without one of them. A source on a cloud
        registry that holds no credential at all reads a public repository (e.g. `mirror.gcr.io`) and
        passes.""",
    remediation="""
        Set `spec.provider` to the registry's cloud (`aws` for ECR, `gcp` for GCR/Artifact Registry, `azure`
        for ACR), bind the source-controller (or image-reflector-controller) service account to a cloud
        identity allowed to pull, and delete the static credential Secret.""",
    references=[FLUX_CHECKLIST,
                "https://fluxcd.io/flux/components/source/ocirepositories/#provider",
                "https://fluxcd.io/flux/components/image/imagerepositories/#provider",
                "https://fluxcd.io/flux/integrations/"],
)
def cloud_registry_workload_identity(inv, options):
    items = [(r, "url") for r in sources(inv, "OCIRepository")]
    items += [(r, "url") for r in sources(inv, "HelmRepository") if r.spec.get("type") == "oci"]
    items += [(r, "image") for r in sources(inv, "ImageRepository", group=IMAGE_GROUP)]
    for r, key in items:
        url = str(r.spec.get(key) or "")
        cloud = cloud_of(url)
        if cloud is None:
            continue
        want, label = cloud
        provider = str(r.spec.get("provider") or "generic")
        secret = _d(r.spec.get("secretRef")).get("name")
        sa = r.spec.get("serviceAccountName")
        subject = _subject(r)
        ev = {"registry": host_of(url), "cloud": want, "provider": provider, "secretRef": secret, "serviceAccountName": sa}
        if provider == want:
            yield passed(inv, subject, f"{label} registry read with workload identity (provider: {want})",
                         evidence=ev, **where(inv, r, "provider"))
        elif provider != "generic":
            yield failed(inv, subject, f"provider: {provider} on a {label} registry ({host_of(url)}): workload identity "
                                       f"of the wrong cloud; it should be {want}", evidence=ev, **where(inv, r, "provider"))
        elif secret or sa:
            how = f"Secret {secret}" if secret else f"the imagePullSecrets of ServiceAccount {sa}"
            yield failed(inv, subject, f"{label} registry {host_of(url)} read with static credentials from {how} "
                                       f"instead of workload identity (spec.provider: {want})",
                         evidence=ev, **where(inv, r, "secretRef" if secret else "serviceAccountName"))
        elif want == "aws":
            yield failed(inv, subject, f"private {label} registry {host_of(url)} with neither spec.provider: aws nor "
                                       "credentials: Flux cannot pull it, and a Secret would hold static keys",
                         evidence=ev, **where(inv, r, key))
        else:
            yield passed(inv, subject, f"{label} repository {host_of(url)} read anonymously (public): no credential "
                                       f"is held; set provider: {want} if it becomes private", evidence=ev,
                         **where(inv, r, key))


# ============================================================================ GitHub App auth

def _secret_keys(inv, name: str, namespace: str | None) -> set[str] | None:
    """Data keys of a Secret the repo defines (SOPS keeps key names readable), None when not in the repo."""
    for s in inv.find("Secret", name, namespace) or inv.find("Secret", name, namespace, deployed_only=False):
        keys = set()
        for section in ("data", "stringData"):
            if isinstance(s.body.get(section), dict):
                keys |= {str(k) for k in s.body[section]}
        return keys
    return None


def _git_auth(url: str, secret: str | None, provider: str | None, keys: set[str] | None) -> tuple[str, str]:
    """(verdict, how) for a GitHub source's authentication: pass or fail."""
    ssh = url.startswith(("ssh://", "git@"))
    if provider == "github":
        return "pass", "GitHub App authentication (provider: github): short-lived installation tokens"
    if not secret:
        return "pass", "public repository read anonymously: no credential to protect"
    if keys is not None and "githubAppID" in keys:
        return "fail", (f"Secret {secret} holds GitHub App credentials but provider is not github: Flux does not "
                        "use them")
    if ssh or (keys is not None and "identity" in keys):
        return "pass", f"SSH deploy key from Secret {secret} (scoped to one repository, not a user token)"
    return "fail", (f"token from Secret {secret} (a personal access token or deploy token): long-lived and tied to "
                    "an account; GitHub App auth issues short-lived, repository-scoped tokens")


@check(
    id="gitops.sync-github-app-auth",
    title="GitHub sources authenticate as a GitHub App, not with a personal access token",
    severity="low",
    rationale="""
        A FluxInstance sync (or a GitRepository) reading a private GitHub repository over HTTPS with a
        token Secret depends on a personal access token: long-lived, tied to one person's account (it
        breaks when they leave, and often reaches every repository they can). With `provider: github`
        and a Secret holding `githubAppID`, `githubAppInstallationID` and `githubAppPrivateKey`, Flux
        gets short-lived installation tokens scoped to the repositories the App is installed on. SSH
        deploy keys (scoped to one repository) and public repositories read anonymously pass. Low
        severity: the token is still a Secret, not a leak.""",
    remediation="""
        Create a GitHub App with read-only Contents permission, install it on the repository, store its
        ID, installation ID and private key in a SOPS-encrypted Secret, and set `sync.provider: github`
        (FluxInstance) or `spec.provider: github` (GitRepository) with that Secret; revoke the token.""",
    references=[FLUX_CHECKLIST,
                "https://fluxoperator.dev/docs/crd/fluxinstance/#sync-configuration",
                "https://fluxcd.io/flux/components/source/gitrepositories/#github"],
)
def sync_github_app_auth(inv, options):
    for sync in fluxinstance.sync_sources(inv):
        if sync.kind != "GitRepository" or host_of(sync.url) not in GITHUB_HOSTS:
            continue
        keys = _secret_keys(inv, sync.secret, sync.namespace) if sync.secret else None
        verdict, how = _git_auth(sync.url, sync.secret, sync.provider, keys)
        subject = f"{sync.instance.subject} sync"
        key = "provider" if sync.provider else ("pullSecret" if sync.secret else "url")
        ev = {"url": sync.url, "pullSecret": sync.secret, "provider": sync.provider}
        yield (passed if verdict == "pass" else failed)(inv, subject, f"sync of {sync.url}: {how}", evidence=ev,
                                                         **where(inv, sync.instance, "sync", key))
    for r in sources(inv, "GitRepository"):
        url = str(r.spec.get("url") or "")
        if host_of(url) not in GITHUB_HOSTS:
            continue
        secret = _d(r.spec.get("secretRef")).get("name")
        provider = r.spec.get("provider")
        keys = _secret_keys(inv, str(secret), r.namespace) if secret else None
        verdict, how = _git_auth(url, secret, provider, keys)
        key = "provider" if provider else ("secretRef" if secret else "url")
        yield (passed if verdict == "pass" else failed)(inv, _subject(r), f"{url}: {how}",
                                                         evidence={"url": url, "secretRef": secret, "provider": provider},
                                                         **where(inv, r, key))


# ============================================================================ signed commits

def git_url_key(url: str) -> str:
    """A Git URL as `host/owner/repo` (scheme, user, `.git` and case dropped), to compare repositories."""
    host = host_of(url)
    path = re.sub(r"^[a-z]+://[^/]+/|^[\w.-]+@[\w.-]+:", "", str(url or "").strip())
    return f"{host}/{path.strip('/').removesuffix('.git').lower()}"


def _verify_patched(inst) -> bool:
    """A FluxInstance kustomize patch that sets spec.verify on the GitRepository it generates."""
    for p in (inst.get("kustomize", "patches") or []):
        if isinstance(p, dict) and isinstance(p.get("patch"), str) and "verify" in p["patch"] \
                and (_d(p.get("target")).get("kind") == "GitRepository" or "kind: GitRepository" in p["patch"]):
            return True
    return False


@check(
    id="gitops.git-commit-verification",
    title="Git sources verify commit signatures where the repository signs its commits",
    severity="low",
    rationale="""
        Flux applies whatever commit the branch points at. With `spec.verify` (OpenPGP public keys in a
        Secret, mode HEAD, Tag or TagAndHEAD) source-controller refuses a commit nobody with a trusted key
        signed, so a stolen Git credential or a compromised forge cannot push manifests into the cluster.
        Verification needs signed commits: where the repository declares it signs them (`posture.yaml`
        `checks: {gitops.git-commit-verification: {commits_signed: true}}`), a GitRepository of this
        repository without `verify` fails; elsewhere the verdict is informational. FluxInstance syncs
        cannot set `verify` directly: a `kustomize.patches` entry on the generated GitRepository can.""",
    remediation="""
        Sign commits (and tags) with keys you control, put the ASCII-armored public keys in a Secret and
        set `spec.verify: {mode: HEAD, secretRef: {name: <secret>}}` on the GitRepository (for a
        FluxInstance sync, patch the generated GitRepository through `spec.kustomize.patches`).""",
    references=["https://fluxcd.io/flux/components/source/gitrepositories/#verification",
                "https://fluxcd.io/flux/security/#signature-verification"],
    options={"commits_signed": None},
)
def git_commit_verification(inv, options):
    signed = options.get("commits_signed") is True
    own = {git_url_key(s.url) for s in fluxinstance.sync_sources(inv) if s.kind == "GitRepository"}
    if getattr(inv, "web_url", None):
        own.add(git_url_key(inv.web_url))

    def unverified(subject, what, is_own, ev, at):
        if signed and is_own:
            return failed(inv, subject, f"{what} is not verified although this repository signs its commits: "
                                        "a forged commit would be applied", severity="medium", evidence=ev, **at)
        why = "this repository is not declared to sign its commits" if is_own else "a repository outside this one"
        return warned(inv, subject, f"informational: {what} is applied without signature verification ({why})",
                      severity="info", evidence=ev, **at)

    for sync in fluxinstance.sync_sources(inv):
        if sync.kind != "GitRepository":
            continue
        subject = f"{sync.instance.subject} sync"
        ev = {"url": sync.url, "commits_signed": options.get("commits_signed")}
        if _verify_patched(sync.instance):
            yield passed(inv, subject, f"the generated GitRepository is patched with spec.verify ({sync.url})",
                         evidence=ev, **where(inv, sync.instance, "kustomize", "patches"))
        else:
            yield unverified(subject, f"the sync of {sync.url}", True, ev, where(inv, sync.instance, "sync"))
    for r in sources(inv, "GitRepository"):
        verify = _d(r.spec.get("verify"))
        url = str(r.spec.get("url") or "")
        ev = {"url": url, "commits_signed": options.get("commits_signed")}
        if verify:
            mode = str(verify.get("mode") or "HEAD")
            if not _d(verify.get("secretRef")).get("name"):
                yield failed(inv, _subject(r), "spec.verify without a secretRef: no trusted keys, nothing verifies",
                             evidence=ev, **where(inv, r, "verify"))
            else:
                yield passed(inv, _subject(r), f"commit signatures verified (mode {mode}, keys from Secret "
                                               f"{verify['secretRef']['name']})", evidence=ev, **where(inv, r, "verify"))
        else:
            yield unverified(_subject(r), url, git_url_key(url) in own, ev, where(inv, r, "url"))


# ============================================================================ immutable OCI references

def ref_verdict(ref: dict) -> tuple[str, str, str]:
    """(status, message, key) for an OCIRepository `spec.ref`."""
    if ref.get("digest"):
        return "pass", f"pinned by digest {str(ref['digest'])[:19]}…", "digest"
    if ref.get("semver") is not None:
        kind = versions.constraint_kind(ref["semver"])
        if kind == "exact":
            return "pass", f"semver {ref['semver']} names one release", "semver"
        if kind == "bounded":
            return "warn", f"semver range {ref['semver']!r} floats within its bounds: new releases deploy without a commit", "semver"
        return "fail", f"semver range {ref['semver']!r} has no upper bound: any future release deploys", "semver"
    tag = ref.get("tag")
    if tag is not None and str(tag).strip():
        tag = str(tag).strip()
        if "@sha256:" in tag:
            return "pass", f"tag {tag.split('@')[0]} pinned by digest", "tag"
        if versions.is_semver_tag(tag):
            return "pass", f"release tag {tag}", "tag"
        return "fail", f"mutable tag {tag!r}: whatever is pushed under it next is applied", "tag"
    return "fail", "no ref: Flux pulls the `latest` tag", ""


def _emit(inv, status, subject, message, **kw):
    return {"pass": passed, "warn": warned, "fail": failed}[status](inv, subject, message, **kw)


@check(
    id="gitops.oci-immutable-ref",
    title="OCI sources are pinned by digest or release version, not a mutable tag",
    severity="medium",
    rationale="""
        An OCIRepository on `latest`, `main`, `1.2` or no ref at all applies whatever the publisher (or
        anyone holding their registry credentials) pushes under that tag next, with no commit in Git to
        review or revert. `ref.digest` pins the exact artifact; a full release tag (`1.2.3`) or an exact
        `ref.semver` names one release; a bounded range (`>=1.2.0 <1.3.0`) still floats (warn); `*` or
        `>=1.0.0` without an upper bound floats to any release (fail). FluxInstance syncs from OCI are
        judged the same way.""",
    remediation="""
        Use `spec.ref.digest` (Renovate keeps it current) or a full release tag / exact `spec.ref.semver`,
        and add `spec.verify` so the pinned artifact is also signed.""",
    references=[FLUX_CHECKLIST, "https://fluxcd.io/flux/components/source/ocirepositories/#reference"],
)
def oci_immutable_ref(inv, options):
    for r in sources(inv, "OCIRepository"):
        url = str(r.spec.get("url") or "")
        ref = _d(r.spec.get("ref"))
        status, message, key = ref_verdict(ref)
        if "@sha256:" in url:
            status, message, key = "pass", "URL pinned by digest", ""
        yield _emit(inv, status, _subject(r), f"{url}: {message}", evidence={"url": url, "ref": ref},
                    **where(inv, r, *(("ref", key) if key else ("ref",) if ref else ("url",))))
    for sync in fluxinstance.sync_sources(inv):
        if sync.kind != "OCIRepository":
            continue
        ref = {"tag": sync.ref} if sync.ref and not sync.ref.startswith("sha256:") else {"digest": sync.ref}
        status, message, _ = ref_verdict(ref if sync.ref else {})
        yield _emit(inv, status, f"{sync.instance.subject} sync", f"{sync.url}: {message}",
                    evidence={"url": sync.url, "ref": sync.ref}, **where(inv, sync.instance, "sync", "ref"))


@check(
    id="gitops.chart-version-pinned",
    title="Helm chart versions are pinned, not floating",
    severity="medium",
    rationale="""
        A HelmRelease `chart.spec.version` (or a HelmChart `spec.version`) of `*`, `>=1.0.0` or no version
        at all installs whatever the chart repository publishes next: a new chart (with new images,
        RBAC and defaults) reaches the cluster with no commit to review. A bounded range (`~1.2`,
        `2.14.*`) still floats within its bounds (warn). Releases using `chartRef` are judged through
        their OCIRepository (gitops.oci-immutable-ref). Charts from Git or Bucket sources are read from
        a path and carry no version.""",
    remediation="""
        Pin the exact chart version (`version: 1.2.3`) and let Renovate or Dependabot propose upgrades as
        pull requests; or move to an OCIRepository pinned by digest with `chartRef`.""",
    references=[FLUX_CHECKLIST, "https://fluxcd.io/flux/components/helm/helmreleases/#chart-template",
                "https://fluxcd.io/flux/components/source/helmcharts/#version"],
)
def chart_version_pinned(inv, options):
    items = []
    for r in inv.of_kind("HelmRelease"):
        if not r.api_version.startswith("helm.toolkit.fluxcd.io"):
            continue
        spec = _d(_d(r.spec.get("chart")).get("spec"))
        if spec.get("chart") and (_d(spec.get("sourceRef")).get("kind") or "HelmRepository") == "HelmRepository":
            items.append((r, spec, ("chart", "spec")))
    for r in sources(inv, "HelmChart"):
        if (_d(r.spec.get("sourceRef")).get("kind") or "HelmRepository") == "HelmRepository":
            items.append((r, r.spec, ()))
    for r, spec, base in items:
        version = spec.get("version")
        kind = versions.constraint_kind(version if version is not None else "*")
        chart = spec.get("chart")
        ev = {"chart": chart, "version": version}
        at = where(inv, r, *base, "version") if "version" in spec else where(inv, r, *base)
        if kind == "exact":
            yield passed(inv, _subject(r), f"chart {chart} pinned to {version}", evidence=ev, **at)
        elif kind == "bounded":
            yield warned(inv, _subject(r), f"chart {chart} version {version!r} floats within its range: new chart "
                                           "releases install without a commit", severity="low", evidence=ev, **at)
        else:
            shown = repr(version) if version is not None else "not set (any version, `*`)"
            yield failed(inv, _subject(r), f"chart {chart} version {shown} has no upper bound: any future chart "
                                           "release installs", evidence=ev, **at)


@check(
    id="gitops.helmrepository-oci",
    title="OCI charts come from an OCIRepository, not a HelmRepository of type oci",
    severity="low",
    rationale="""
        `HelmRepository` with `type: oci` is the legacy way to install charts from an OCI registry: it
        cannot verify signatures on the chart artifact, pin it by digest, or select layers, and Flux
        documents OCIRepository + HelmRelease `chartRef` as its replacement. Low severity: a migration,
        not an exposure.""",
    remediation="""
        Replace it with an `OCIRepository` per chart (`url: oci://<registry>/<chart>`, `ref.digest` or a
        release tag, `verify`, `layerSelector` for the Helm chart media type) and point the HelmRelease at
        it with `spec.chartRef`.""",
    references=[FLUX_CHECKLIST, "https://fluxcd.io/flux/components/source/helmrepositories/#helm-oci-repository",
                "https://fluxcd.io/flux/components/helm/helmreleases/#chart-reference"],
)
def helmrepository_oci(inv, options):
    for r in sources(inv, "HelmRepository"):
        url = str(r.spec.get("url") or "")
        if r.spec.get("type") == "oci":
            yield failed(inv, _subject(r), f"type: oci ({url}): legacy OCI Helm repository; use OCIRepository + chartRef",
                         evidence={"url": url}, **where(inv, r, "type"))
        else:
            yield passed(inv, _subject(r), f"Helm repository index over {url.split('://', 1)[0] or 'https'}",
                         evidence={"url": url}, **where(inv, r, "url"))


# ============================================================================ distribution registry

def _trusted(value: str, prefixes) -> bool:
    v = value.strip().lower().removeprefix("oci://").rstrip("/")
    for p in prefixes:
        p = str(p).strip().lower().removeprefix("oci://").rstrip("/")
        if p and (v == p or v.startswith(p + "/") or v.startswith(p + ":") or v.startswith(p + "@")):
            return True
    return False


@check(
    id="gitops.flux-distribution-registry",
    title="The Flux distribution comes from the upstream or a declared trusted registry",
    severity="medium",
    rationale="""
        A FluxInstance `distribution.registry` says where the Flux controller images are pulled from and
        `distribution.artifact` where the operator reads the Flux manifests: both run with cluster-admin
        rights. Anything other than the Flux project's and ControlPlane's own registries (`ghcr.io/fluxcd`,
        `docker.io/fluxcd`, `ghcr.io/controlplaneio-fluxcd/...`) must be a mirror you control and
        declare as trusted (`posture.yaml` `checks: {gitops.flux-distribution-registry:
        {trusted_registries: [registry.internal/fluxcd]}}`); an unverified third-party registry would
        own the cluster.""",
    remediation="""
        Point `distribution.registry` (and `distribution.artifact`) at the upstream registry, or at your
        own mirror of it, and list that mirror under `trusted_registries`.""",
    references=[FLUX_CHECKLIST, "https://fluxoperator.dev/docs/crd/fluxinstance/#distribution-configuration"],
    options={"trusted_registries": []},
)
def flux_distribution_registry(inv, options):
    declared = [str(x) for x in (options.get("trusted_registries") or []) if x]
    for inst in fluxinstance.instance_specs(inv):
        dist = _d(inst.get("distribution"))
        for key, upstream, default in (("registry", UPSTREAM_REGISTRIES, "ghcr.io/fluxcd"),
                                       ("artifact", UPSTREAM_ARTIFACTS, None)):
            value = dist.get(key)
            subject = f"{inst.subject} distribution.{key}"
            ev = {key: value, "trusted_registries": declared}
            if not value:
                if default:
                    yield passed(inv, subject, f"distribution.{key} not set: upstream {default}", evidence=ev,
                                 **where(inv, inst, "distribution"))
                continue
            value = str(value)
            at = where(inv, inst, "distribution", key)
            if _trusted(value, upstream):
                yield passed(inv, subject, f"{value}: the upstream Flux distribution", evidence=ev, **at)
            elif _trusted(value, declared):
                yield passed(inv, subject, f"{value}: declared trusted in posture.yaml", evidence=ev, **at)
            else:
                yield failed(inv, subject, f"{value} is neither the upstream Flux distribution nor declared trusted: "
                                           "the controllers (cluster-admin) come from it", evidence=ev, **at)
