"""Flux itself: the controllers' own network policies, and image automation that writes to Git.

Items of the Flux project's security audit checklist (fluxcd/agent-skills, gitops-repo-audit) on the
Flux installation and on image update automation: the NetworkPolicies `flux bootstrap` and the
Flux operator put around the controllers, push credentials kept apart from read credentials, pushes
to a branch for review, and image policies that only promote the tags they mean to.
"""
from __future__ import annotations

import posixpath

from scanner.analysis import fluxinstance, versions
from scanner.checkapi.registry import check
from scanner.checkapi.results import failed, passed, warned
from scanner.core.model import Location, Resource
from scanner.sources.yamlload import load_documents

from checks.gitops_supply_chain import FLUX_CHECKLIST, git_url_key, sources, where

IMAGE_GROUP = "image.toolkit.fluxcd.io"
# Of the NetworkPolicies Flux installs around its controllers (flux2 manifests/policies), `allow-egress`
# is the one that isolates them: it selects every pod of the Flux namespace for ingress and admits only
# the namespace itself. `allow-scraping` and `allow-webhooks` open single ports on top of it.
ISOLATING_NETPOL = "allow-egress"
TRIVIAL_PATTERNS = {"", ".*", "^.*$", ".+", "^.+$", ".*?", "^.*", ".*$"}


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


# ============================================================================ controller network policies

def _deleted_policies(patches: list) -> dict[str, int]:
    """NetworkPolicy names a list of kustomize patches deletes -> index of the patch ("*" for all)."""
    out: dict[str, int] = {}
    for i, p in enumerate(patches):
        text = p if isinstance(p, str) else _d(p).get("patch") if isinstance(p, dict) else None
        target = _d(p.get("target")) if isinstance(p, dict) else {}
        if not isinstance(text, str) or "NetworkPolicy" not in text + str(target.get("kind") or ""):
            continue
        docs, _ = load_documents(text) if len(text) < 65536 else ([], [])
        for d in docs:
            body = d.body
            if isinstance(body, dict) and body.get("$patch") == "delete" and \
                    (body.get("kind") or target.get("kind")) == "NetworkPolicy":
                name = str(_d(body.get("metadata")).get("name") or target.get("name") or "*")
                out[name] = i
            elif isinstance(body, list) and target.get("kind") == "NetworkPolicy" and \
                    any(isinstance(op, dict) and op.get("op") == "remove" and op.get("path") in ("", "/") for op in body):
                out[str(target.get("name") or "*")] = i
    return out


def _isolating(doc_body) -> bool:
    """A NetworkPolicy that selects every pod for ingress (what allow-egress does)."""
    spec = _d(_d(doc_body).get("spec"))
    return _d(spec.get("podSelector")) == {} and "Ingress" in (spec.get("policyTypes") or ["Ingress"])


def _bootstrap_installs(inv) -> list[str]:
    """gotk-components.yaml files of deployed bootstrap installs."""
    deployed = getattr(inv, "deployed_files", set())
    return sorted({f for f in inv.files if posixpath.basename(f) == "gotk-components.yaml"
                   and (f in deployed or not deployed)})


