# Two commands do all set-up on a fresh machine: `make scan` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: scan test bench clean browser templates bytecode

# The project is installed editable in compat mode: a plain path entry in a .pth file. The default
# editable mode installs an import hook whose own imports cost ~9 ms at every start of `posture`
# (measured with -X importtime).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]' --config-settings editable_mode=compat
	touch $(STAMP)

# Byte-compile the project: with PYTHONDONTWRITEBYTECODE set (as on these machines) Python would
# otherwise compile every module from source on each run. Stale .pyc files are never used: Python
# checks each against its source.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q scanner checks reports >/dev/null

# The HTML report's jinja templates, precompiled to Python modules (reports/precompile.py); each is
# used only while its template is unchanged, so this only ever saves time, never shows stale output.
templates: $(STAMP) bytecode
	$(BIN)/python -m reports.precompile

scan: $(STAMP) templates
	$(BIN)/posture scan examples/homelab --age-key examples/homelab.agekey --format json,html --output-dir out || test $$? -eq 1

# The HTML report is tested in a real headless Chromium (Debian's package); install it when missing
# and we may (root with apt), else the browser test fails in CI and skips elsewhere.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium not installed: the browser test will skip (or fail under CI)"; }

test: $(STAMP) browser templates
	$(BIN)/python -m pytest -q

bench: $(STAMP) templates
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) out .pytest_cache
