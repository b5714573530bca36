"""action.yml is run step by step the way the Actions runner would: a stubbed `posture` and `pip` on
PATH, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files in a tmp dir, `${{ }}` expressions and `if:`
conditions evaluated; steps that `uses:` another action are not run, but their `with:` inputs must
resolve to outputs that exist and paths that exist. Also checks .pre-commit-hooks.yaml."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
CONTEXT = re.compile(r"\b(inputs|steps|github|runner|env)((?:\.[A-Za-z_][\w-]*)+)")

POSTURE_STUB = r"""#!/usr/bin/env bash
# Records its arguments, writes the requested report files, exits with $STUB_EXIT.
printf '%s\n' "$@" > "$STUB_LOG"
out=""; formats=""
while [ $# -gt 0 ]; do
  case "$1" in --output-dir) out="$2"; shift ;; --format) formats="$2"; shift ;; esac
  shift
done
if [ "${STUB_WRITE:-1}" = 1 ]; then
  mkdir -p "$out"
  IFS=, read -ra fs <<< "$formats"
  for f in "${fs[@]}"; do
    case "$f" in
      json) echo '{"score": {"overall": 71.5, "grade": "C"}, "gate": {"passed": false}}' > "$out/posture-report.json" ;;
      sarif) echo '{"version": "2.1.0", "runs": []}' > "$out/posture-report.sarif" ;;
      html) echo '<!doctype html><title>posture</title>' > "$out/posture-report.html" ;;
      markdown|md) printf '## Posture score 71.5 (C)\n\n| layer | score |\n' > "$out/posture-report.md" ;;
    esac
  done
