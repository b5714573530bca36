"""`posture.yaml`: layer weights, disabled checks, per-check options and waivers.

Invalid configuration is a `ConfigError` naming the field; the CLI turns it into exit code 2.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
from dataclasses import dataclass, field

import yaml

from scanner.core.errors import ConfigError
from scanner.core.model import LAYERS

CONFIG_NAMES = ("posture.yaml", "posture.yml", ".posture.yaml")
TOP_LEVEL = {"weights", "disabled", "checks", "waivers", "max_file_bytes", "severity_weights", "accepted_auth_providers",
             "external_classes", "external_gateways", "internal_classes", "internal_gateways", "exempt_namespaces",
             "public_routes", "stale_days", "opnsense_config", "host_network_allowed", "native_auth_annotations",
             "producers", "exclude"}


# Top-level settings every check sees in its options (a per-check `checks.<id>` entry overrides them).
LAYER_WIDE_KEYS = ("accepted_auth_providers", "external_classes", "external_gateways", "internal_classes",
                   "internal_gateways", "exempt_namespaces", "public_routes", "stale_days", "opnsense_config",
                   "host_network_allowed", "native_auth_annotations", "producers")




@dataclass
class Waiver:
    """An accepted risk from posture.yaml: check and resource globs, reason, expiry."""

    check: str  # check id or glob ("workloads.*")
    resource: str  # glob over "Kind/namespace/name", the subject or the file path
    reason: str
    expires: dt.date | None = None
    matched: int = 0

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def finding_view(self) -> dict:
        """What a waived finding shows of its waiver."""
        return {"reason": self.reason, "expires": self.expires.isoformat() if self.expires else None}

    def as_dict(self, today: dt.date) -> dict:
        return {"check": self.check, "resource": self.resource, "reason": self.reason,
                "expires": self.expires.isoformat() if self.expires else None,
                "expired": self.expired(today), "matched": self.matched}


@dataclass
class Config:
    """posture.yaml as the scan uses it (defaults when there is none)."""

    path: str | None = None
    weights: dict[str, float] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    check_options: dict[str, dict] = field(default_factory=dict)
    waivers: list[Waiver] = field(default_factory=list)
    max_file_bytes: int | None = None
    exclude: list[str] = field(default_factory=list)  # globs (gitignore syntax) left out of discovery
    raw: dict = field(default_factory=dict)  # layer-wide settings read by checks (accepted providers, ...)

    def with_raw(self, **settings) -> "Config":
        """A copy whose layer-wide settings are overridden (a CLI flag wins over posture.yaml)."""
        return dataclasses.replace(self, raw={**self.raw, **settings})

    def options_for(self, check_id: str) -> dict:
        opts = {}
        for key in LAYER_WIDE_KEYS:
            if key in self.raw:
                opts[key] = self.raw[key]
        opts.update(self.check_options.get(check_id, {}))
        return opts


def _date(value, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{where}: expires must be a date like 2027-01-31, got {value!r}") from None


def parse(data, path: str | None = None) -> Config:
    where = path or "config"
    if data is None:
        return Config(path=path)
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the top level must be a mapping")
    unknown = set(data) - TOP_LEVEL
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(TOP_LEVEL))}")
    cfg = Config(path=path, raw=dict(data))
    weights = data.get("weights") or {}
    if not isinstance(weights, dict):
        raise ConfigError(f"{where}: weights must map layer names to numbers")
    for layer, w in weights.items():
        if layer not in LAYERS:
            raise ConfigError(f"{where}: weights.{layer}: unknown layer (layers: {', '.join(LAYERS)})")
        if not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0:
            raise ConfigError(f"{where}: weights.{layer} must be a number >= 0, got {w!r}")
        cfg.weights[layer] = float(w)
    disabled = data.get("disabled") or []
    if not isinstance(disabled, list) or not all(isinstance(x, str) for x in disabled):
        raise ConfigError(f"{where}: disabled must be a list of check ids")
    cfg.disabled = set(disabled)
    checks = data.get("checks") or {}
    if not isinstance(checks, dict):
        raise ConfigError(f"{where}: checks must map check ids to option mappings")
    for cid, opts in checks.items():
        if not isinstance(opts, dict):
            raise ConfigError(f"{where}: checks.{cid} must be a mapping of options")
        cfg.check_options[str(cid)] = dict(opts)
    waivers = data.get("waivers") or []
    if not isinstance(waivers, list):
        raise ConfigError(f"{where}: waivers must be a list")
    for i, w in enumerate(waivers):
        loc = f"{where}: waivers[{i}]"
        if not isinstance(w, dict):
            raise ConfigError(f"{loc} must be a mapping with check, resource, reason, expires")
        extra = set(w) - {"check", "resource", "reason", "expires"}
        if extra:
            raise ConfigError(f"{loc}: unknown field(s) {', '.join(sorted(extra))}")
        for req in ("check", "reason"):
            if not isinstance(w.get(req), str) or not w.get(req).strip():
                raise ConfigError(f"{loc}.{req} is required (a non-empty string)")
        cfg.waivers.append(Waiver(check=w["check"], resource=str(w.get("resource") or "*"), reason=w["reason"],
                                  expires=_date(w["expires"], f"{loc}.expires") if w.get("expires") is not None else None))
    mfb = data.get("max_file_bytes")
    if mfb is not None:
        if not isinstance(mfb, int) or mfb <= 0:
            raise ConfigError(f"{where}: max_file_bytes must be a positive integer")
        cfg.max_file_bytes = mfb
    for key in ("accepted_auth_providers", "external_classes", "external_gateways", "internal_classes",
                "internal_gateways", "exempt_namespaces", "host_network_allowed", "native_auth_annotations", "exclude"):
        if key in data and not (isinstance(data[key], list) and all(isinstance(x, str) for x in data[key])):
            raise ConfigError(f"{where}: {key} must be a list of strings")
    cfg.exclude = list(data.get("exclude") or [])
    if "opnsense_config" in data and not isinstance(data["opnsense_config"], str):
        raise ConfigError(f"{where}: opnsense_config must be a path to an OPNsense config.xml")
    if "stale_days" in data and (not isinstance(data["stale_days"], int) or data["stale_days"] <= 0):
        raise ConfigError(f"{where}: stale_days must be a positive integer")
    if "public_routes" in data and not isinstance(data["public_routes"], list):
        raise ConfigError(f"{where}: public_routes must be a list of {{host, reason}} mappings")
    return cfg


def load(explicit: str | None, repo_root: str | None) -> Config:
    path = explicit
    if path is None and repo_root:
        for name in CONFIG_NAMES:
            cand = os.path.join(repo_root, name)
            if os.path.isfile(cand):
                path = cand
                break
    if path is None:
        return Config()
    if not os.path.isfile(path):
        raise ConfigError(f"config file {path} does not exist")
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    return parse(data, path)
