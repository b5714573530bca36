"""The `posture` group loads a command's module only when that command runs, and still lists every
command with its short help; `posture leaks` (the pre-commit hook) loads only what it runs."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap

import click
import pytest

from scanner.cli.main import LAZY_COMMANDS, _LazyGroup, main

FAKE_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"  # a GitHub token shape (not a real token)


def _fresh(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_every_lazy_entry_names_a_command_of_its_module():
    for name, entry in LAZY_COMMANDS.items():
        cmd = getattr(importlib.import_module(entry.module), entry.attribute)
        assert isinstance(cmd, click.Command) and cmd.name == name
        assert cmd in importlib.import_module(entry.module).COMMANDS


def test_every_command_module_is_in_the_table():
    listed = {(e.module, e.attribute) for e in LAZY_COMMANDS.values()}
    for module in {e.module for e in LAZY_COMMANDS.values()}:
        for cmd in importlib.import_module(module).COMMANDS:
            assert any(getattr(importlib.import_module(m), a) is cmd for m, a in listed), (module, cmd.name)


@pytest.mark.parametrize("limit", [20, 45, 60, 74, 200])
def test_table_short_help_is_the_commands_own(limit):
    """`posture --help` lists lazy commands from the table: it must read as the command's own help."""
    for name, entry in LAZY_COMMANDS.items():
        cmd = getattr(importlib.import_module(entry.module), entry.attribute)
        assert click.Command(name, help=entry.short_help).get_short_help_str(limit) == cmd.get_short_help_str(limit)


def _commands_listed(group: click.Group, width: int) -> str:
    """The "Commands:" section of the group's help at this width."""
    with click.Context(group, info_name="posture", terminal_width=width, max_content_width=width) as ctx:
        formatter = ctx.make_formatter()
        group.format_commands(ctx, formatter)
        return formatter.getvalue()


@pytest.mark.parametrize("width", [60, 80, 120])
def test_group_help_lists_every_command_as_click_would(width):
    """The listing equals click's own for a plain group holding every command, imported."""
    plain = click.Group("posture")
    for name in main.list_commands(None):
        cmd = main.commands.get(name) or getattr(importlib.import_module(LAZY_COMMANDS[name].module),
                                                 LAZY_COMMANDS[name].attribute)
        plain.add_command(cmd, name)
    expected = _commands_listed(plain, width)
    for name in [*LAZY_COMMANDS, "scan", "checks", "explain", "waive"]:
        assert f"\n  {name} " in expected, name
    # a group as `posture` starts (earlier tests may have loaded commands into `main`): nothing imported yet
    unloaded = _LazyGroup("posture", commands={n: c for n, c in main.commands.items() if n not in LAZY_COMMANDS})
    assert _commands_listed(unloaded, width) == expected
    assert not unloaded.commands.keys() & LAZY_COMMANDS.keys()  # listing loaded nothing


def test_help_in_a_fresh_process_lists_every_command_and_imports_no_command_module(tmp_path):
    p = _fresh("""
        import sys, json
        from scanner.cli.main import run
        sys.argv = ["posture", "--help"]
        try:
            run()
        except SystemExit as exc:
            code = exc.code
        print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
    """, tmp_path)
    info = json.loads(p.stderr.strip().splitlines()[-1])
    assert info["code"] == 0
    listed = p.stdout.split("Commands:", 1)[1]
    for name in [*LAZY_COMMANDS, "scan", "checks", "explain", "waive"]:
        assert f"\n  {name} " in listed, name
    assert not {e.module for e in LAZY_COMMANDS.values()} & set(info["modules"])


def test_a_lazy_command_runs_and_shows_its_own_help(tmp_path):
    p = subprocess.run([sys.executable, "-m", "scanner", "keygen", "--help"], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0 and "keygen [OPTIONS] PREFIX" in p.stdout and "Never overwrites." in p.stdout
    p = subprocess.run([sys.executable, "-m", "scanner", "keygen", str(tmp_path / "k")], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "k.key").is_file() and (tmp_path / "k.pub").is_file()
    p = subprocess.run([sys.executable, "-m", "scanner", "no-such-command"], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 2 and "No such command" in p.stderr


HEAVY_FOR_THE_HOOK = ("scanner.engine.report_model", "scanner.engine.pipeline", "scanner.snapshots",
                      "scanner.cli.snapshots", "scanner.cli.inventory", "scanner.cli.charts", "reports",
                      "cryptography", "jinja2", "kubernetes", "rich", "ruamel")


def test_leaks_in_a_fresh_process_loads_only_what_it_runs(tmp_path):
    (tmp_path / "app.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {mode: fast}\n")
    (tmp_path / "notes.md").write_text("nothing to see\n")
    p = _fresh("""
        import sys, json
        from scanner.cli.main import run
        sys.argv = ["posture", "leaks", "app.yaml", "notes.md"]
        try:
            run()
        except SystemExit as exc:
            code = exc.code
        import pydantic
        def subclasses(c):
            for s in c.__subclasses__():
                yield s
                yield from subclasses(s)
        built = [s.__qualname__ for s in subclasses(pydantic.BaseModel) if s.__dict__.get("__pydantic_complete__")]
        print(json.dumps({"code": code, "modules": sorted(sys.modules), "built": built}), file=sys.stderr)
    """, tmp_path)
    info = json.loads(p.stderr.strip().splitlines()[-1])
    assert info["code"] == 0 and "2 file(s), no leak found" in p.stdout
    modules = info["modules"]
    for heavy in HEAVY_FOR_THE_HOOK:
        assert not [m for m in modules if m == heavy or m.startswith(heavy + ".")], heavy
    assert [m for m in modules if m.startswith("checks.")] == ["checks.secrets"]  # the plugin of the two checks
    assert "detect_secrets" not in modules  # no token prefix in these files: detect-secrets is not needed
    assert info["built"] == []  # no posture.yaml, no options: no pydantic validator is built


def test_leaks_in_a_fresh_process_still_finds_credentials(tmp_path):
    (tmp_path / "prod.env").write_text(f"APP_NAME=demo\nGITHUB_TOKEN={FAKE_TOKEN}\n")
    (tmp_path / "secret.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
                                          "stringData:\n  password: hunter2-but-longer\n")
    p = subprocess.run([sys.executable, "-m", "scanner", "leaks", "prod.env", "secret.yaml"], capture_output=True,
                       text=True, cwd=tmp_path, timeout=300)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "prod.env:2:" in p.stdout and "secrets.no-plaintext-credentials" in p.stdout
    assert "secret.yaml:5:" in p.stdout and "secrets.sops-encrypted" in p.stdout
    assert "2 file(s), 2 leak(s)" in p.stdout
    assert FAKE_TOKEN not in p.stdout + p.stderr and "hunter2" not in p.stdout + p.stderr
