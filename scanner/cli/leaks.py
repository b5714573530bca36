"""`posture leaks FILE...`: the pre-commit fast mode.

Parses only the files given and runs the leak checks (`secrets.sops-encrypted`,
`secrets.no-plaintext-credentials`) over them. Exit 1 when any finding fails, 0 otherwise, 2 on
usage errors. Findings are printed with file, line and key names; values are never printed. Every
file given is scanned by the same detector as `posture scan` (detect-secrets shapes, key names,
PEM blocks), whatever its type: `.env`, `.key`, JSON, files with NUL bytes.
"""
from __future__ import annotations

import os
import sys

import click

from scanner.cli.errors import PostureCommand
from scanner.core.redact import terminal_safe

LEAK_CHECKS = ("secrets.sops-encrypted", "secrets.no-plaintext-credentials")
LEAK_PLUGIN = "secrets"  # the entry point (checks.secrets) that holds LEAK_CHECKS: the hook loads no other


def _root_of(paths: list[str]) -> str:
    """The git work tree holding the files when there is one (for .sops.yaml lookups), else their common dir."""
    from scanner.sources.discover import work_tree_above

    absd = [os.path.abspath(p) for p in paths]
    common = os.path.commonpath([os.path.dirname(p) for p in absd]) if absd else os.getcwd()
    return work_tree_above(common) or common


def run_leaks(paths: list[str]):
    from scanner.engine.config_values import Config
    from scanner.engine.runner import run_checks
    from scanner.inventory.build import build_inventory
    from scanner.core.model import ScanError
    from scanner.sources.parse import parse_file
    from scanner.engine.plugins import discover

    root = _root_of(paths)
    rels, docs, errors = [], [], []
    for p in paths:
        rel = os.path.relpath(os.path.abspath(p), root).replace(os.sep, "/")
        rels.append(rel)
        if rel.lower().endswith((".yaml", ".yml")):
            d, e = parse_file(root, rel)
            docs.extend(d)
            errors.extend(e)
    inv = build_inventory(root, docs, rels, errors, read_flux=False)
    specs, load_errors = discover(only=(LEAK_PLUGIN,))
    if not set(LEAK_CHECKS) <= {s.id for s in specs}:  # moved to another plugin: look everywhere
        specs, load_errors = discover()
    specs = [s for s in specs if s.id in LEAK_CHECKS]
    for msg in load_errors:
        inv.errors.append(ScanError("(plugins)", None, msg, kind="check", code="plugin-load-failed"))
    return run_checks(specs, inv, Config()), inv


@click.command("leaks", cls=PostureCommand)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-q", "--quiet", is_flag=True, help="Print only failing findings.")
def leaks(files, quiet):
    """Pre-commit mode: look for plaintext secrets in FILES only (exit 1 on any)."""
    outcomes, inv = run_leaks(list(files))
    failing = 0
    for out in outcomes:
        if out.error:
            click.echo(f"posture leaks: check {out.spec.id} failed: {out.error}", err=True)
            continue
        for r in out.results:
            if r.status != "fail":
                continue
            failing += 1
            loc = r.location
            where = f"{loc.path}:{loc.line or ''}" if loc else "?"
            click.echo(terminal_safe(f"{where}: {r.severity or out.spec.severity}: {out.spec.id}: {r.message}"))
    for e in inv.errors:
        if e.kind != "notice" and not quiet:
            click.echo(terminal_safe(f"posture leaks: {e.path}{':' + str(e.line) if e.line else ''}: [{e.code}] "
                                     f"{e.message}"),
                       err=True)
    if not quiet:
        click.echo(f"posture leaks: {len(files)} file(s), {failing} leak(s)" if failing else
                   f"posture leaks: {len(files)} file(s), no leak found")
    sys.exit(1 if failing else 0)


COMMANDS = [leaks]
