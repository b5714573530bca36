"""Stage 2, inventory: what Flux deploys (kustomize and Flux builds, substitution, Helm values and
rendering), and the workloads and routes derived from it."""
