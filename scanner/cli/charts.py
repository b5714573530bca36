"""`posture charts pull [PATH]` and `posture charts list`: the chart cache that lets a scan render
HelmReleases whose charts live in chart repositories.

`pull` is the only command that goes online: it fetches every chart the repository's HelmReleases
pin (HTTP and OCI Helm repositories, OCIRepository sources) at the version they pin, checks its
digest and records it. A scan afterwards reads the cache only. Exit codes: 0 every chart is in
the cache, 1 some could not be pulled, 2 usage errors."""
from __future__ import annotations

import os

import click


def default_charts_dir() -> str:
    """<user cache dir>/gitops-posture/charts (platformdirs: XDG on Linux, ~/Library/Caches on macOS)."""
    import platformdirs

    return os.path.join(platformdirs.user_cache_dir("gitops-posture"), "charts")


def charts_dir_option(f):
    return click.option("--charts-dir", type=click.Path(file_okay=False), default=None,
                        help="The chart cache (default: <user cache dir>/gitops-posture/charts).")(f)


@click.group("charts")
def charts_group() -> None:
    """The chart cache used to render HelmReleases (fill it with `pull` while online)."""


@charts_group.command("pull")
@click.argument("path", required=False, default=".", type=click.Path(exists=True, file_okay=False))
@charts_dir_option
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds per download.")
@click.option("--refresh", is_flag=True, help="Fetch again even when a chart is already in the cache.")
def pull_cmd(path: str, charts_dir: str | None, timeout: float, refresh: bool) -> None:
    """Pull every chart PATH's HelmReleases pin into the chart cache."""
    from scanner.inventory.charts.cache import ChartCache
    from scanner.inventory.charts.pull import PullError, pull
    from scanner.inventory.charts.targets import pull_targets
    from scanner.sources.discover import discover
    from scanner.sources.parse import parse_files

    root = os.path.abspath(path)
    fs = discover(root)
    docs, _ = parse_files(root, fs.yaml_files)
    targets = pull_targets(docs, set(fs.files))
    cache = ChartCache(charts_dir or default_charts_dir())
    failed = 0
    for ref, releases in targets.refs:
        used_by = f" (used by {len(releases)} release{'s' if len(releases) != 1 else ''})"
        try:
            got = pull(ref, cache, timeout=timeout, refresh=refresh)
        except PullError as exc:
            failed += 1
            click.echo(f"failed   {exc}{used_by}", err=True)
            continue
        state = "cached  " if got.cached_before else "pulled  "
        click.echo(f"{state} {ref.describe()} -> {got.version} {got.digest}{used_by}")
    for why in targets.skipped:
        click.echo(f"skipped  {why}")
    click.echo(f"{len(targets.refs) - failed} of {len(targets.refs)} charts in {cache.root}")
    raise click.exceptions.Exit(1 if failed else 0)


@charts_group.command("list")
@charts_dir_option
def list_cmd(charts_dir: str | None) -> None:
    """List the charts in the cache."""
    from scanner.inventory.charts.cache import ChartCache

    cache = ChartCache(charts_dir or default_charts_dir())
    entries = cache.entries()
    for e in entries:
        ref = e.get("ref") or {}
        what = ref.get("url", "?") + (f" {ref.get('chart')}" if ref.get("chart") else "")
        click.echo(f"{what} {ref.get('version')} -> {e.get('version')} {e.get('digest')}")
    click.echo(f"{len(entries)} chart{'s' if len(entries) != 1 else ''} in {cache.root}")


COMMANDS = [charts_group]
