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
# pytest-xdist processes for the part of the suite that asserts on no timing (most integration
# tests wait on servers and subprocesses, not on the CPU); the `timing` tests then run alone.
TEST_JOBS ?= 3
# Extra options for `make bench`, e.g. BENCH_ARGS="--rate 500 --subscribers 100".
BENCH_ARGS ?=
# Extra options for `make serverbench`, e.g. SERVERBENCH_ARGS="--ws-impl websockets-sansio --idle 2000".
SERVERBENCH_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install serve bench serverbench lint format typecheck test test-deps clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# The lock: every distribution of `.[dev]` (pip and setuptools too) pinned with its hashes, for
# Linux CPython 3.11 (this machine's and CI's). `make lock` refreshes it (docs/development.md).
LOCK := requirements.lock

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "pushbench needs Python >= 3.11; '$(PYTHON)' is older: make PYTHON=python3.12 ..." >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	@# An older venv may hold what the lock no longer has: pip-sync (pip-tools, locked) removes it.
	$(BIN)/pip-sync --quiet $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

install: $(STAMP) ## Create .venv (if missing) and install exactly the locked versions (requirements.lock)

.PHONY: lock
lock: $(STAMP) ## Re-resolve .[dev] from pyproject.toml into requirements.lock (hashed pins), then install it
	$(BIN)/pip-compile --quiet --upgrade --generate-hashes --strip-extras --extra dev \
		--unsafe-package pushbench --no-emit-find-links --no-emit-index-url \
		--output-file $(LOCK) pyproject.toml
	$(MAKE) install

serve: $(STAMP) ## Run the reference server on PORT (default 8001)
	$(BIN)/pushbench serve --port $(PORT) $(SERVE_ARGS)

bench: $(STAMP) ## Push vs polling under both server flavors (asgi, fastapi) and the framework tax (~2.5 min)
	$(BIN)/pushbench compare --out reports $(BENCH_ARGS)

serverbench: $(STAMP) ## Server capacity per uvicorn WS implementation (echo, fan-out, idle RSS)
	$(BIN)/pushbench serverbench --out reports $(SERVERBENCH_ARGS)

format: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: $(STAMP) ## ruff (lint + format check), mypy and the import rules (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

test-deps: ## Install what the tests need from Debian (Chromium for the browser tests, iproute2 for the namespaces test)
	@bash scripts/ensure-chromium.sh
	@bash scripts/ensure-iproute2.sh

test: $(STAMP) test-deps lint ## Lint, type-check, then the whole test suite (in parallel; the timing tests alone)
	$(BIN)/pytest -n $(TEST_JOBS) -m "not timing" $(PYTEST_ARGS)
	$(BIN)/pytest -m timing $(PYTEST_ARGS)

clean: ## Remove caches (keeps .venv and reports/)
	rm -rf .pytest_cache .mypy_cache .ruff_cache build *.egg-info

# --- reports (issue 5) ---
.PHONY: report-screenshot
report-screenshot: $(STAMP) test-deps ## Screenshot the newest run's report (else the golden one) to docs/report.png
	$(BIN)/python scripts/screenshot_report.py --out docs/report.png

# --- locust (issue 6) ---
# Locust load: USERS users spawned SPAWN_RATE per second for DURATION; WORKERS processes for
# `make swarm`. Anything for locust itself goes in LOCUST_ARGS, e.g.
# LOCUST_ARGS="-- --publish-rate 50 WebSocketSubscriberUser RoomPublisherUser".
USERS ?= 50
SPAWN_RATE ?= 10
DURATION ?= 30s
WORKERS ?= 2
LOCUST_ARGS ?=
.PHONY: loadtest swarm
loadtest: $(STAMP) ## Headless Locust mix against a fresh reference server; report in reports/<run-id>/
	$(BIN)/python -m pushbench.locust --users $(USERS) --spawn-rate $(SPAWN_RATE) --duration $(DURATION) $(LOCUST_ARGS)

swarm: $(STAMP) ## Same through Locust's distributed mode: a master and WORKERS worker processes
	$(BIN)/python -m pushbench.locust --users $(USERS) --spawn-rate $(SPAWN_RATE) --duration $(DURATION) --processes $(WORKERS) $(LOCUST_ARGS)

# --- sweep (issue 7) ---
# Tune uvicorn: workers x loop x WebSocket x HTTP implementation, with a recommendation.
# Anything else for `pushbench sweep` goes in SWEEP_ARGS, e.g. SWEEP_ARGS="--workers 1,2,4 --budget 600".
SWEEP_ARGS ?=
.PHONY: sweep sweep-ci
sweep: $(STAMP) ## uvicorn configuration sweep with a recommended configuration; report in reports/<run-id>/
	$(BIN)/pushbench sweep --out reports $(SWEEP_ARGS)

sweep-ci: $(STAMP) ## Small sweep (~2 min) that gates like `pushbench gate` (exit 1 on a failed check)
	$(BIN)/pushbench sweep --ci --out reports $(SWEEP_ARGS)

# --- ramp (issue 18) ---
# Step the load until each transport breaks its p99 SLO, e.g.
# RAMP_ARGS="--transports ws,sse --start 100 --step 100 --slo-p99-ms 50".
RAMP_ARGS ?=
.PHONY: ramp
ramp: $(STAMP) ## Per transport, the load stepped up until p99 breaks the SLO: what each holds
	$(BIN)/pushbench ramp --out reports $(RAMP_ARGS)

# --- micro-benchmarks (issue 8) ---
# pytest-benchmark runs of the hot paths (benchmarks/micro; what each isolates: README). Saved runs
# go to .benchmarks/; `make microbench-compare` runs again and fails when a benchmark regressed by
# more than MICRO_FAIL against the newest saved run. MICRO_ARGS go to pytest, e.g.
# MICRO_ARGS="-k push_vs_poll" or MICRO_ARGS="--benchmark-json=reports/micro.json" (then
# `pushbench report reports/micro.json` renders it).
# Medians, not means: one descheduled round moves a mean far more than a median. On a machine
# shared with other jobs even medians move by tens of % between runs: raise MICRO_FAIL there.
MICRO_FAIL ?= median:15%
MICRO_ARGS ?=
# Where saved runs live (pytest-benchmark's --benchmark-storage).
MICRO_STORAGE ?= .benchmarks
.PHONY: microbench microbench-compare
microbench: $(STAMP) ## pytest-benchmark micro-benchmarks of the hot paths; saves the run (.benchmarks/)
	$(BIN)/pytest benchmarks/micro --benchmark-autosave --benchmark-storage=$(MICRO_STORAGE) -p no:cacheprovider $(MICRO_ARGS)

microbench-compare: $(STAMP) ## Micro-benchmarks against the last saved run; fail beyond MICRO_FAIL (median:15%)
	@find $(MICRO_STORAGE) -name '*.json' 2>/dev/null | grep -q . || { echo "make microbench-compare: no saved micro-benchmark run in $(MICRO_STORAGE)/ to compare against; run 'make microbench' first (it saves one there)" >&2; exit 2; }
	$(BIN)/pytest benchmarks/micro --benchmark-compare --benchmark-compare-fail=$(MICRO_FAIL) --benchmark-storage=$(MICRO_STORAGE) -p no:cacheprovider $(MICRO_ARGS)
