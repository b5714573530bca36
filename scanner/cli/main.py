"""The `posture` command line. Exit codes (scanner.core.errors): 0 gates hold, 1 a gate failed,
2 usage or configuration error, 3 the scan could not run, 130 interrupted."""
from __future__ import annotations

import sys

import click

from scanner import __version__
from scanner.cli.errors import PostureCommand
from scanner.cli.params import FiniteFloat
from scanner.core.errors import EXIT_GATE_FAILED, EXIT_INTERRUPTED, EXIT_PASS, ReportError, UsageError
from scanner.core.model import SEVERITIES

# The engine (scanner.api), the check registry, gates and terminal output are imported inside the
# commands that use them, and the optional command modules (snapshots: cryptography) only when one
# of their commands is invoked or listed: `posture scan` loads nothing it does not run.

DEFAULT_FORMATS = "json"


def _formats(value: str) -> list[str]:
    from reports.registry import ALIASES, formatters

    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    known = set(formatters())
    bad = [n for n in names if ALIASES.get(n, n) not in known]
    if bad:
        raise click.BadParameter(f"unknown format(s) {', '.join(bad)}; available: {', '.join(sorted(known))}")
    return names


class _Progress:
    """A one-line progress indicator on stderr, only when stderr is a terminal."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()

    def __call__(self, msg: str) -> None:
        if self.enabled:
            sys.stderr.write(f"\r\033[K posture: {msg}…")
            sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


class _Group(click.Group):
    """Its commands are PostureCommands: a PostureError ends them with the mapped exit code."""

    command_class = PostureCommand


_Group.group_class = _Group


class _LazyGroup(_Group):
    """Adds the optional command modules (see _attach_optional_commands) on first need."""

    _optional_loaded = False

    def _load_optional(self) -> None:
        if not _LazyGroup._optional_loaded:
            _LazyGroup._optional_loaded = True
            _attach_optional_commands()

    def get_command(self, ctx, cmd_name):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None:
            self._load_optional()
            cmd = super().get_command(ctx, cmd_name)
        return cmd

    def list_commands(self, ctx):
        self._load_optional()
        return super().list_commands(ctx)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="posture")
def main() -> None:
    """Security posture scanner for GitOps Kubernetes clusters (Flux, Talos, SOPS)."""


@main.command()
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=str))
@click.option("--format", "formats", default=DEFAULT_FORMATS, show_default=True,
              help="Comma-separated: json, html, sarif, junit, markdown, prometheus.")
@click.option("--output-dir", "-o", default="out", show_default=True, help="Where reports are written.")
@click.option("--fail-under", type=FiniteFloat(0, 101), help="Fail (exit 1) when the overall score is below this.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), help="Fail when a finding of this severity or worse fails.")
@click.option("--only", multiple=True, help="Run only these layers or check ids (repeatable, or comma-separated).")
@click.option("--skip", multiple=True, help="Leave out these layers or check ids (repeatable, or comma-separated).")
@click.option("--exclude", multiple=True, metavar="GLOB",
              help="Leave matching files out of the scan (gitignore syntax, repeatable; adds to posture.yaml `exclude:`).")
@click.option("--root", "roots", multiple=True, metavar="DIR", help="Scan this sub-tree as a Flux root (repeatable).")
@click.option("--cluster-root", metavar="NAME",
              help="In a repo with several clusters, follow only the Flux root of this cluster.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="posture.yaml (default: PATH/posture.yaml).")
@click.option("--cluster", is_flag=True, help="Also scan the live cluster (read-only) through the Kubernetes API.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="kubeconfig file (default: $KUBECONFIG, in-cluster).")
@click.option("--context", help="kubeconfig context.")
@click.option("--inspect-tls", is_flag=True, help="Live: read kubernetes.io/tls Secrets to check certificates (needs get on those Secrets).")
@click.option("--baseline", help="Earlier JSON report or archive entry (archive:DIR@latest, @-1, @2026-01-31) to compare with.")
@click.option("--fail-on-new", type=click.Choice(SEVERITIES), help="With --baseline: fail only on new findings this severe.")
@click.option("--max-score-drop", type=FiniteFloat(0, 100), help="With --baseline: fail when the score drops by more than this.")
@click.option("--history", type=click.Path(file_okay=False), help="Snapshot archive for the HTML trend chart.")
@click.option("--age-key", type=click.Path(dir_okay=False), envvar="SOPS_AGE_KEY_FILE", show_envvar=True,
              help="age key file so SOPS MACs can be verified.")
@click.option("--opnsense-config", type=click.Path(dir_okay=False, exists=True),
              help="OPNsense config.xml backup: check the perimeter firewall too.")
@click.option("--no-cache", is_flag=True,
              help="Do not reuse recorded `sops filestatus` answers (they are keyed by the file's exact bytes).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the verdict line.")
@click.option("-v", "--verbose", count=True, help="More detail (-vv: every finding and scan error).")
def scan(**flags):
    """Scan a GitOps repository at PATH (and/or a live cluster) and write reports."""
    from reports.interface import RenderOptions
    from reports.registry import write_reports
    from scanner.cli.options import scan_setup
    from scanner.cli.terminal import print_summary
    from scanner.engine.gates import evaluate_gates
    from scanner.engine.pipeline import scan as run_scan

    fmts = _formats(flags["formats"])
    options, config, gates = scan_setup(flags)
    if (gates.fail_on_new is not None or gates.max_score_drop is not None) and not gates.baseline:
        raise click.UsageError("--fail-on-new and --max-score-drop compare with a baseline: give --baseline")
    baseline_report = None
    if gates.baseline:
        from scanner.snapshots.archive import load_report

        baseline_report = load_report(gates.baseline)  # SnapshotError: a usage error, before the scan
    history = ()
    if flags["history"]:
        from scanner.engine.history import load_history

        history = tuple(load_history(flags["history"]))
    progress = _Progress(not flags["quiet"])
    try:
        report = run_scan(options, config, progress=progress).report
    finally:
        progress.done()
    report = report.with_gate(evaluate_gates(report, gates, baseline_report))
    output_dir = flags["output_dir"]
    try:
        written = write_reports(report, fmts, output_dir, RenderOptions(history=history))
    except OSError as exc:
        raise ReportError(f"cannot write reports to {output_dir}: {exc}") from None
    print_summary(report, written, quiet=flags["quiet"], verbose=flags["verbose"])
    sys.exit(EXIT_PASS if report.gate.passed else EXIT_GATE_FAILED)


@main.group()
def checks():
    """The check catalogue."""


@checks.command("list")
@click.option("--layer", help="Only this layer.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--markdown", "as_markdown", is_flag=True, help="The documented catalogue (docs/checks.md).")
def checks_list(layer, as_json, as_markdown):
    """List every check: id, severity, title."""
    from scanner.engine.plugins import discover as discover_checks

    specs, errors = discover_checks()
    specs = [s for s in specs if not layer or s.layer == layer]
    if as_markdown:
        from scanner.engine.catalogue import markdown

        click.echo(markdown(specs), nl=False)
        return
    if as_json:
        import json

        click.echo(json.dumps([s.catalogue_entry() for s in specs], indent=2))
        return
    current = None
    for s in specs:
        if s.layer != current:
            current = s.layer
            click.echo(click.style(f"\n{current}", bold=True))
        click.echo(f"  {s.id:<48} {s.severity:<9} {s.title}")
    for e in errors:
        click.echo(f"warning: {e}", err=True)


@checks.command("show")
@click.argument("check_id")
def checks_show(check_id):
    """Show one check: why it matters, how to fix, references."""
    from scanner.checkapi.options import describe
    from scanner.engine.plugins import discover as discover_checks

    specs, _ = discover_checks()
    for s in specs:
        if s.id == check_id:
            click.echo(click.style(f"{s.id}  ({s.layer}, {s.severity})", bold=True))
            click.echo(f"{s.title}\n")
            click.echo(click.style("Why it matters", underline=True))
            click.echo(f"{s.rationale}\n")
            click.echo(click.style("How to fix", underline=True))
            click.echo(f"{s.remediation}\n")
            options = describe(s.options)
            if options:
                click.echo(click.style("Options (posture.yaml checks.<id>)", underline=True))
                for o in options:
                    click.echo(f"  {o['name']} ({o['type']}, default {o['default']!r}): {o['description']}")
                click.echo("")
            if s.references:
                click.echo(click.style("References", underline=True))
                for r in s.references:
                    click.echo(f"  - {r}")
            return
    raise UsageError(f"no check {check_id!r}; see `posture checks list`")


def _attach_optional_commands() -> None:
    """Commands that live in their own modules (snapshots, leaks) register here when present."""
    for module_name in ("scanner.cli.snapshots", "scanner.cli.leaks"):
        try:
            module = __import__(module_name, fromlist=["COMMANDS"])
        except ImportError:
            continue
        for cmd in getattr(module, "COMMANDS", []):
            main.add_command(cmd)



def run() -> None:
    """The `posture` console script: click's own handling, except that Ctrl-C exits 130 (click's
    standalone mode prints "Aborted!" and exits 1)."""
    try:
        rv = main.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("posture: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("posture: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(rv if isinstance(rv, int) else 0)
