"""PyYAML, imported for the whole scanner through here: `from .pyyaml import yaml`.

Importing PyYAML compiles, at module level, the non-printable character class of its pure-Python
reader: a regex over most of Unicode that costs ~3 ms to compile, in each process of a scan. The scan
parses with the C parser, which never uses it, so that one pattern is compiled on its first use
instead (the pure-Python fallback loader still gets the very same pattern).
"""
from __future__ import annotations

import re
import sys


class _CompiledOnFirstUse:
    """Stands in for a compiled pattern: compiles it when one of its methods is first asked for."""

    __slots__ = ("_args", "_pattern")

    def __init__(self, pattern, flags):
        self._args = (pattern, flags)
        self._pattern = None

    def __getattr__(self, name):
        if self._pattern is None:
            self._pattern = re.compile(*self._args)
        return getattr(self._pattern, name)


def _import_yaml():
    if "yaml" in sys.modules:  # (imported already, by the caller's own code or another library)
        return sys.modules["yaml"]
    compile_now = re.compile

    def compile_module_level(pattern, flags=0):
        if sys._getframe(1).f_globals.get("__name__") == "yaml.reader":
            return _CompiledOnFirstUse(pattern, flags)
        return compile_now(pattern, flags)

    re.compile = compile_module_level
    try:
        import yaml
    finally:
        re.compile = compile_now
    return yaml


yaml = _import_yaml()
