"""The terminal summary: each layer's score as a bar, the worst findings, the gate verdict."""
from __future__ import annotations

import click

from scanner.core.model import LAYERS, SEVERITY_RANK
from scanner.engine.report_model import Report

_COLOURS = {"A": "green", "B": "green", "C": "yellow", "D": "yellow", "F": "red", None: "white"}
_SEV_COLOURS = {"critical": "red", "high": "red", "medium": "yellow", "low": "cyan", "info": "white"}


def _bar(score: float | None, width: int = 20) -> str:
    if score is None:
        return " " * width
    filled = int(round(score / 100 * width))
    return "█" * filled + "░" * (width - filled)


def print_summary(report: Report, written: list[str], *, quiet: bool = False, verbose: int = 0) -> None:
    score, gate, scan = report.score, report.gate, report.scan
    problems = report.problems()
    verdict = "PASS" if gate.passed else "FAIL"
    bare = score.overall_without_waivers
    unwaived = f" [{bare:.1f} ({score.grade_without_waivers}) without waivers]" if bare is not None and bare != score.overall else ""
    line = (f"posture: overall {score.overall:.1f} ({score.grade}){unwaived}, "
            f"{sum(1 for c in report.checks if c.status == 'fail')} failing checks, "
            f"{len(problems)} scan errors"
            + (f"; gate {verdict}" if gate.evaluated else ""))
    if quiet:
        click.echo(line)
        return
    stats = scan.stats
    click.echo(click.style("gitops-posture", bold=True) +
               f"  {stats.get('files', 0)} files, {stats.get('documents', 0)} documents, "
               f"{stats.get('workloads', 0)} workloads, {stats.get('routes', 0)} routes "
               f"in {scan.duration_s:.2f}s")
    if scan.entry_point and scan.entry_point.note:
        click.echo(f"  {scan.entry_point.note}")
    click.echo("")
    for layer in LAYERS:
        info = score.layers.get(layer)
        if not info:
            continue
        text = "  n/a" if info.score is None else f"{info.score:5.1f}"
        click.echo(f"  {layer:<15} " + click.style(_bar(info.score), fg=_COLOURS.get(info.grade)) +
                   f" {text} {info.grade or '-'}  {sum(info.findings.values())} open")
    unmitigated = score.without_mitigations
    if unmitigated and unmitigated.mitigated_findings:
        click.echo(f"\n  {unmitigated.mitigated_findings} findings mitigated by another layer (node defaults, admission, "
                   f"cluster-wide policy); without them: {unmitigated.overall:.1f} ({unmitigated.grade})")
    findings = sorted(report.findings("fail"), key=lambda cf: -SEVERITY_RANK.get(cf[1].severity, 0))
    limit = len(findings) if verbose >= 2 else 10
    if findings:
        click.echo(click.style(f"\nWorst findings ({len(findings)} failing):", bold=True))
        for c, f in findings[:limit]:
            click.echo("  " + click.style(f"{f.severity:<8}", fg=_SEV_COLOURS.get(f.severity)) +
                       f" {c.id}: {f.message}" + (f"  [{f.where}]" if f.where else ""))
        if len(findings) > limit:
            click.echo(f"  … and {len(findings) - limit} more (see the report, or -vv)")
    for n in report.errors:  # degraded modes the user should know about (no sops binary, no age key)
        if n.kind == "notice":
            click.echo(click.style("\nNotice: ", bold=True) + f"[{n.code}] {n.message}")
    if problems:
        click.echo(click.style(f"\nScan errors ({len(problems)}):", bold=True))
        for e in problems[: (len(problems) if verbose >= 1 else 5)]:
            click.echo(f"  {e.path}{':' + str(e.line) if e.line else ''}: [{e.code}] {e.message}")
        if len(problems) > 5 and verbose < 1:
            click.echo(f"  … and {len(problems) - 5} more (-v)")
    if gate.evaluated:
        click.echo("")
        if gate.passed:
            click.echo(click.style("Gate PASS", fg="green", bold=True))
        else:
            click.echo(click.style("Gate FAIL", fg="red", bold=True) + ": " + "; ".join(gate.reasons))
    for w in written:
        click.echo(f"wrote {w}")
    click.echo(line)
