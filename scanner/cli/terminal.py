"""The terminal summary: each layer's score as a bar, the worst findings, the gate verdict."""
from __future__ import annotations

import click

from scanner.core.model import LAYERS, SEVERITY_RANK
from scanner.core.redact import terminal_safe as _safe

_COLOURS = {"A": "green", "B": "green", "C": "yellow", "D": "yellow", "F": "red", None: "white"}
_SEV_COLOURS = {"critical": "red", "high": "red", "medium": "yellow", "low": "cyan", "info": "white"}


def _bar(score: float | None, width: int = 20) -> str:
    if score is None:
        return " " * width
    filled = int(round(score / 100 * width))
    return "█" * filled + "░" * (width - filled)


def print_summary(report: dict, written: list[str], *, quiet: bool = False, verbose: int = 0) -> None:
    score = report["score"]
    gate = report["gate"]
    verdict = "PASS" if gate["passed"] else "FAIL"
    line = (f"posture: overall {score['overall']:.1f} ({score['grade']}), "
            f"{sum(1 for c in report['checks'] if c['status'] == 'fail')} failing checks, "
            f"{sum(1 for e in report['errors'] if e.get('kind') != 'notice')} scan errors"
            + (f"; gate {verdict}" if gate["evaluated"] else ""))
    if quiet:
        click.echo(line)
        return
    stats = report["scan"].get("stats", {})
    click.echo(click.style("gitops-posture", bold=True) +
               f"  {stats.get('files', 0)} files, {stats.get('documents', 0)} documents, "
               f"{stats.get('workloads', 0)} workloads, {stats.get('routes', 0)} routes "
               f"in {report['scan'].get('duration_s', 0):.2f}s")
    ep = report["scan"].get("entry_point") or {}
    if ep.get("note"):
        click.echo(f"  {_safe(ep['note'])}")
    click.echo("")
    for layer in LAYERS:
        info = score["layers"].get(layer)
        if not info:
            continue
        s = info["score"]
        text = "  n/a" if s is None else f"{s:5.1f}"
        fails = sum(info["findings"].values())
        click.echo(f"  {layer:<15} " + click.style(_bar(s), fg=_COLOURS.get(info["grade"])) +
                   f" {text} {info['grade'] or '-'}  {fails} open")
    bare = score.get("without_mitigations") or {}
    if bare.get("mitigated_findings"):
        click.echo(f"\n  {bare['mitigated_findings']} findings mitigated by another layer (node defaults, admission, "
                   f"cluster-wide policy); without them: {bare['overall']:.1f} ({bare['grade']})")
    findings = [dict(f, check=c["id"]) for c in report["checks"] for f in c["findings"] if f["status"] == "fail"]
    findings.sort(key=lambda f: -SEVERITY_RANK.get(f["severity"], 0))
    limit = len(findings) if verbose >= 2 else 10
    if findings:
        click.echo(click.style(f"\nWorst findings ({len(findings)} failing):", bold=True))
        for f in findings[:limit]:
            loc = f.get("location") or {}
            where = (f"{loc['path']}:{loc['line']}" if loc.get("line") else loc["path"]) if loc.get("path") else ""
            click.echo("  " + click.style(f"{f['severity']:<8}", fg=_SEV_COLOURS.get(f["severity"])) +
                       _safe(f" {f['check']}: {f['message']}" + (f"  [{where}]" if where else "")))
        if len(findings) > limit:
            click.echo(f"  … and {len(findings) - limit} more (see the report, or -vv)")
    notices = [e for e in report["errors"] if e.get("kind") == "notice"]
    errors = [e for e in report["errors"] if e.get("kind") != "notice"]
    for n in notices:  # degraded modes the user should know about (no sops binary, no age key)
        click.echo(click.style("\nNotice: ", bold=True) + _safe(n["message"]))
    if errors:
        click.echo(click.style(f"\nScan errors ({len(errors)}):", bold=True))
        for e in errors[: (len(errors) if verbose >= 1 else 5)]:
            click.echo("  " + _safe(f"{e['path']}{':' + str(e['line']) if e.get('line') else ''}: {e['message']}"))
        if len(errors) > 5 and verbose < 1:
            click.echo(f"  … and {len(errors) - 5} more (-v)")
    if gate["evaluated"]:
        click.echo("")
        if gate["passed"]:
            click.echo(click.style("Gate PASS", fg="green", bold=True))
        else:
            click.echo(click.style("Gate FAIL", fg="red", bold=True) + ": " + _safe("; ".join(gate["reasons"])))
    for w in written:
        click.echo(f"wrote {_safe(w)}")
    click.echo(line)
