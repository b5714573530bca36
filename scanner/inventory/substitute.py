"""Flux post-build variable substitution (`${VAR}`, `${VAR:=default}`, `${VAR/a/b}`, `$${VAR}`).

Values stay as written in the inventory; checks call `substitute` only where they need a name."""
from __future__ import annotations

import re

_VAR = re.compile(r"(\$?)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[=-])([^}]*)|/([^/}]*)/([^}]*))?\}")
ONLY_VARS = re.compile(r"^\s*(\$\{[^}]+\}\s*)+$")


def has_vars(text: str) -> bool:
    return isinstance(text, str) and "${" in text


def is_only_substitution(value) -> bool:
    """True for values made only of `${VAR}` references (never plaintext credentials)."""
    return isinstance(value, str) and bool(ONLY_VARS.match(value))


def substitute(text: str, variables: dict[str, str], *, keep_unknown: bool = True) -> str:
    if not isinstance(text, str) or "${" not in text:
        return text

    def repl(m: re.Match) -> str:
        escaped, name, op, default, pat, rep = m.groups()
        if escaped:
            return m.group(0)[1:]  # `$${X}` is an escape: it becomes the literal `${X}`
        value = variables.get(name)
        if value is None and op is not None:
            value = default
        if value is None:
            return m.group(0) if keep_unknown else ""
        value = str(value)
        if pat is not None:
            value = value.replace(pat, rep, 1)
        return value

    return _VAR.sub(repl, text)
