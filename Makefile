# pushbench — the front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8001
# Extra options for `make serve`, e.g. SERVE_ARGS="--ws-impl wsproto".
SERVE_ARGS ?=
PYTEST_ARGS ?=
# Extra options for `make bench`, e.g. BENCH_ARGS="--rate 500 --subscribers 100".
BENCH_ARGS ?=
# Extra options for `make serverbench`, e.g. SERVERBENCH_ARGS="--idle 10000".
SERVERBENCH_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install serve bench serverbench lint format typecheck test test-deps clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "pushbench needs Python >= 3.11; '$(PYTHON)' is older: make PYTHON=python3.12 ..." >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(STAMP) ## Create .venv (if missing) and install pushbench with its dev tools

serve: $(STAMP) ## Run the reference server on PORT (default 8001)
	$(BIN)/pushbench serve --port $(PORT) $(SERVE_ARGS)

bench: $(STAMP) ## Push vs polling: launch the server, compare all transports (~2 min), report
	$(BIN)/pushbench compare --out reports $(BENCH_ARGS)

serverbench: $(STAMP) ## Server capacity per uvicorn WS implementation (echo, fan-out, idle RSS)
	$(BIN)/pushbench serverbench --out reports $(SERVERBENCH_ARGS)

format: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: $(STAMP) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test-deps: ## Install what the tests need from Debian (Chromium for the browser test)
	@bash scripts/ensure-chromium.sh

test: $(STAMP) test-deps lint ## Lint, type-check, then the whole test suite
	$(BIN)/pytest $(PYTEST_ARGS)

clean: ## Remove caches (keeps .venv and reports/)
	rm -rf .pytest_cache .mypy_cache .ruff_cache build *.egg-info

# --- reports (issue 5) ---
.PHONY: report-screenshot
report-screenshot: $(STAMP) test-deps ## Screenshot the newest run's report (else the golden one) to docs/report.png
	$(BIN)/python scripts/screenshot_report.py --out docs/report.png
