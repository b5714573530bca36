"""A fake Kubernetes API server (HTTPS, bearer token) for the live-source tests."""
