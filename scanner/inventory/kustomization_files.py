"""The file names kustomize reads as a directory's kustomization, in the order it tries them.

A module of its own so that code needing only the names (the leak checks, Helm values lookup)
does not load the build engine."""
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
