"""Where resources come from: the Git repo (files) and a live cluster (API)."""
