"""`posture snapshot | history | verify | keygen | diff | snapshots verify`, and the baseline options
`posture scan` adds.

The engine attaches `COMMANDS` to the main group. Exit codes follow the rest of the CLI: 0 done,
1 a verdict the caller asked about is negative (verify: invalid), 2 usage or input errors, 3 the
scan could not run (the cluster could not be read); `verify` also uses 2 for "unsigned", so only 0
means "this snapshot is proven untouched".
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from scanner.cli.errors import PostureCommand
from scanner.core.model import SEVERITIES
from scanner.snapshots import SnapshotError
from scanner.snapshots import archive as arc
from scanner.engine.diff import baseline_gate, diff_reports
from scanner.snapshots.push import push
from scanner.snapshots.render import FORMATS
from scanner.snapshots.retention import Policy
from scanner.snapshots.signing import keygen as make_keys
from scanner.snapshots.signing import load_private_key, load_public_key, verify_file

REF_HELP = "a report JSON file, or archive:DIR@latest | archive:DIR@-N | archive:DIR@<date or name prefix>"


def _fail(message: str, code: int = 2):
    click.echo(f"error: {message}", err=True)
    raise click.exceptions.Exit(code)


@click.command("snapshot", cls=PostureCommand)
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--cluster", is_flag=True, help="Scan the live cluster (with PATH: both, with drift).")
@click.option("--kubeconfig", type=click.Path(exists=True, dir_okay=False), help="Kubeconfig file.")
@click.option("--context", help="Kubeconfig context.")
@click.option("--archive", "archive_dir", required=True, type=click.Path(file_okay=False),
              help="Archive directory (created when missing).")
@click.option("--sign-key", type=click.Path(exists=True, dir_okay=False),
              help="Ed25519 private key (from `posture keygen`) to sign the snapshot with.")
@click.option("--keep-daily", type=click.IntRange(min=0), default=0, show_default=True,
              help="Keep the newest snapshot of each of the last N days that have one.")
@click.option("--keep-weekly", type=click.IntRange(min=0), default=0, show_default=True,
              help="... of each of the last N ISO weeks.")
@click.option("--keep-monthly", type=click.IntRange(min=0), default=0, show_default=True,
              help="... of each of the last N months. No --keep-* option: nothing is pruned.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), help="posture.yaml.")
@click.option("--format", "formats", default="", help="Also write these report formats (e.g. prometheus).")
@click.option("--output-dir", type=click.Path(file_okay=False), help="Where --format reports go.")
@click.option("--pushgateway", metavar="URL",
              help="Also push the metrics to this Prometheus Pushgateway (job=gitops-posture, source=...).")
def snapshot(path, cluster, kubeconfig, context, archive_dir, sign_key, keep_daily, keep_weekly,
             keep_monthly, config_path, formats, output_dir, pushgateway):
    """Scan and store the report in a snapshot archive.

    PATH defaults to the current directory unless --cluster is given. Exits 0 whatever the score: a snapshot is a
    record, not a gate (alert on the metrics, gate in CI with `posture scan`). A failed metrics push
    is a warning, not a failure: a retried job would store a second snapshot, and the
    PostureScanStale alert notices missing metrics."""
    wanted = _report_formats(formats)
    if wanted and not output_dir:
        raise click.UsageError("--format needs --output-dir")
    if pushgateway and not pushgateway.startswith(("http://", "https://")):
        raise click.BadParameter("must be an http:// or https:// URL", param_hint="--pushgateway")
    key = Path(sign_key) if sign_key else None
    try:
        if key:  # a bad key must fail before a long scan, not after
            load_private_key(key)
    except SnapshotError as exc:
        _fail(str(exc))
    from reports.registry import write_reports
    from scanner.analysis.fingerprints import FingerprintKeyError, archive_key
    from scanner.cli.options import scan_setup
    from scanner.engine import pipeline

    try:
        # Secret-value fingerprints are keyed with the archive's own key (fingerprint.key, 0600,
        # made on first use): stable from snapshot to snapshot, useless to a reader without the key.
        fp_key = archive_key(archive_dir)
    except (FingerprintKeyError, OSError) as exc:
        _fail(f"fingerprint key of {archive_dir}: {exc}")
    # A PostureError (bad config: 2, unreachable cluster: 3) ends the command (scanner.cli.errors).
    options, config, _ = scan_setup({"path": path or (None if cluster else "."), "cluster": cluster,
                                     "kubeconfig": kubeconfig, "context": context, "config_path": config_path})
    report = pipeline.run_scan(options.with_(fingerprint_key=fp_key), config)
    try:
        # Retention runs inside the store: the new snapshot records what it removed (its chain).
        entry = arc.store(archive_dir, report.to_json_dict(), sign_key=key,
                          policy=Policy(keep_daily, keep_weekly, keep_monthly))
        for written in write_reports(report, wanted, output_dir, None) if wanted else []:
            click.echo(f"wrote {written}")
    except (SnapshotError, OSError) as exc:
        _fail(str(exc))
    removed = entry["pruned"]
    click.echo(f"stored {Path(archive_dir) / entry['file']}  score {_num(entry['overall'])} "
               f"({entry['grade'] or '-'}){'  signed' if entry['signed'] else ''}")
    if removed:
        click.echo(f"pruned {len(removed)} snapshot(s): {', '.join(Path(f).name for f in removed)}")
    if pushgateway:
        from reports.prometheus import render as render_metrics

        try:
            url = push(pushgateway, render_metrics(report), report.source_slug)
        except SnapshotError as exc:
            click.echo(f"warning: snapshot stored, but {exc}", err=True)
        else:
            click.echo(f"pushed metrics to {url}")


def _report_formats(value: str) -> list[str]:
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    if not names:
        return []
    try:
        from reports.registry import ALIASES, formatters
    except ImportError:  # pragma: no cover - reports ship with the package
        return names
    known = set(formatters())
    bad = [n for n in names if ALIASES.get(n, n) not in known]
    if bad:
        raise click.BadParameter(f"unknown format(s) {', '.join(bad)}; available: {', '.join(sorted(known))}",
                                 param_hint="--format")
    return names


def _num(v) -> str:
    return "-" if v is None else f"{v:.1f}" if isinstance(v, (int, float)) else str(v)


@click.command("history", cls=PostureCommand)
@click.option("--archive", "archive_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def history(archive_dir, fmt):
    """List the snapshots in an archive with their scores, oldest first."""
    try:
        items = arc.entries(archive_dir)
    except (SnapshotError, OSError) as exc:
        _fail(str(exc))
    if fmt == "json":
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    if not items:
        click.echo("no snapshots")
        return
    click.echo(f"{'SNAPSHOT':<44} {'SCORE':>6} {'CHANGE':>7} {'GRADE':<5} {'CRIT':>4} {'HIGH':>4} SIGNED")
    previous: dict[str, float] = {}
    for e in items:
        name = Path(e["file"]).name
        if e.get("error"):
            click.echo(f"{name:<44} {e['error']}")
            continue
        change = ""
        if isinstance(e["overall"], (int, float)):
            before = previous.get(e["source"])
            change = f"{e['overall'] - before:+.1f}" if before is not None else ""
            previous[e["source"]] = e["overall"]
        counts = e.get("findings") or {}
        click.echo(f"{name:<44} {_num(e['overall']):>6} {change:>7} {e['grade'] or '-':<5} "
                   f"{counts.get('critical', 0):>4} {counts.get('high', 0):>4} {'yes' if e['signed'] else 'no'}")


@click.command("verify", cls=PostureCommand)
@click.argument("snapshot_ref", metavar="SNAPSHOT")
@click.option("--key", "pub", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Public key (PREFIX.pub from `posture keygen`).")
def verify(snapshot_ref, pub):
    """Check a snapshot's signature: exit 0 valid, 1 invalid (tampered or other key), 2 unsigned.

    One file only: renamed, replayed or deleted snapshots and an edited index show in
    `posture snapshots verify --archive DIR`."""
    try:
        path = arc.resolve(snapshot_ref)
        if not path.is_file():
            raise SnapshotError(f"{path}: no such snapshot")
        verdict = verify_file(path, load_public_key(pub))
    except SnapshotError as exc:
        _fail(str(exc))
    click.echo(verdict.message, err=verdict.status != "valid")
    raise click.exceptions.Exit(verdict.exit_code)


@click.command("keygen", cls=PostureCommand)
@click.argument("prefix")
def keygen(prefix):
    """Write an Ed25519 key pair: PREFIX.key (private, mode 0600) and PREFIX.pub. Never overwrites."""
    try:
        key_path, pub_path = make_keys(prefix)
    except (SnapshotError, OSError) as exc:
        _fail(str(exc))
    click.echo(f"wrote {key_path} (private: keep it secret, e.g. a CI secret or a Kubernetes Secret)")
    click.echo(f"wrote {pub_path} (public: give it to whoever verifies snapshots)")


def _label(ref: str, path: Path) -> str:
    return path.name if ref.startswith(arc.ARCHIVE_PREFIX) else ref


@click.command("diff", cls=PostureCommand, help="What changed from OLD to NEW: score deltas, new, resolved and re-rated "
               "findings. Exits 0 when both load (to gate, use `posture scan --baseline`). "
               "OLD and NEW: " + REF_HELP + ".")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="text", show_default=True)
def diff(old, new, fmt):
    try:
        old_path, new_path = arc.resolve(old), arc.resolve(new)
        result = diff_reports(arc.load_report(str(old_path)), arc.load_report(str(new_path)),
                              _label(old, old_path), _label(new, new_path))
    except SnapshotError as exc:
        _fail(str(exc))
    click.echo(FORMATS[fmt](result), nl=False)


@click.group("snapshots")
def snapshots():
    """Checks over a whole snapshot archive."""


@snapshots.command("verify", cls=PostureCommand)
@click.option("--archive", "archive_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="The archive directory.")
@click.option("--key", "pub", type=click.Path(exists=True, dir_okay=False),
              help="Public key (PREFIX.pub from `posture keygen`): also check every signature.")
@click.option("--state", "state_path", type=click.Path(dir_okay=False),
              help="Remember the newest snapshot verified here; the next verify fails when the archive no "
                   "longer reaches it (the whole archive rolled back).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def snapshots_verify(archive_dir, pub, state_path, fmt):
    """Check the whole archive: signatures, the chain of snapshots, HEAD and the index.

    Reports renamed, copied, replayed, future-dated, edited or deleted snapshots and an edited index,
    one line each. Exit 0 intact, 1 any break, 2 unsigned snapshots (with --key; nothing else wrong)
    or a usage error. Snapshots written before chains existed show as "unchained (legacy)"."""
    from scanner.snapshots.audit import render_text, verify_archive

    try:
        audit = verify_archive(archive_dir, load_public_key(pub) if pub else None, state_path)
    except (SnapshotError, OSError) as exc:
        _fail(str(exc))
    if fmt == "json":
        click.echo(json.dumps(audit.as_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(audit), nl=False)
    raise click.exceptions.Exit(audit.exit_code)


COMMANDS = [snapshot, history, verify, keygen, diff, snapshots]


# --- for `posture scan` ---------------------------------------------------------------------------

def baseline_options(f):
    """Decorator adding --baseline / --fail-on-new / --max-score-drop to the engine's scan command."""
    f = click.option("--max-score-drop", type=click.FloatRange(min=0), default=None, metavar="POINTS",
                     help="With --baseline: fail when the overall score drops more than POINTS.")(f)
    f = click.option("--fail-on-new", type=click.Choice(SEVERITIES), default=None,
                     help="With --baseline: fail on new findings at or above this severity.")(f)
    f = click.option("--baseline", default=None, metavar="SNAPSHOT",
                     help="Gate relative to this earlier report: " + REF_HELP)(f)
    return f


def baseline_reasons(report: dict, baseline: str | None, fail_on_new: str | None,
                     max_score_drop: float | None) -> list[str]:
    """Gate reasons for the scan command; click.UsageError (exit 2) for a missing or bad baseline."""
    if baseline is None:
        if fail_on_new is not None or max_score_drop is not None:
            raise click.UsageError("--fail-on-new and --max-score-drop need --baseline")
        return []
    try:
        base = arc.load_report(baseline)
    except SnapshotError as exc:
        raise click.UsageError(f"--baseline: {exc}") from None
    return baseline_gate(base, report, fail_on_new, max_score_drop)


def load_history(archive_dir: str, source: str | None = None) -> list[dict]:
    """The score series for the HTML trend chart (`posture scan --history DIR`)."""
    try:
        return arc.trend(archive_dir, source)
    except SnapshotError as exc:
        raise click.UsageError(f"--history: {exc}") from None
