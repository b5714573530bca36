"""Which objects hold a secret value in the clear, so that no cache ever writes one to disk."""
from __future__ import annotations


def holds_plain_secret_data(body: object) -> bool:
    """A Secret with a `data`/`stringData` value that is not SOPS ciphertext (`ENC[...]`)."""
    if not isinstance(body, dict) or body.get("kind") != "Secret":
        return False
    for key in ("data", "stringData"):
        values = body.get(key)
        if isinstance(values, dict):
            if any(not (isinstance(v, str) and v.startswith("ENC[")) for v in values.values()):
                return True
        elif values:
            return True
    return False
