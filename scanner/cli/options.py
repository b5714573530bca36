"""The CLI edge: flags and posture.yaml become the typed objects the engine takes.

`posture scan` builds one ScanOptions (what to scan and how), the parsed posture.yaml (Config) and
one GateOptions (when the run fails). Nothing here is passed on through the environment; the one
environment variable read is SOPS_AGE_KEY_FILE, as the default of --age-key (sops' own convention)."""
from __future__ import annotations

from scanner.cli.params import split_list
from scanner.core.options import ScanOptions, default_cache_dir
from scanner.engine import config as config_mod
from scanner.engine.config import Config
from scanner.engine.gates import GateOptions


def scan_setup(flags: dict) -> tuple[ScanOptions, Config, GateOptions]:
    """(options, posture.yaml, gates) for `posture scan`'s flags. ConfigError / UsageError on bad input."""
    path = flags.get("path")
    config = config_mod.load(flags.get("config_path"), path)
    options = ScanOptions(
        path=path,
        roots=tuple(flags.get("roots") or ()) or tuple(config.roots),
        exclude=split_list(flags.get("exclude")) + tuple(config.exclude),
        cluster=bool(flags.get("cluster")),
        kubeconfig=flags.get("kubeconfig"),
        context=flags.get("context"),
        inspect_tls=bool(flags.get("inspect_tls")),
        cluster_root=flags.get("cluster_root"),
        config_path=config.path,
        max_file_bytes=config.max_file_bytes or ScanOptions.max_file_bytes,
        only=split_list(flags.get("only")),
        skip=split_list(flags.get("skip")),
        age_key_file=flags.get("age_key"),
        sops_bin=flags.get("sops_bin"),
        opnsense_config=flags.get("opnsense_config"),
        kustomize_mode=flags.get("kustomize_mode") or "auto",
        kustomize_bin=flags.get("kustomize_bin"),
        charts_dir=flags.get("charts_dir"),
        fail_under_coverage=flags.get("fail_under_coverage"),
        cache_dir=None if flags.get("no_cache") else default_cache_dir(),
    )
    gates = GateOptions(fail_under=flags.get("fail_under"), fail_on=flags.get("fail_on"),
                        baseline=flags.get("baseline"), fail_on_new=flags.get("fail_on_new"),
                        max_score_drop=flags.get("max_score_drop"),
                        fail_under_coverage=flags.get("fail_under_coverage"))
    return options, config, gates