@check(
    id="gitops.flux-network-policies",
    title="The Flux controllers keep the NetworkPolicies Flux installs around them",
    severity="medium",
    rationale="""
        `flux bootstrap` (gotk-components.yaml) and the Flux operator (FluxInstance
        `cluster.networkPolicy`, true by default) install NetworkPolicies in the Flux namespace:
        `allow-egress` admits ingress only from the namespace itself, and `allow-scraping` /
        `allow-webhooks` open the metrics port and the notification receiver on top of it. Without
        them any pod can reach source-controller's artifact server (every manifest and chart the
        cluster runs) and the controllers' ports. `cluster.networkPolicy: false`, a kustomize patch
        deleting `allow-egress`, or a gotk-components.yaml it was cut from fails; deleting only the
        two allowances is stricter and passes.""",
    remediation="""
        Remove `cluster.networkPolicy: false` from the FluxInstance (or the flux-instance values), drop
        the patch that deletes `allow-egress`, or regenerate gotk-components.yaml with
        `flux install --export`; if a policy blocks something you need, add a narrower NetworkPolicy
        next to it instead.""",
    references=[FLUX_CHECKLIST, "https://fluxoperator.dev/docs/crd/fluxinstance/#cluster-network-policy",
                "https://fluxcd.io/flux/security/#network-policies"],
)
def flux_network_policies(inv, options):
    for inst in fluxinstance.instance_specs(inv):
        cluster = _d(inst.get("cluster"))
        if cluster.get("networkPolicy") is False:
            yield failed(inv, inst.subject, f"{inst.subject}: cluster.networkPolicy: false: the operator installs no "
                                            "NetworkPolicy around the Flux controllers",
                         evidence={"networkPolicy": False}, **where(inv, inst, "cluster", "networkPolicy"))
            continue
        deleted = _deleted_policies(_l(_d(inst.get("kustomize")).get("patches")))
        hit = deleted.get(ISOLATING_NETPOL, deleted.get("*"))
        if hit is not None:
            yield failed(inv, inst.subject, f"{inst.subject}: a kustomize patch deletes NetworkPolicy {ISOLATING_NETPOL}, "
                                            "the one that keeps other namespaces away from the controllers",
                         evidence={"deleted": sorted(deleted)}, **where(inv, inst, "kustomize", "patches", hit))
            continue
        how = "cluster.networkPolicy: true" if cluster.get("networkPolicy") is True else "cluster.networkPolicy defaults to true"
        at = where(inv, inst, "cluster", "networkPolicy") if "networkPolicy" in cluster else where(inv, inst)
        yield passed(inv, inst.subject, f"{how}: the controllers are isolated by NetworkPolicy {ISOLATING_NETPOL}",
                     evidence={"networkPolicy": cluster.get("networkPolicy", "default (true)"),
                               "deleted_allowances": sorted(deleted)}, **at)
    for path in _bootstrap_installs(inv):
        docs = inv.docs_at(path)
        controllers = [d for d in docs if d.kind == "Deployment"]
        if not controllers:
            continue  # not a Flux install after all
        res = {"apiVersion": None, "kind": "File", "namespace": None, "name": path, "origin": "file"}
        subject = f"Flux bootstrap {path}"
        isolating = [d for d in docs if d.kind == "NetworkPolicy" and _isolating(d.body)]
        folder = posixpath.dirname(path)
        deleted_at = None
        for kdoc in [d for name in fluxinstance.KUSTOMIZATION_FILES
                     for d in inv.docs_at(posixpath.join(folder, name) if folder else name)]:
            for key in ("patches", "patchesStrategicMerge"):
                gone = _deleted_policies(_l(_d(kdoc.body).get(key)))
                hit = gone.get(ISOLATING_NETPOL, gone.get("*"))
                if hit is not None:
                    deleted_at = Location(kdoc.path, inv.line_of(kdoc, (key, hit)))
        if deleted_at is not None:
            yield failed(inv, subject, f"a kustomize patch deletes NetworkPolicy {ISOLATING_NETPOL} from the Flux install",
                         resource=res, location=deleted_at)
        elif not isolating:
            yield failed(inv, subject, f"{path} has no NetworkPolicy isolating the controllers ({ISOLATING_NETPOL} was "
                                       "removed from the install)", resource=res,
                         location=Location(path, controllers[0].line))
        else:
            yield passed(inv, subject, f"NetworkPolicy {ISOLATING_NETPOL} isolates the controllers", resource=res,
                         location=Location(path, isolating[0].line))


# ============================================================================ image automation

class _GitSource:
    """A GitRepository as Flux sees it: a document in the repo, or the one a FluxInstance sync generates."""

    def __init__(self, namespace, name, url, branch, secret, holder, read=False):
        self.namespace, self.name, self.url, self.branch, self.secret = namespace, name, url, branch, secret
        self.holder = holder  # Resource or InstanceSpec
        self.read = read  # Flux reads (syncs) from it

    def label(self) -> str:
        return f"GitRepository {self.namespace}/{self.name}"


def git_sources(inv) -> dict[tuple[str, str], _GitSource]:
    out: dict[tuple[str, str], _GitSource] = {}
    for r in sources(inv, "GitRepository"):
        ref = _d(r.spec.get("ref"))
        out[(r.namespace or "", r.name)] = _GitSource(r.namespace or "", r.name, str(r.spec.get("url") or ""),
                                                      ref.get("branch"), _d(r.spec.get("secretRef")).get("name"), r)
    for s in fluxinstance.sync_sources(inv):
        if s.kind == "GitRepository":
            out[(s.namespace, s.name)] = _GitSource(s.namespace, s.name, s.url, s.branch, s.secret, s.instance, read=True)
    for r in inv.of_kind("Kustomization", "HelmRelease"):
        if r.api_version.startswith("kustomize.toolkit.fluxcd.io"):
            ref = _d(r.spec.get("sourceRef"))
        elif r.api_version.startswith("helm.toolkit.fluxcd.io"):
            ref = _d(_d(_d(r.spec.get("chart")).get("spec")).get("sourceRef"))
        else:
            continue
        if (ref.get("kind") or "GitRepository") == "GitRepository" and ref.get("name"):
            hit = out.get((str(ref.get("namespace") or r.namespace or ""), str(ref["name"])))
            if hit is not None:
                hit.read = True
    return out


