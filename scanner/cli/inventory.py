"""`posture inventory PATH`: list (or render) what Flux deploys from a repository, and what the scan
could not see, or (--diff REF) what a change deploys. Exit 0; 2 on usage errors (an unknown REF); 3 when
nothing is deployed or a root cannot be resolved (the message names the flag that fixes it)."""
from __future__ import annotations

import sys

import click

from scanner.cli.errors import PostureCommand

FORMATS = ("table", "json", "yaml")


@click.command("inventory", cls=PostureCommand)
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=str))
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="table (default on a terminal), json (default otherwise; schema: reports/schema/inventory/inventory.schema.json) or yaml.")
@click.option("--rendered", is_flag=True,
              help="Print the deployed objects themselves as one YAML stream (Secret values replaced, SOPS metadata dropped).")
@click.option("--root", "roots", multiple=True, metavar="PATH",
              help="A Flux sync path to start from (repeatable); replaces discovery of FluxInstance/gotk-sync roots.")
@click.option("--cluster-root", metavar="NAME",
              help="In a repo with several clusters, only this one (its name as the listing shows it).")
@click.option("--namespace", "-n", "namespaces", multiple=True, help="Only objects in this namespace (repeatable).")
@click.option("--kind", "kinds", multiple=True, help="Only objects of this kind (repeatable).")
@click.option("--ks", "ks", multiple=True, metavar="NAME",
              help="Only objects deployed by this Flux Kustomization or HelmRelease (name or ns/name; repeatable).")
@click.option("--unseen", is_flag=True, help="Only what the scan could not see (the coverage gaps).")
@click.option("--diff", "diff_ref", metavar="REF",
              help="What the working tree changes in the deployed objects against the commit REF: a unified diff "
                   "of the two --rendered streams (REF's files are read from git's object store into a scratch "
                   "directory; nothing is checked out and no repo hook or filter runs).")
@click.option("--kustomize", "kustomize_mode", type=click.Choice(("auto", "binary", "native")), default="auto",
              show_default=True, help="How kustomizations are built: the real kustomize, the exact native subset, or both.")
@click.option("--kustomize-bin", type=click.Path(dir_okay=False), help="A kustomize or kubectl binary to use instead of the bundled one.")
@click.option("--charts-dir", type=click.Path(file_okay=False),
              help="The chart cache (`posture charts pull` fills it; default: the user cache directory).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave matching files out (gitignore syntax, repeatable).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="posture.yaml (default: PATH/posture.yaml).")
def inventory(path, fmt, rendered, roots, cluster_root, namespaces, kinds, ks, unseen, diff_ref, kustomize_mode,
              kustomize_bin, charts_dir, exclude, config_path):
    """List what Flux deploys from the repository at PATH, per cluster, and what could not be seen."""
    from reports import inventory as inv_report
    from scanner.cli.params import split_list
    from scanner.core.options import ScanOptions
    from scanner.engine import config as config_mod

    config = config_mod.load(config_path, path)
    options = ScanOptions(path=path, roots=tuple(roots) or tuple(config.roots), cluster_root=cluster_root,
                          exclude=split_list(exclude) + tuple(config.exclude), kustomize_mode=kustomize_mode,
                          kustomize_bin=kustomize_bin, charts_dir=charts_dir,
                          max_file_bytes=config.max_file_bytes or ScanOptions.max_file_bytes)
    filters = {"namespaces": namespaces, "kinds": kinds, "ks": ks, "unseen_only": unseen}
    if diff_ref:
        click.echo(_diff(diff_ref, options, config, filters), nl=False)
        return
    inv, reason = _read(options, config)
    doc = inv_report.document(inv, **filters)
    if rendered:
        out = inv_report.render_manifests(inv, doc)
    else:
        fmt = fmt or ("table" if sys.stdout.isatty() else "json")
        out = {"table": inv_report.render_table, "json": inv_report.render_json, "yaml": inv_report.render_yaml}[fmt](doc)
    click.echo(out, nl=False)
    if reason:
        click.echo(f"posture: scan could not run: {reason}", err=True)
        sys.exit(3)


def _read(options, config):
    """(inventory, why the scan could not run or None)."""
    from scanner.engine.repository import could_not_run, inventory_settings, read_repository

    inv = read_repository(options, inventory_settings(options, roots=options.roots), config=config.raw).inventory
    return inv, could_not_run(inv, explicit_roots=bool(options.roots))


def _diff(ref: str, options, config, filters: dict) -> str:
    """The unified diff of REF's rendered objects and the working tree's, read with the same options
    (the working tree's posture.yaml and flags), so the diff shows the change and nothing else."""
    import dataclasses
    import difflib
    import tempfile

    from reports import inventory as inv_report
    from scanner.sources.gitexport import export_tree

    def rendered(opts) -> str:
        inv, _ = _read(opts, config)
        return inv_report.render_manifests(inv, inv_report.document(inv, **filters))

    with tempfile.TemporaryDirectory(prefix="posture-diff-") as scratch:
        base = export_tree(options.path, ref, scratch, max_file_bytes=options.max_file_bytes)
        for name, why in base.skipped:
            click.echo(f"posture: {ref}: {name} not read: {why}", err=True)
        before = rendered(dataclasses.replace(options, path=scratch))
    after = rendered(options)
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=f"{ref} ({base.commit[:12]})", tofile="working tree")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


COMMANDS = [inventory]
