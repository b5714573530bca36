"""configMapGenerator and secretGenerator as kustomize v5.8.1 runs them, and its name-suffix hash.

Sources are read in kustomize's order (env files, then literals, then files); keys are checked as
Kubernetes checks ConfigMap keys; a ConfigMap value that is not UTF-8 goes to `binaryData`; binary
and Secret values are base64, broken into 70-character lines (kyaml's encodeBase64). A
generator's own options win over `generatorOptions` for labels and annotations, and either one
can disable the hash or make the object immutable. The hash is computed last, on the object as
every transformer left it (kustomize's HashTransformer): SHA-256 of the JSON of kind, data,
binaryData (ConfigMap) or type, data, stringData (Secret) and an empty name (kustomize looks the
name up by a path it cannot find), its first ten hex digits with 0 1 3 a e mapped to g h k m t.
Anything kustomize would refuse, or that is not plain enough to be sure, raises NotNative.
"""
from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import re

from scanner.inventory.builder.native.model import NotNative, Res
from scanner.inventory.builder.native.reader import has_line_breaks

_ARGS = frozenset({"name", "namespace", "behavior", "literals", "files", "envs", "env", "options"})
_OPTIONS = frozenset({"labels", "annotations", "disableNameSuffixHash", "immutable"})
_CONFIGMAP_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_MAX_LINE = 64 * 1024  # bufio.Scanner's token limit: a longer env line fails the build
_B64_LINE = 70


def generate(k: dict, kdir: str, kfile: str, files: dict[str, bytes]) -> list[Res]:
    """The objects the generators of kustomization `k` (in directory `kdir`) make, in order.
    `files` holds the bytes of every file the plan reads, by repo path."""
    global_opts = _options(k.get("generatorOptions"), "generatorOptions")
    out = []
    for key, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        items = k.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            raise NotNative(f"{key} of '{kfile}' is not a list")
        for args in items:
            out.append(_generate(kind, args, global_opts, kdir, kfile, files))
    return out


def _options(opts, what: str) -> dict:
    if opts is None:
        return {}
    if not isinstance(opts, dict) or not set(opts) <= _OPTIONS:
        raise NotNative(f"{what} holds fields the native builder does not do")
    for key in ("labels", "annotations"):
        m = opts.get(key)
        if m is not None and (not isinstance(m, dict) or not all(isinstance(v, str) for v in m.values())):
            raise NotNative(f"{what}.{key} is not a map of strings")
    for key in ("disableNameSuffixHash", "immutable"):
        if key in opts and not isinstance(opts[key], bool):
            raise NotNative(f"{what}.{key} is not a boolean")
    return opts


def _generate(kind: str, args, global_opts: dict, kdir: str, kfile: str, files: dict[str, bytes]) -> Res:
    allowed = _ARGS | ({"type"} if kind == "Secret" else set())
    if not isinstance(args, dict) or not set(args) <= allowed:
        raise NotNative(f"a generator of '{kfile}' holds fields the native builder does not do")
    name = args.get("name")
    if not isinstance(name, str) or not name:
        raise NotNative(f"a generator of '{kfile}' has no name")
    if args.get("behavior") not in (None, "", "create"):
        raise NotNative(f"generator '{name}' of '{kfile}' merges into or replaces another object")
    namespace = args.get("namespace", "")
    if not isinstance(namespace, str):
        raise NotNative(f"generator '{name}' has a namespace that is not a string")
    local = _options(args.get("options"), f"generator '{name}' options")
    labels = {**(global_opts.get("labels") or {}), **(local.get("labels") or {})}
    annotations = {**(global_opts.get("annotations") or {}), **(local.get("annotations") or {})}
    no_hash = bool(local.get("disableNameSuffixHash") or global_opts.get("disableNameSuffixHash"))
    immutable = bool(local.get("immutable") or global_opts.get("immutable"))

    pairs = _pairs(args, name, kdir, files)
    meta: dict = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    body: dict = {"apiVersion": "v1", "kind": kind, "metadata": meta}
    if kind == "Secret":
        typ = args.get("type", "")
        if not isinstance(typ, str):
            raise NotNative(f"secretGenerator '{name}' has a type that is not a string")
        body["type"] = typ or "Opaque"
        if pairs:
            body["data"] = {k: _base64(v) for k, v in pairs}
    else:
        for k, v in pairs:
            try:
                body.setdefault("data", {})[k] = v.decode("utf-8")
            except UnicodeDecodeError:
                body.setdefault("binaryData", {})[k] = _base64(v)
    if immutable:
        body["immutable"] = True
    return Res(body, None, kfile, needs_hash=not no_hash)


def _strings(args, key: str, name: str) -> list[str]:
    got = args.get(key)
    if got is None:
        return []
    if not isinstance(got, list) or not all(isinstance(x, str) for x in got):
        raise NotNative(f"generator '{name}' {key} are not strings")
    return got


