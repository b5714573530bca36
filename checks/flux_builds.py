"""GitOps layer: what Flux itself would fail on while building the repository — a kustomize build that
errors (a missing generator file, a bad patch), a post-build substitution that fails or leaves a
variable without a value. The scanner builds every Flux Kustomization as kustomize-controller does
(scanner.inventory.walk), so these are the controller's own failures, found before it meets them."""
from __future__ import annotations

from scanner.checkapi.registry import check
from scanner.checkapi.results import failed, passed
from scanner.core.model import Location


def _subject(status) -> str:
    if status.implicit:  # a kustomization directory of a repository without a Flux root
        return f"kustomization {status.key.split(':', 1)[1]}"
    return f"Flux Kustomization {status.key}" + (f" ({status.cluster})" if status.cluster != "cluster" else "")


def _resource(status) -> dict:
    if status.implicit:
        return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": None,
                "name": status.key.split(":", 1)[1], "origin": "file"}
    ns, name = status.key.split("/", 1)
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "namespace": ns, "name": name,
            "origin": "git"}


def _namespace(status) -> str | None:
    return None if status.implicit else status.key.split("/", 1)[0]


def _judged(inv):
    for status in inv.kustomizations:
        if status.implicit and ":" not in status.key:
            continue  # the loose manifests of a repository without a Flux root: no kustomization to judge
        if status.how != "external" and status.path and not status.path.startswith("("):
            yield status


@check(
    id="gitops.kustomizations-build",
    title="Every Flux Kustomization builds",
    severity="high",
    rationale="""
        kustomize-controller builds each Flux Kustomization's path before it applies anything. A build that
        fails — a configMapGenerator file that is not in Git, a patch that matches nothing it must, a
        component or path that does not exist — stops that Kustomization and everything that depends on it:
        security fixes and policy changes in it are never applied, and the cluster silently drifts from Git.
        A variable substitution error fails the whole Kustomization the same way.""",
    remediation="""
        Run `posture inventory PATH --ks NAME` (or `flux build kustomization NAME --path ...`) and fix what the
        finding names: commit the missing file, correct the path or the patch target, or fix the `${VAR}`
        expression. Commit generator sources (scripts, config files) next to their kustomization.yaml.""",
    references=["https://fluxcd.io/flux/components/kustomize/kustomizations/#reconciliation",
                "https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/"],
)
def kustomizations_build(inv, options):
    for status in _judged(inv):
        where = Location(status.path, status.line)
        if status.source_problem:
            yield failed(inv, _subject(status), f"kustomize-controller cannot reconcile {status.key}: "
                         f"{status.source_problem}", resource=_resource(status), location=where,
                         namespace=_namespace(status), evidence={"source": status.source_problem})
        elif status.how in ("failed", "not-found") or status.degraded:
            why = (status.build_errors or ["the build failed"])[0]
            yield failed(inv, _subject(status), f"kustomize-controller would fail to build {status.key}: {why}",
                         resource=_resource(status), location=where, namespace=_namespace(status),
                         evidence={"errors": status.build_errors[:5]})
        elif status.postbuild_errors:
            yield failed(inv, _subject(status), f"post-build substitution of {status.key} fails: "
                         f"{status.postbuild_errors[0]} (Flux applies nothing of it)", resource=_resource(status),
                         location=where, namespace=_namespace(status),
                         evidence={"errors": status.postbuild_errors[:5]})
        else:
            yield passed(inv, _subject(status), f"{status.key} builds ({status.how})", resource=_resource(status),
                         location=where, namespace=_namespace(status))


@check(
    id="gitops.substitution-variables-defined",
    title="Every post-build variable has a value",
    severity="medium",
    rationale="""
        Flux replaces a `${VAR}` that has no value and no default with the empty string — an empty host
        name, namespace or image tag applied to the cluster — or, with strict substitution (the default since
        Flux 2.9), fails the whole Kustomization. Either way the deployed object is not what the repository
        seems to say.""",
    remediation="""
        Define the variable in the Kustomization's `postBuild.substitute`, in a `substituteFrom` ConfigMap or
        Secret, or give it a default (`${VAR:=default}`); escape text that is not a variable as `$${...}`.""",
    references=["https://fluxcd.io/flux/components/kustomize/kustomizations/#post-build-variable-substitution"],
)
def substitution_variables_defined(inv, options):
    for status in _judged(inv):
        if status.how in ("failed", "not-found"):
            continue
        where = Location(status.path, status.line)
        ns = _namespace(status)
        if status.undefined:
            names = ", ".join("${" + v + "}" for v in sorted(status.undefined))
            effect = "fails the whole Kustomization (strict substitution)" if status.strict else "becomes the empty string"
            yield failed(inv, _subject(status), f"{status.key}: {names} has no value and no default: it {effect}",
                         resource=_resource(status), location=where, namespace=ns,
                         severity="high" if status.strict else None,
                         evidence={"undefined": sorted(status.undefined), "strict": status.strict})
        else:
            yield passed(inv, _subject(status), f"{status.key}: every variable it uses has a value"
                         + (f" ({len(status.unreadable)} held in Secrets)" if status.unreadable else ""),
                         resource=_resource(status), location=where, namespace=ns)
