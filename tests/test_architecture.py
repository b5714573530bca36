"""The stages of the scanner import one way only: a module may import from its own stage and the
stages before it (README "Layout"). An import that runs backwards makes the stages hard to read and
to change alone, so it fails here, naming the module and the line."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Earliest first. `scanner.core` is the ground floor (documents, resources, errors, options) every
# stage may import; `checks` are the plugins, loaded by the engine through entry points only.
STAGES = (
    "scanner.core",
    "scanner.sources",
    "scanner.inventory",
    "scanner.analysis",
    "scanner.checkapi",
    "checks",
    "scanner.engine",
    "reports",
    "scanner.snapshots",
    "scanner.cli",
)


def _stage(module: str) -> int | None:
    for i, stage in enumerate(STAGES):
        if module == stage or module.startswith(stage + "."):
            return i
    return None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # `from scanner import engine` names a package
                yield node.lineno, f"{node.module}.{alias.name}"


def _sources():
    for top in ("scanner", "checks", "reports"):
        yield from sorted((ROOT / top).rglob("*.py"))


def test_every_module_belongs_to_a_stage():
    loose = [_module_name(p) for p in _sources()
             if _stage(_module_name(p)) is None and _module_name(p) not in ("scanner", "scanner.__main__")]
    assert loose == [], f"modules outside every stage: {loose}"


def test_no_stage_imports_a_later_stage():
    backwards = []
    for path in _sources():
        own = _stage(_module_name(path))
        if own is None:
            continue
        for line, target in _imports(path):
            other = _stage(target)
            if other is not None and other > own:
                backwards.append(f"{path.relative_to(ROOT)}:{line} imports {target} ({STAGES[own]} -> {STAGES[other]})")
    assert backwards == [], "imports running backwards:\n" + "\n".join(backwards)


def test_no_relative_imports():
    """Absolute imports show the stage of what is imported at a glance."""
    rel = [f"{p.relative_to(ROOT)}:{n.lineno}" for p in _sources()
           for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))) if isinstance(n, ast.ImportFrom) and n.level]
    assert rel == []
