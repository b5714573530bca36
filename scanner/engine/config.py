"""`posture.yaml`: layer and severity weights, disabled checks, per-check options, waivers, excludes.

The file is untrusted (it sits in the scanned repository), so it is read like a repository file: a
regular file inside the repository (a link out of the tree is refused), at most `MAX_CONFIG_BYTES`,
parsed by the scanner's bounded YAML loader (no alias bombs, no unbounded nesting, dates stay
text). Its shape is validated by a pydantic model (`PostureConfigModel`): unknown keys, wrong types
(`max_file_bytes: true` is not 1), NaN and infinity are a ConfigError naming the key and its line.
Messages never quote the file's content (a config that is a link to /etc/shadow must not print it).

Check ids (in `disabled`, `checks.<id>`, waivers) are checked against the catalogue by
`check_ids` once the checks are known; check options are validated against each check's typed
options model by `validate_check_options`.
"""
from __future__ import annotations

import datetime as dt
import difflib
import os
from typing import Annotated, Any, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator, model_validator

from scanner.core.errors import ConfigError
from scanner.core.model import LAYERS, SEVERITIES, Layer, Severity
from scanner.engine.config_values import LAYER_WIDE_KEYS, Config, Waiver, _safe, _where  # noqa: F401  (re-exported)

CONFIG_NAMES = ("posture.yaml", "posture.yml", ".posture.yaml")
MAX_CONFIG_BYTES = 1024 * 1024
GLOB_CHARS = frozenset("*?[")

Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Name = Annotated[StrictStr, Field(min_length=1)]


class _Strict(BaseModel):
    # Validators built when posture.yaml is first validated: `posture leaks` runs on Config() alone.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True, defer_build=True)


class PublicRoute(_Strict):
    host: Name
    reason: Name


class Producer(_Strict):
    kind: Name
    name_path: Name
    namespace_path: Optional[Name] = None


class WaiverModel(_Strict):
    """An accepted risk: which check, which resource, why, who owns it, until when."""

    check: Name  # a check id, or a glob over ids ("workloads.*")
    resource: Name  # a glob over "Kind/namespace/name", "namespace/name", the name, the subject or the file path
    reason: Name
    owner: Optional[Name] = None
    expires: Optional[dt.date] = None

    @field_validator("expires", mode="before")
    @classmethod
    def _iso_date(cls, value):
        # Dates stay text in the loader: parse them here so `2027-13-45` is an error with its line.
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError("must be a date like 2027-01-31") from None
        return value

    @model_validator(mode="after")
    def _not_everything(self):
        if GLOB_CHARS & set(self.check) and GLOB_CHARS & set(self.resource):
            raise ValueError("a waiver may use wildcards in `check` or in `resource`, not in both: "
                             "name the check or the resource it accepts")
        return self


class PostureConfigModel(_Strict):
    """The whole of posture.yaml. Every key is optional."""

    weights: dict[Layer, Weight] = Field(default_factory=dict)  # layer -> weight in the overall score
    severity_weights: dict[Severity, Weight] = Field(default_factory=dict)  # check severity -> weight in its layer
    disabled: list[Name] = Field(default_factory=list)  # check ids not run
    checks: dict[Name, dict[Name, Any]] = Field(default_factory=dict)  # check id -> its options
    waivers: list[WaiverModel] = Field(default_factory=list)
    max_file_bytes: Optional[Annotated[StrictInt, Field(gt=0)]] = None
    exclude: list[Name] = Field(default_factory=list)  # globs (gitignore syntax) left out of discovery
    roots: list[Name] = Field(default_factory=list)  # Flux sync paths of the repository (like --root)
    # layer-wide settings (every check sees them in its options)
    accepted_auth_providers: Optional[list[Name]] = None
    external_classes: Optional[list[Name]] = None
    external_gateways: Optional[list[Name]] = None
    internal_classes: Optional[list[Name]] = None
    internal_gateways: Optional[list[Name]] = None
    exempt_namespaces: Optional[list[Name]] = None
    public_routes: Optional[list[PublicRoute]] = None
    stale_days: Optional[Annotated[StrictInt, Field(gt=0)]] = None
    opnsense_config: Optional[Name] = None  # a file of the repository (repo-relative); --opnsense-config names any

    @field_validator("opnsense_config")
    @classmethod
    def _inside_the_repository(cls, v):
        # posture.yaml sits in the scanned repository: it may name files of that repository, never one
        # outside it (a path that climbs out or is absolute could read any file of the machine).
        if v is not None and (v.startswith("/") or ".." in v.replace("\\", "/").split("/")):
            raise ValueError("must be a path inside the repository (relative, without '..'); "
                             "a file elsewhere is given with --opnsense-config")
        return v
    host_network_allowed: Optional[list[Name]] = None
    native_auth_annotations: Optional[list[Name]] = None
    producers: Optional[list[Producer]] = None


