"""posture.yaml as the scan uses it: the settings, waivers and per-check options that `config` read and
validated (defaults when there is none). Plain dataclasses: a run that reads no posture.yaml (the
pre-commit hook, `posture leaks`) uses `Config()` without importing the validating models."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from dataclasses import dataclass, field

# Top-level settings every check sees in its options (a per-check `checks.<id>` entry overrides them).
LAYER_WIDE_KEYS = ("accepted_auth_providers", "external_classes", "external_gateways", "internal_classes",
                   "internal_gateways", "exempt_namespaces", "public_routes", "stale_days", "opnsense_config",
                   "host_network_allowed", "native_auth_annotations", "producers")

_IDENT = re.compile(r"^[A-Za-z0-9_.*/-]{1,64}$")


def _safe(key) -> str:
    """A key from the file as shown in a message: identifier-shaped keys only (a key may be anything,
    even a pasted secret)."""
    return str(key) if _IDENT.match(str(key)) else "(a key)"


def _dotted(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{_safe(p)}" if out else _safe(p))
    return out or "(top level)"


def _where(file: str | None, lines: dict, path: tuple) -> str:
    line = None
    for n in range(len(path), -1, -1):
        line = lines.get(path[:n])
        if line is not None:
            break
    name = os.path.basename(file) if file else "posture.yaml"
    return f"{name}:{line} {_dotted(path)}" if line else f"{name} {_dotted(path)}"


@dataclass
class Waiver:
    """An accepted risk from posture.yaml: check and resource globs, reason, owner, expiry."""

    check: str
    resource: str
    reason: str
    expires: dt.date | None = None
    owner: str | None = None
    line: int | None = None
    matched: int = 0

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def finding_view(self, status: str) -> dict:
        """What a waived finding shows of its waiver; `status`: the finding's own (fail or warn)."""
        return {"reason": self.reason, "expires": self.expires.isoformat() if self.expires else None,
                "owner": self.owner, "status": status}

    def as_dict(self, today: dt.date) -> dict:
        return {"check": self.check, "resource": self.resource, "reason": self.reason, "owner": self.owner,
                "expires": self.expires.isoformat() if self.expires else None,
                "expired": self.expired(today), "matched": self.matched}


@dataclass
class Config:
    """posture.yaml as the scan uses it (defaults when there is none)."""

    path: str | None = None
    weights: dict[str, float] = field(default_factory=dict)
    severity_weights: dict[str, float] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    check_options: dict[str, dict] = field(default_factory=dict)
    waivers: list[Waiver] = field(default_factory=list)
    max_file_bytes: int | None = None
    exclude: list[str] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)  # Flux sync paths named in posture.yaml
    raw: dict = field(default_factory=dict)  # layer-wide settings read by checks (accepted providers, ...)
    lines: dict = field(default_factory=dict, repr=False)  # key path -> line, for later errors

    def with_raw(self, **settings) -> "Config":
        """A copy whose layer-wide settings are overridden (a CLI flag wins over posture.yaml)."""
        return dataclasses.replace(self, raw={**self.raw, **settings})

    def options_for(self, check_id: str) -> dict:
        opts = {key: self.raw[key] for key in LAYER_WIDE_KEYS if key in self.raw}
        opts.update(self.check_options.get(check_id, {}))
        return opts

    def where(self, *path) -> str:
        """`posture.yaml:LINE key.path` for messages (the line of the deepest key found)."""
        return _where(self.path, self.lines, tuple(path))
