# Two commands do all set-up on a fresh machine: `make scan` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: scan test bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,charts]'
	# pip byte-compiles what it installs, but an editable install leaves our own modules as source:
	# compile them once here (the standard tool), or a shell with PYTHONDONTWRITEBYTECODE compiles
	# all of them on every run.
	$(BIN)/python -m compileall -q scanner checks reports
	# The same for the HTML report's jinja templates (jinja's own bytecode cache, read only by scans).
	$(BIN)/python -m reports.compile_templates
	touch $(STAMP)

scan: $(STAMP)
	$(BIN)/posture scan examples/homelab --age-key examples/homelab.agekey --format json,html --output-dir out || test $$? -eq 1

# The HTML report is tested in a real headless Chromium (Debian's package); install it when missing
# and we may (root with apt), else the browser test fails in CI and skips elsewhere.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium not installed: the browser test will skip (or fail under CI)"; }

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) out .pytest_cache
