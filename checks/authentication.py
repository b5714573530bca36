"""Authentication layer: Authentik (or an accepted IdP) in front of every web route."""
from __future__ import annotations

from scanner.registry import check
from scanner.results import failed, passed


@check(
    id="authentication.authentik-deployed",
    title="Authentik is deployed",
    severity="high",
    rationale="""
        Centralised authentication in front of the web apps depends on the identity provider itself being
        deployed and managed in Git; without it, every app falls back to its own (often absent) login.""",
    remediation="""
        Deploy Authentik with a Flux HelmRelease (chart `authentik`), its secret key from a Secret
        (`authentik.secret_key` via `existingSecret`/envFrom), and the embedded or a dedicated outpost.""",
    references=["https://docs.goauthentik.io/docs/install-config/install/kubernetes"],
)
def authentik_deployed(inv, options):
    releases = [hr for hr in inv.of_kind("HelmRelease") if (inv.chart(hr).name or "") == "authentik"]
    if releases:
        for hr in releases:
            yield passed(inv, f"HelmRelease {hr.namespace}/{hr.name}", f"Authentik {inv.chart(hr).version or ''} deployed", hr)
    else:
        yield failed(inv, "Authentik", "Authentik is not deployed: no HelmRelease of the authentik chart",
                     resource={"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "namespace": None,
                               "name": "authentik", "origin": "git"})
