"""Check options are declared in plain Python and validated by a pydantic model made on first use:
the declaration's types, defaults and constraints are what posture.yaml is held to, and importing a
check module (the pre-commit hook) does not import pydantic."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from pydantic import Field, ValidationError

from scanner.checkapi.options import CheckOptions, NoOptions, describe, model_from_defaults, option


class Limits(CheckOptions):
    warn_days: int = option(21, gt=0, description="Warn this many days before.")
    names: list[str] = option([], description="Names.")
    path: str | None = option(None, description="A path.")
    ratio: float = 0.5  # a plain default: typed, no description


def test_declarations_give_defaults_fields_and_the_catalogue():
    assert Limits.field_names() == ["warn_days", "names", "path", "ratio"]
    first, second = Limits.defaults(), Limits.defaults()
    assert first == {"warn_days": 21, "names": [], "path": None, "ratio": 0.5}
    first["names"].append("x")
    assert second["names"] == [] and Limits.defaults()["names"] == []  # each caller gets its own copy
    assert describe(Limits) == [
        {"name": "warn_days", "type": "int", "default": 21, "description": "Warn this many days before."},
        {"name": "names", "type": "list[str]", "default": [], "description": "Names."},
        {"name": "path", "type": "str | None", "default": None, "description": "A path."},
        {"name": "ratio", "type": "float", "default": 0.5, "description": ""}]
    assert NoOptions.field_names() == [] and NoOptions.defaults() == {}


@pytest.mark.parametrize("given", [{"warn_days": 0}, {"warn_days": True}, {"warn_days": "3"}, {"names": "a"},
                                   {"ratio": float("nan")}, {"other": 1}])
def test_the_model_is_closed_strict_and_keeps_the_constraints(given):
    with pytest.raises(ValidationError):
        Limits.model().model_validate(given)


def test_the_model_accepts_what_the_declaration_allows_and_is_made_once():
    model = Limits.model()
    assert model is Limits.model()
    got = model.model_validate({"warn_days": 3, "names": ["a"], "ratio": 1}).model_dump()
    assert got == {"warn_days": 3, "names": ["a"], "path": None, "ratio": 1}
    assert model.model_fields["warn_days"].description == "Warn this many days before."


def test_a_third_party_class_with_pydantic_fields_and_a_dict_of_defaults_still_work():
    class TheirOptions(CheckOptions):
        level: int = Field(2, ge=1, description="How strict.")

    assert TheirOptions.defaults() == {"level": 2}
    assert describe(TheirOptions)[0]["description"] == "How strict."
    with pytest.raises(ValidationError):
        TheirOptions.model().model_validate({"level": 0})
    made = model_from_defaults("team.my-check", {"limit": 3, "anything": None})
    assert made.__name__ == "TeamMyCheckOptions" and made.defaults() == {"limit": 3, "anything": None}
    assert made.model().model_validate({"anything": ["x"]}).anything == ["x"]
    with pytest.raises(ValidationError):
        made.model().model_validate({"limit": "3"})


def test_loading_the_leak_checks_and_running_them_does_not_import_pydantic(tmp_path):
    """What `posture leaks` (the pre-commit hook) runs, in a fresh interpreter."""
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n")
    code = textwrap.dedent(f"""
        import sys
        from scanner.cli.leaks import run_leaks
        outcomes, _ = run_leaks([{str(tmp_path / "cm.yaml")!r}])
        assert sorted(o.spec.id for o in outcomes) == ["secrets.no-plaintext-credentials", "secrets.sops-encrypted"]
        print(sorted(m for m in sys.modules if m.split(".")[0] == "pydantic"))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
