"""--inspect-tls: read the certificate (never the key) of each kubernetes.io/tls Secret.

The Kubernetes API cannot return one key of a Secret, so the GET necessarily transfers `tls.key`
too. This module decodes only `tls.crt`, keeps a handful of facts about the leaf certificate, and
drops the response before returning; `tls.key` is never decoded or stored.
"""
from __future__ import annotations

import base64
import datetime as dt

from scanner.sources.kube_http import KubeHTTP

TLS_TYPE = "kubernetes.io/tls"
TLS_FIELD_SELECTOR = "type=kubernetes.io/tls"


def inspect_secret(http: KubeHTTP, namespace: str, name: str) -> dict:
    """Facts about the certificate in Secret namespace/name. Raises KubeError or ValueError."""
    body = http.get_json(f"/api/v1/namespaces/{namespace}/secrets/{name}")
    try:
        if body.get("type") != TLS_TYPE:  # the field selector was not honoured: do not look inside
            raise ValueError(f"Secret {namespace}/{name} is not of type {TLS_TYPE}")
        crt_b64 = (body.get("data") or {}).get("tls.crt")
    finally:
        body.clear()  # drop the key material with the rest of the response
    if not crt_b64:
        raise ValueError(f"Secret {namespace}/{name} has no tls.crt")
    facts = certificate_facts(base64.b64decode(crt_b64))
    return {"namespace": namespace, "name": name, **facts}


def certificate_facts(pem: bytes) -> dict:
    """Expiry, key type and size, issuer, subject, signature hash and DNS names of the leaf cert."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    certs = x509.load_pem_x509_certificates(pem)  # the leaf comes first in a chain bundle
    cert = certs[0]
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key_type, key_size = "RSA", key.key_size
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_type, key_size = f"EC {key.curve.name}", key.key_size
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key_type, key_size = "Ed25519", 256
    elif isinstance(key, ed448.Ed448PublicKey):
        key_type, key_size = "Ed448", 456
    elif isinstance(key, dsa.DSAPublicKey):
        key_type, key_size = "DSA", key.key_size
    else:
        key_type, key_size = type(key).__name__, None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        dns_names = []
    hash_alg = cert.signature_hash_algorithm
    return {
        "not_before": _iso(cert.not_valid_before_utc),
        "not_after": _iso(cert.not_valid_after_utc),
        "key_type": key_type,
        "key_size": key_size,
        "issuer": cert.issuer.rfc4514_string(),
        "subject": cert.subject.rfc4514_string(),
        "signature_hash": hash_alg.name if hash_alg else None,
        "dns_names": dns_names,
        "chain_length": len(certs),
    }


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