def _automation_source(inv, r: Resource, gits) -> _GitSource | None:
    ref = _d(r.spec.get("sourceRef"))
    if (ref.get("kind") or "GitRepository") != "GitRepository" or not ref.get("name"):
        return None
    return gits.get((str(ref.get("namespace") or r.namespace or ""), str(ref["name"])))


def automations(inv) -> list[Resource]:
    return [r for r in inv.of_kind("ImageUpdateAutomation") if r.api_version.startswith(IMAGE_GROUP)]


@check(
    id="gitops.image-automation-credentials",
    title="Image automation pushes with credentials that no read-only source holds",
    severity="medium",
    rationale="""
        An ImageUpdateAutomation commits to Git through the Secret of the GitRepository it names, so that
        Secret must allow writes. When the same GitRepository (or the same Secret) is also what Flux
        syncs the cluster from, the read path holds write credentials: every controller and namespace
        that can read that Secret can rewrite the repository the cluster follows, and the deploy key or
        token can no longer be read-only. Keep a separate GitRepository with its own write Secret for the
        automation, and read-only credentials (or none, for a public repository) for syncing.""",
    remediation="""
        Add a GitRepository used only by the ImageUpdateAutomation, with its own Secret holding a write
        deploy key (or GitHub App with Contents write), point `spec.sourceRef` at it, and make the
        Secret of the synced GitRepository a read-only deploy key.""",
    references=[FLUX_CHECKLIST, "https://fluxcd.io/flux/components/image/imageupdateautomations/#source-reference",
                "https://fluxcd.io/flux/guides/image-update/"],
)
def image_automation_credentials(inv, options):
    gits = git_sources(inv)
    for r in automations(inv):
        subject = f"ImageUpdateAutomation {r.namespace}/{r.name}"
        src = _automation_source(inv, r, gits)
        ref = _d(r.spec.get("sourceRef"))
        if src is None:
            yield warned(inv, subject, f"its GitRepository {ref.get('name')} is not in the repository: the credentials "
                                       "it pushes with cannot be checked", severity="low", **where(inv, r, "sourceRef"))
            continue
        ev = {"source": src.label(), "secret": src.secret, "synced": src.read}
        if src.read:
            secret = f"Secret {src.secret}" if src.secret else "credentials"
            yield failed(inv, subject, f"pushes through {src.label()}, which Flux also syncs from: its {secret} must "
                                       "allow writes, so Flux's read path holds write credentials",
                         evidence=ev, **where(inv, r, "sourceRef"))
            continue
        shared = sorted(g.label() for g in gits.values() if g.read and g is not src and src.secret
                        and g.secret == src.secret and g.namespace == src.namespace)
        if shared:
            yield failed(inv, subject, f"pushes with Secret {src.secret}, which read-only source(s) {', '.join(shared)} "
                                       "also use: the read path holds write credentials",
                         evidence=dict(ev, shared_with=shared), **where(inv, r, "sourceRef"))
        elif not src.secret:
            yield warned(inv, subject, f"{src.label()} has no secretRef: the automation cannot push, or pushes with "
                                       "credentials the repository does not show", severity="low", evidence=ev,
                         **where(inv, r, "sourceRef"))
        else:
            yield passed(inv, subject, f"pushes through {src.label()} with its own Secret {src.secret}, used by no "
                                       "source Flux syncs from", evidence=ev, **where(inv, r, "sourceRef"))


def _push_branch(r: Resource) -> str | None:
    push = _d(_d(r.spec.get("git")).get("push"))
    if push.get("branch"):
        return str(push["branch"])
    refspec = str(push.get("refspec") or "")
    if ":" in refspec:
        dest = refspec.rsplit(":", 1)[1]
        return dest.removeprefix("refs/heads/") or None
    return None