# ---- reading ----------------------------------------------------------------------------------------

def _line_map(text: str) -> dict[tuple, int]:
    """Key path -> 1-based line of that key (or sequence item), from the composed YAML nodes."""
    out: dict[tuple, int] = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return out
    stack = [((), node)]
    while stack:
        path, n = stack.pop()
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                if isinstance(k, yaml.ScalarNode):
                    sub = path + (k.value,)
                    out.setdefault(sub, k.start_mark.line + 1)
                    stack.append((sub, v))
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                out.setdefault(path + (i,), v.start_mark.line + 1)
                stack.append((path + (i,), v))
    return out


def _read(path: str, repo_root: str | None, explicit: bool) -> bytes:
    """The config's bytes, read like a repository file: a regular file, not a link out of the repo,
    at most MAX_CONFIG_BYTES, never blocking on a FIFO or device."""
    from scanner.sources.parse import read_bytes

    name = os.path.basename(path)
    if repo_root is not None and not explicit:
        real, root = os.path.realpath(path), os.path.realpath(repo_root)
        if os.path.commonpath([real, root]) != root:
            raise ConfigError(f"{name}: a link pointing outside the repository; not read")
    data, err = read_bytes(os.path.dirname(os.path.abspath(path)) or ".", name, MAX_CONFIG_BYTES)
    if err is not None:
        # the reason only (unreadable, not a regular file, too large): never the content
        raise ConfigError(f"{name}: {err.message}", code="config-invalid")
    return data


def parse(data, path: str | None = None, lines: dict | None = None) -> Config:
    """A Config from posture.yaml's parsed data (None: an empty file)."""
    lines = lines or {}
    if data is None:
        return Config(path=path)
    if not isinstance(data, dict):
        raise ConfigError(f"{_where(path, lines, ())}: the top level must be a mapping of settings")
    try:
        model = PostureConfigModel.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, lines)) from None
    raw = model.model_dump(exclude_none=True, include=set(LAYER_WIDE_KEYS))
    return Config(
        path=path, weights=dict(model.weights), severity_weights=dict(model.severity_weights),
        disabled=set(model.disabled), check_options={k: dict(v) for k, v in model.checks.items()},
        waivers=[Waiver(check=w.check, resource=w.resource, reason=w.reason, owner=w.owner, expires=w.expires,
                        line=lines.get(("waivers", i))) for i, w in enumerate(model.waivers)],
        max_file_bytes=model.max_file_bytes, exclude=list(model.exclude), roots=list(model.roots), raw=raw,
        lines=lines)