fi
exit "${STUB_EXIT:-0}"
"""


# --- a small model of the runner -----------------------------------------------------------------

class Runner:
    def __init__(self, tmp: Path, inputs: dict, stub_exit=0, stub_write=True):
        self.tmp = tmp
        self.workspace = tmp / "workspace"
        self.workspace.mkdir()
        self.bin = tmp / "bin"
        self.bin.mkdir()
        (self.bin / "posture").write_text(POSTURE_STUB)
        (self.bin / "pip").write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$PIP_LOG"\n')
        for stub in ("posture", "pip"):
            (self.bin / stub).chmod(0o755)
        (self.bin / "python").symlink_to(sys.executable)
        self.summary = tmp / "step_summary.md"
        self.summary.touch()
        declared = ACTION["inputs"]
        unknown = set(inputs) - set(declared)
        assert not unknown, f"inputs not declared in action.yml: {unknown}"
        self.inputs = {k: str(inputs.get(k, v.get("default", ""))) for k, v in declared.items()}
        self.steps: dict[str, dict] = {}
        self.github = {"action_path": str(ROOT), "workspace": str(self.workspace)}
        self.env = {"STUB_EXIT": str(stub_exit), "STUB_WRITE": "1" if stub_write else "0",
                    "STUB_LOG": str(tmp / "posture.args"), "PIP_LOG": str(tmp / "pip.args")}
        self.ran: list[str] = []
        self.skipped: list[str] = []
        self.uses: list[tuple[str, dict]] = []
        self.failed = False
        self.last_exit = None

    # expressions
    def lookup(self, ref: str) -> str:
        head, *rest = ref.split(".")
        if head == "inputs":
            assert rest[0] in self.inputs, f"unknown input {rest[0]}"
            return self.inputs[rest[0]]
        if head == "github":
            assert rest[0] in self.github, f"github.{rest[0]} not modelled"
            return self.github[rest[0]]
        if head == "steps":
            step_id, kind, name = rest
            assert kind == "outputs" and step_id in self.steps, f"steps.{step_id} is not an earlier step"
            return self.steps[step_id].get(name, "")
        raise AssertionError(f"context {ref} not modelled")

    def substitute(self, value: str) -> str:
        return EXPR.sub(lambda m: str(self.evaluate(m.group(1))), str(value))

    def evaluate(self, expr: str):
        """GitHub expression subset used by action.yml: contexts, '' strings, ==, !=, &&, ||, !,
        always()/success()/failure(). Translated to Python over known values only."""
        values: dict[str, object] = {}

        def ctx(m):
            key = f"v{len(values)}"
            values[key] = self.lookup(m.group(0))
            return key

        py = CONTEXT.sub(ctx, expr)
        py = py.replace("always()", "True").replace("success()", "(not FAILED)").replace("failure()", "FAILED")
        py = py.replace("&&", " and ").replace("||", " or ")
        py = re.sub(r"!(?!=)", " not ", py)
        assert re.fullmatch(r"[\sA-Za-z0-9_'()=!.-]*", py), f"unsupported expression: {expr}"
        return eval(py, {"__builtins__": {}}, {**values, "True": True, "FAILED": self.failed})  # noqa: S307

    def condition(self, step) -> bool:
        cond = step.get("if")
        if cond is None:
            return not self.failed
        return bool(self.evaluate(EXPR.sub(lambda m: m.group(1), str(cond))))

    # steps
    def run(self):
        for step in ACTION["runs"]["steps"]:
            name = step.get("name", step.get("id"))
            if not self.condition(step):
                self.skipped.append(name)
                continue
            self.ran.append(name)
            if "uses" in step:
                self.uses.append((step["uses"], {k: self.substitute(v) for k, v in (step.get("with") or {}).items()}))
                continue
            out_file = self.tmp / f"output-{len(self.ran)}"
            out_file.touch()
            env = {"PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}", "HOME": str(self.tmp),
                   "GITHUB_OUTPUT": str(out_file), "GITHUB_STEP_SUMMARY": str(self.summary),
                   "GITHUB_WORKSPACE": str(self.workspace), **self.env}
            env.update({k: self.substitute(v) for k, v in (step.get("env") or {}).items()})
            assert step.get("shell") == "bash", f"{name}: composite run steps need shell: bash"
            script = self.tmp / f"step-{len(self.ran)}.sh"
            script.write_text(self.substitute(step["run"]))
            # the runner's own invocation for `shell: bash`
            proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                                  cwd=self.workspace, env=env, capture_output=True, text=True, timeout=60)
            self.last_exit = proc.returncode
            self.log = proc.stdout + proc.stderr
            if step.get("id"):
                self.steps[step["id"]] = parse_outputs(out_file.read_text())
            if proc.returncode != 0:
                self.failed = True
        return self

    def args(self) -> list[str]:
        return (self.tmp / "posture.args").read_text().splitlines()

    def outputs(self) -> dict:
        return {k: self.substitute(v["value"]) for k, v in ACTION["outputs"].items()}


def parse_outputs(text: str) -> dict:
    out, lines = {}, iter(text.splitlines())
    for line in lines:
        if "<<" in line and "=" not in line.split("<<")[0]:
            key, marker = line.split("<<", 1)
            out[key] = "\n".join(iter(lambda: next(lines), marker))
        elif "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
    return out


def uses(runner: Runner, prefix: str) -> dict | None:
    return next((w for u, w in runner.uses if u.startswith(prefix)), None)


# --- static shape --------------------------------------------------------------------------------

def test_action_shape_and_references():
    assert ACTION["runs"]["using"] == "composite"
    assert {"path", "fail-under", "fail-on", "formats", "output-dir", "baseline", "fail-on-new",
            "python-version"} <= set(ACTION["inputs"])
    ids = []
    text = (ROOT / "action.yml").read_text()
    for ref in re.findall(r"inputs\.([\w-]+)", text):
        assert ref in ACTION["inputs"], ref
    for step in ACTION["runs"]["steps"]:
        assert ("uses" in step) != ("run" in step)
        if "uses" in step:
            assert re.fullmatch(r"[\w-]+/[\w./-]+@v\d+", step["uses"]), step["uses"]
        else:
            assert step["shell"] == "bash"
            # inputs only reach scripts through env (no ${{ }} pasted into shell code)
            assert "${{" not in step["run"], step["name"]
        for ref_id in re.findall(r"steps\.([\w-]+)\.outputs", yaml.safe_dump(step)):
            assert ref_id in ids, f"{step['name']} reads steps.{ref_id} before it runs"
        if step.get("id"):
            ids.append(step["id"])
    used = [s["uses"].split("@")[0] for s in ACTION["runs"]["steps"] if "uses" in s]
    assert used == ["actions/setup-python", "github/codeql-action/upload-sarif", "actions/upload-artifact"]


# --- running it ----------------------------------------------------------------------------------

def test_defaults_gates_hold(tmp_path):
    r = Runner(tmp_path, {}).run()
    assert not r.failed and r.last_exit == 0
    assert r.args() == ["scan", ".", "--format", "json,html,sarif,markdown", "--output-dir", "posture-report"]
    assert (tmp_path / "pip.args").read_text().split() == ["install", "--disable-pip-version-check", "--quiet",
                                                           str(ROOT)]
    assert uses(r, "actions/setup-python")["python-version"] == "3.12"
    sarif = uses(r, "github/codeql-action/upload-sarif")
    assert (r.workspace / sarif["sarif_file"]).is_file() and sarif["category"] == "gitops-posture"
    artifact = uses(r, "actions/upload-artifact")
    assert artifact["name"] == "posture-report"
    assert (r.workspace / artifact["path"] / "posture-report.html").is_file()
    assert r.outputs() == {"score": "71.5", "grade": "C", "exit-code": "0", "report-dir": "posture-report"}
    assert r.summary.read_text().startswith("## Posture score 71.5 (C)")
    assert r.skipped == []


def test_failed_gate_still_uploads_then_fails_the_job(tmp_path):
    (tmp_path / "workspace").mkdir()
    inputs = {"path": "clusters/main", "fail-under": "80", "fail-on": "high", "baseline": "base.json",
              "fail-on-new": "medium", "max-score-drop": "2.5", "output-dir": "out/posture",
              "python-version": "3.11", "artifact-name": "posture-pr"}
    shutil.rmtree(tmp_path / "workspace")
    r = Runner(tmp_path, inputs, stub_exit=1).run()
    assert r.args() == ["scan", "clusters/main", "--format", "json,html,sarif,markdown", "--output-dir",
                        "out/posture", "--fail-under", "80", "--fail-on", "high", "--baseline", "base.json",
                        "--fail-on-new", "medium", "--max-score-drop", "2.5"]
    assert r.ran[-1] == "Gate" and r.last_exit == 1 and r.failed
    assert "a posture gate failed" in r.log
    assert uses(r, "github/codeql-action/upload-sarif")["sarif_file"] == "out/posture/posture-report.sarif"
    assert uses(r, "actions/upload-artifact")["name"] == "posture-pr"
    assert uses(r, "actions/setup-python")["python-version"] == "3.11"
    assert "71.5" in r.summary.read_text()
    assert r.outputs()["exit-code"] == "1"


def test_formats_without_sarif_or_markdown(tmp_path):
    r = Runner(tmp_path, {"formats": "html"}).run()
    assert r.args()[2:4] == ["--format", "json,html"]  # json is added for the outputs
    assert "Upload SARIF to code scanning" in r.skipped
    assert uses(r, "github/codeql-action/upload-sarif") is None
    assert r.summary.read_text().strip() == "### Posture score 71.5 (C), scan exit code 0"
    assert not r.failed


def test_upload_sarif_can_be_turned_off(tmp_path):
    r = Runner(tmp_path, {"upload-sarif": "false"}).run()
    assert "Upload SARIF to code scanning" in r.skipped and not r.failed


def test_scan_that_cannot_run(tmp_path):
    r = Runner(tmp_path, {"path": "missing"}, stub_exit=2, stub_write=False).run()
    assert r.last_exit == 2 and "could not run" in r.log
    assert r.outputs()["score"] == "" and r.outputs()["exit-code"] == "2"
    assert "failed before writing a report (exit code 2)" in r.summary.read_text()
    assert uses(r, "github/codeql-action/upload-sarif") is None  # nothing to upload


def test_inputs_cannot_inject_shell(tmp_path):
    evil = '"; touch pwned; echo "$(touch pwned2)'
    r = Runner(tmp_path, {"path": evil, "fail-under": "$(touch pwned3)"}).run()
    assert r.args()[1] == evil and "$(touch pwned3)" in r.args()
    assert not list(tmp_path.rglob("pwned*"))


# --- pre-commit ----------------------------------------------------------------------------------

def test_pre_commit_hook():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "posture-secrets")
    assert hook["entry"] == "posture leaks" and hook["language"] == "python" and hook["pass_filenames"] is True
    files = re.compile(hook["files"])
    for name in ("a/secret.yaml", "b.yml", "c.json", "prod.env", ".env"):
        assert files.search(name), name
    for name in ("main.py", "secret.yaml.bak", "yaml", "x.envrc"):
        assert not files.search(name), name
    try:
        import click
        from scanner.cli.main import main
    except ImportError:  # pragma: no cover
        pytest.skip("engine CLI missing")
    with click.Context(main) as ctx:
        assert main.get_command(ctx, "leaks") is not None  # the entry resolves to a real command
