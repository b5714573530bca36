"""Stage 3, analysis: domain knowledge the checks share (SOPS, secret references, network policy,
Kyverno/PSS, authentication, exposure, Talos, OPNsense)."""