def _describe(exc: ValidationError, path: str | None, lines: dict, prefix: tuple = (), known=None) -> str:
    """pydantic's errors as `posture.yaml:LINE key.path: what is wrong` lines. Only pydantic's message
    (what was expected), never the input value: the file may hold anything."""
    out = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = prefix + tuple(err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {_safe(loc[-1])!r}" + _suggest(str(loc[-1]), known if known is not None else _known_keys(loc[:-1]))
        elif err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif err["type"] in ("enum", "literal_error") and loc[:1] == ("weights",):
            msg = f"unknown layer (layers: {', '.join(LAYERS)})"
        elif err["type"] in ("enum", "literal_error") and loc[:1] == ("severity_weights",):
            msg = f"unknown severity (severities: {', '.join(SEVERITIES)})"
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
        out.append(f"{_where(path, lines, loc)}: {msg}")
    return "invalid configuration: " + "; ".join(out[:10]) + (f"; and {len(out) - 10} more" if len(out) > 10 else "")


def _known_keys(parent: tuple) -> list[str]:
    if parent == ():
        return list(PostureConfigModel.model_fields)
    if len(parent) == 2 and parent[0] == "waivers":
        return list(WaiverModel.model_fields)
    return []


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load(explicit: str | None, repo_root: str | None) -> Config:
    """posture.yaml: `explicit` (--config), else the repository's own, else defaults."""
    from scanner.sources.yamlload import load_documents

    path = explicit
    if path is None and repo_root:
        for name in CONFIG_NAMES:
            cand = os.path.join(repo_root, name)
            if os.path.lexists(cand):
                path = cand
                break
    if path is None:
        return Config()
    if not os.path.lexists(path):
        raise ConfigError(f"config file {path} does not exist")
    data = _read(path, repo_root, explicit is not None)
    docs, errors = load_documents(data)
    name = os.path.basename(path)
    if errors:
        e = errors[0]
        raise ConfigError(f"{name}{':' + str(e.line) if e.line else ''}: not valid YAML ({e.code})")
    if len(docs) > 1:
        raise ConfigError(f"{name}:{docs[1].line}: one YAML document expected, found {len(docs)}")
    body = docs[0].body if docs else None
    return parse(body, path, _line_map(data.decode("utf-8")) if body is not None else {})


# ---- ids against the catalogue --------------------------------------------------------------------

def check_ids(config: Config, specs) -> None:
    """Every check id posture.yaml names exists (ConfigError with a suggestion otherwise)."""
    ids = [s.id for s in specs]
    for i, cid in enumerate(sorted(config.disabled)):
        if cid not in ids:
            raise ConfigError(f"{config.where('disabled')}: no check {_safe(cid)!r}{_suggest(cid, ids)}")
    for cid in config.check_options:
        if cid not in ids:
            raise ConfigError(f"{config.where('checks', cid)}: no check {_safe(cid)!r}{_suggest(cid, ids)}")
    import fnmatch

    for i, w in enumerate(config.waivers):
        if GLOB_CHARS & set(w.check):
            if not any(fnmatch.fnmatchcase(x, w.check) for x in ids):
                raise ConfigError(f"{config.where('waivers', i, 'check')}: {_safe(w.check)!r} matches no check")
        elif w.check not in ids:
            raise ConfigError(f"{config.where('waivers', i, 'check')}: no check {_safe(w.check)!r}"
                              f"{_suggest(w.check, ids)}")


def check_selectors(selectors, specs, flag: str) -> None:
    """`--only` / `--skip` values name a layer, a check id or an id prefix ending in `*`."""
    from scanner.core.errors import UsageError

    ids = [s.id for s in specs]
    for sel in selectors:
        if sel in LAYERS or sel in ids:
            continue
        if sel.endswith("*") and any(i.startswith(sel[:-1]) for i in ids):
            continue
        raise UsageError(f"{flag} {_safe(sel)!r}: no such layer or check{_suggest(sel, list(LAYERS) + ids)}")


def validate_check_options(config: Config, specs) -> None:
    """Validate each `checks.<id>` entry against the check's options model (and posture.yaml's types
    for the layer-wide keys an entry overrides); keep the validated values. ConfigError otherwise."""
    by_id = {s.id: s for s in specs}
    for cid, given in list(config.check_options.items()):
        spec = by_id.get(cid)
        if spec is None:
            continue  # check_ids reports unknown ids
        fields = spec.options.field_names()
        own = {k: v for k, v in given.items() if k in fields or k not in LAYER_WIDE_KEYS}
        wide = {k: v for k, v in given.items() if k not in own}
        try:
            checked = spec.options.model().model_validate(own).model_dump(include=set(own))
        except ValidationError as exc:
            raise ConfigError(_describe(exc, config.path, config.lines, ("checks", cid),
                                        known=list(fields) + list(LAYER_WIDE_KEYS))) from None
        try:
            layer_wide = PostureConfigModel.model_validate(wide).model_dump(include=set(wide))
        except ValidationError as exc:
            raise ConfigError(_describe(exc, config.path, config.lines, ("checks", cid))) from None
        config.check_options[cid] = {**layer_wide, **checked}
