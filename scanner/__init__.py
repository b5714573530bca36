"""gitops-posture: security posture scanner for GitOps Kubernetes clusters."""
__version__ = "0.1.0"