def _pairs(args, name: str, kdir: str, files: dict[str, bytes]) -> list[tuple[str, bytes]]:
    envs = _strings(args, "envs", name)
    env = args.get("env")
    if env is not None:
        if not isinstance(env, str):
            raise NotNative(f"generator '{name}' env is not a string")
        if env:
            envs = envs + [env]
    pairs: list[tuple[str, bytes]] = []
    for src in envs:
        pairs.extend(_env_pairs(_file(src, kdir, files, name), name))
    for src in _strings(args, "literals", name):
        key, sep, value = src.partition("=")
        if not sep or not key:
            raise NotNative(f"generator '{name}' has the literal {src!r}, which kustomize refuses")
        if len(value) >= 1 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        pairs.append((key, value.encode("utf-8")))
    for src in _strings(args, "files", name):
        key, path = _file_source(src, name)
        pairs.append((key, _file(path, kdir, files, name)))
    seen = set()
    for key, value in pairs:
        if has_line_breaks(value.decode("utf-8", "replace")):
            raise NotNative(f"generator '{name}' has a value with a Unicode line break")
        if len(key) > 253 or not _CONFIGMAP_KEY.fullmatch(key) or key in (".", "..") or key.startswith(".."):
            raise NotNative(f"generator '{name}' has the key {key!r}, which kustomize refuses")
        if key in seen:
            raise NotNative(f"generator '{name}' repeats the key {key!r}")
        seen.add(key)
    return pairs


def _file_source(src: str, name: str) -> tuple[str, str]:
    """kustomize's ParseFileSource: `path` (key = its base name) or `key=path`."""
    sep = src.find("=")
    if sep == -1:
        if not src or src.endswith("/"):
            raise NotNative(f"generator '{name}' has the file source {src!r}")
        return posixpath.basename(src), src
    key, path = src[:sep], src[sep + 1:]
    if not key or not path or "=" in path or path.endswith("/"):
        raise NotNative(f"generator '{name}' has the file source {src!r}, which kustomize refuses")
    return key, path


def _file(ref: str, kdir: str, files: dict[str, bytes], name: str) -> bytes:
    if ref.startswith("/"):
        raise NotNative(f"generator '{name}' reads an absolute path")
    p = posixpath.normpath(posixpath.join(kdir, ref)) if kdir else posixpath.normpath(ref)
    data = files.get(p)
    if data is None:
        raise NotNative(f"generator '{name}' reads '{ref}', which the build does not hold as a file")
    return data


def _env_pairs(data: bytes, name: str) -> list[tuple[str, bytes]]:
    """kustomize's env file reading: KEY=VALUE lines, `#` comments, blank lines, no quoting."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for i, raw in enumerate(lines):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if len(raw) > _MAX_LINE:
            raise NotNative(f"generator '{name}' reads an env file with a line kustomize cannot scan")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise NotNative(f"generator '{name}' reads an env file that is not UTF-8") from None
        if i == 0:
            line = line.removeprefix("\ufeff")
        line = line.lstrip(" \t\n\v\f\r")
        if line[:1].isspace():
            raise NotNative(f"generator '{name}' reads an env line starting with unusual white space")
        if not line or line.startswith("#"):
            continue
        key, _sep, value = line.partition("=")
        if not _ENV_NAME.fullmatch(key):
            raise NotNative(f"generator '{name}' reads the env name {key!r}, which kustomize refuses")
        out.append((key, value.encode("utf-8")))
    return out


def _base64(data: bytes) -> str:
    """kyaml's encodeBase64: one line, or 70-character lines each ending in a newline."""
    enc = base64.b64encode(data).decode("ascii")
    if len(enc) < _B64_LINE:
        return enc
    return "".join(enc[i:i + _B64_LINE] + "\n" for i in range(0, len(enc), _B64_LINE))


# -- the hash suffix -------------------------------------------------------------------------------

def _go_json(value) -> str:
    """Go's json.Marshal of decoded JSON values: sorted keys, HTML characters escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


_EXPONENT = re.compile(r"-?[0-9](\.[0-9]+)?e[-+][0-9]+")


def _json_value(v, what: str):
    if isinstance(v, dict):
        return {k: _json_value(x, what) for k, x in v.items()}
    if isinstance(v, list):
        return [_json_value(x, what) for x in v]
    if isinstance(v, str) and _EXPONENT.fullmatch(v):
        # Maybe a float the reader turned into the string the scanner reads back: kustomize
        # hashes the number itself.
        raise NotNative(f"{what} holds a value the hash cannot be computed on here")
    if v is None or isinstance(v, (str, bool, int)):
        return v
    raise NotNative(f"{what} holds a value the hash cannot be computed on here")


def _field(body: dict, key: str, what: str):
    """kustomize's getNodeValues: "" when missing, a mapping as JSON, a scalar as its text."""
    if key not in body:
        return ""
    v = body[key]
    if isinstance(v, dict):
        return _json_value(v, what)
    if isinstance(v, str):
        return v
    raise NotNative(f"{what} has a {key} the native builder does not hash")


def hash_suffix(res: Res) -> str:
    what = f"{res.kind} {res.name}"
    body = res.body
    if res.kind == "ConfigMap":
        m = {"kind": "ConfigMap", "name": "", "data": _field(body, "data", what)}
        if isinstance(body.get("binaryData"), dict):
            m["binaryData"] = _json_value(body["binaryData"], what)
    elif res.kind == "Secret":
        m = {"kind": "Secret", "type": _field(body, "type", what), "name": "",
             "data": _field(body, "data", what)}
        if isinstance(body.get("stringData"), dict):
            m["stringData"] = _json_value(body["stringData"], what)
    else:
        raise NotNative(f"{what} asks for a hash suffix")
    digest = hashlib.sha256(_go_json(m).encode("utf-8")).hexdigest()
    return digest[:10].translate(str.maketrans("013ae", "ghkmt"))
