"""Secret management layer: SOPS coverage of every Secret in Git."""
from __future__ import annotations

import re

from scanner.model import Location
from scanner.registry import check
from scanner.results import failed, passed
from scanner.substitute import is_only_substitution

ENC_VALUE = re.compile(r"^ENC\[[A-Z0-9_]+,data:.*\]$", re.S)
BENIGN_SECRET_TYPES = {"kubernetes.io/service-account-token"}


def _sops_meta(body) -> dict | None:
    meta = body.get("sops") if isinstance(body, dict) else None
    return meta if isinstance(meta, dict) else None


def _recipients(meta: dict) -> list[str]:
    out = []
    for key in ("age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault"):
        for entry in meta.get(key) or []:
            if isinstance(entry, dict):
                out.append(str(entry.get("recipient") or entry.get("fp") or entry.get("arn") or entry.get("resource_id")
                               or entry.get("vault_address") or key))
    for group in meta.get("key_groups") or []:
        if isinstance(group, dict):
            out.extend(_recipients(group))
    return out


def plaintext_keys(body: dict) -> list[str]:
    """Keys under data/stringData whose value is not a SOPS ENC[...] value (names only)."""
    keys = []
    for section in ("data", "stringData"):
        values = body.get(section)
        if not isinstance(values, dict):
            continue
        for k, v in values.items():
            if v is None or v == "":
                continue  # SOPS leaves empty values unencrypted; nothing leaks
            if isinstance(v, str) and ENC_VALUE.match(v):
                continue
            if is_only_substitution(v):
                continue  # `${VAR}` is filled in by Flux from an encrypted source
            keys.append(f"{section}.{k}")
    return keys


@check(
    id="secrets.sops-encrypted",
    title="Every Secret in Git is SOPS-encrypted",
    severity="critical",
    rationale="""
        A Kubernetes Secret committed in plaintext is readable by anyone with access to the repository, its
        forks, clones and CI logs, forever: Git history keeps it after the file is fixed. Base64 in `data:` is
        an encoding, not encryption. Every Secret document, deployed or not (archives included), must carry
        SOPS metadata (a MAC and at least one recipient) and have every value encrypted.""",
    remediation="""
        Encrypt the file with `sops --encrypt --in-place <file>` (a `.sops.yaml` creation rule with
        `encrypted_regex: ^(data|stringData)$` and your age recipient), rotate any credential that was ever
        committed in plaintext, and consider moving it to External Secrets.""",
    references=[
        "https://getsops.io/docs/",
        "https://fluxcd.io/flux/guides/mozilla-sops/",
        "NSA/CISA Kubernetes Hardening Guide v1.2, 'Secrets'",
        "CIS Kubernetes Benchmark 5.4.1 (prefer secrets as files), 5.4.2 (external secret storage)",
    ],
)
def sops_encrypted(inv, options):
    for doc in inv.documents:
        if doc.origin != "git" or doc.kind != "Secret" or not isinstance(doc.body, dict):
            continue
        body = doc.body
        md = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        name = str(md.get("name", "?"))
        subject = f"Secret {name} ({doc.path})"
        resource = {"apiVersion": doc.api_version, "kind": "Secret", "namespace": md.get("namespace"), "name": name,
                    "origin": "git"}
        loc = Location(doc.path, doc.line)
        meta = _sops_meta(body)
        has_values = bool(plaintext_keys(body))
        if body.get("type") in BENIGN_SECRET_TYPES and not body.get("data") and not body.get("stringData"):
            yield passed(inv, subject, "service-account token Secret without data: nothing to encrypt",
                         resource=resource, location=loc, evidence={"type": body.get("type")})
            continue
        if meta is None:
            if not has_values:
                yield passed(inv, subject, "Secret holds no literal values (empty or only ${VAR} substitutions)",
                             resource=resource, location=loc, evidence={"encryption": "none needed"})
                continue
            keys = plaintext_keys(body)
            yield failed(inv, subject, f"plaintext Secret {name}: keys {', '.join(keys)} are not encrypted",
                         resource=resource, location=Location(doc.path, inv.line_of(doc, (keys[0].split('.', 1)[0],))),
                         evidence={"plaintext_keys": keys, "sops": False})
            continue
        problems = []
        if not meta.get("mac"):
            problems.append("SOPS metadata has no MAC")
        if not _recipients(meta):
            problems.append("SOPS metadata has no recipient")
        keys = plaintext_keys(body)
        if keys:
            problems.append(f"keys {', '.join(keys)} are plaintext (added after encryption?)")
        if problems:
            line = inv.line_of(doc, (keys[0].split(".", 1)[0], keys[0].split(".", 1)[1])) if keys else doc.line
            yield failed(inv, subject, f"Secret {name} is only partly encrypted: " + "; ".join(problems),
                         resource=resource, location=Location(doc.path, line),
                         evidence={"plaintext_keys": keys, "recipients": len(_recipients(meta))})
        else:
            yield passed(inv, subject, f"Secret {name} is SOPS-encrypted to {len(_recipients(meta))} recipient(s)",
                         resource=resource, location=loc,
                         evidence={"recipients": _recipients(meta), "lastmodified": meta.get("lastmodified")})