@check(
    id="gitops.image-automation-push-branch",
    title="Image automation pushes to a branch for review, not to the branch Flux syncs",
    severity="medium",
    rationale="""
        Without `spec.git.push.branch` an ImageUpdateAutomation commits to the branch it checked out. When
        that is the branch Flux syncs from, every image the policy selects is deployed at once: no pull
        request, no review, no CI, so a compromised or mistaken tag reaches the cluster within minutes.
        Pushing to a separate branch and merging through a pull request keeps a person (and the repo's
        checks) in the loop.""",
    remediation="""
        Set `spec.git.push.branch` (e.g. `flux-image-updates`) and open pull requests from it (a GitHub
        workflow or a notification-controller Provider can do that); protect the synced branch.""",
    references=[FLUX_CHECKLIST, "https://fluxcd.io/flux/components/image/imageupdateautomations/#push",
                "https://fluxcd.io/flux/use-cases/gh-actions-auto-pr/"],
)
def image_automation_push_branch(inv, options):
    gits = git_sources(inv)
    synced = {(git_url_key(g.url), g.branch) for g in gits.values() if g.read}
    for r in automations(inv):
        subject = f"ImageUpdateAutomation {r.namespace}/{r.name}"
        src = _automation_source(inv, r, gits)
        checkout = _d(_d(_d(r.spec.get("git")).get("checkout")).get("ref")).get("branch") or (src.branch if src else None)
        push = _push_branch(r)
        ev = {"checkout_branch": checkout, "push_branch": push, "source": src.label() if src else None}
        git_path = ("git", "push") if _d(_d(r.spec.get("git")).get("push")) else ("git",) if r.spec.get("git") else ()
        if push and push != checkout:
            yield passed(inv, subject, f"pushes to branch {push} (checked out from {checkout or 'the default branch'}) "
                                       "for review", evidence=ev, **where(inv, r, *git_path))
            continue
        target = push or checkout
        is_synced = src is None or src.read or (git_url_key(src.url), target) in synced
        if is_synced:
            what = f"branch {target}" if target else "the checked-out branch"
            yield failed(inv, subject, f"pushes straight to {what}, the branch Flux syncs (no spec.git.push.branch): "
                                       "updated images deploy without review", evidence=ev, **where(inv, r, *git_path))
        else:
            yield passed(inv, subject, f"pushes to branch {target}, which no Flux source syncs from", evidence=ev,
                         **where(inv, r, *git_path))


@check(
    id="gitops.image-policy-filter",
    title="Image policies only promote the tags they mean to",
    severity="medium",
    rationale="""
        An ImagePolicy picks the image tag that automation writes into Git. `alphabetical` or `numerical`
        ordering without `filterTags.pattern`, or a semver range with no upper bound (`*`, `>=1.0.0`), lets
        any tag pushed to the repository be promoted: a `zzz` or `999` tag, a pre-release, a new major
        version, or a tag an attacker pushed with stolen registry credentials. A `filterTags.pattern`
        (with `extract`) or a bounded semver range restricts promotion to the releases intended.""",
    remediation="""
        Use `policy.semver.range` with an upper bound (e.g. `>=1.2.0 <2.0.0`), or add
        `filterTags: {pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)', extract: '$ts'}` to numerical/alphabetical
        policies.""",
    references=[FLUX_CHECKLIST, "https://fluxcd.io/flux/components/image/imagepolicies/#filter-tags",
                "https://fluxcd.io/flux/components/image/imagepolicies/#policy"],
)
def image_policy_filter(inv, options):
    for r in sources(inv, "ImagePolicy", group=IMAGE_GROUP):
        subject = f"ImagePolicy {r.namespace}/{r.name}"
        policy = _d(r.spec.get("policy"))
        pattern = _d(r.spec.get("filterTags")).get("pattern")
        filtered = pattern is not None and str(pattern).strip() not in TRIVIAL_PATTERNS
        ev = {"policy": sorted(policy), "filterTags.pattern": pattern}
        if filtered:
            yield passed(inv, subject, f"tags filtered by pattern {str(pattern)[:60]!r}", evidence=ev,
                         **where(inv, r, "filterTags"))
            continue
        semver = _d(policy.get("semver"))
        if semver:
            rng = semver.get("range")
            kind = versions.constraint_kind(rng)
            ev["range"] = rng
            if kind == "unbounded":
                yield failed(inv, subject, f"semver range {rng!r} has no upper bound and no tag filter: any future "
                                           "release is promoted", evidence=ev, **where(inv, r, "policy", "semver"))
            else:
                yield passed(inv, subject, f"semver range {rng!r} bounds the releases promoted", evidence=ev,
                             **where(inv, r, "policy", "semver"))
        elif policy:
            order = next(iter(policy))
            yield failed(inv, subject, f"{order} ordering without filterTags.pattern: any tag pushed to the repository "
                                       "can be promoted", evidence=ev, **where(inv, r, "policy"))
        else:
            yield failed(inv, subject, "no policy and no tag filter: nothing restricts the tag promoted",
                         evidence=ev, **where(inv, r))
