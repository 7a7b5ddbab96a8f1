"""The gate's warning when a run and its baseline come from different environments."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from pushbench.cli.gating import print_gate_report
from pushbench.core.schema import ResultsDocument, load_results
from pushbench.gate.checks import run_gate
from pushbench.gate.environment import environment_differences, environment_warning

FIXTURE = Path(__file__).parents[1] / "fixtures" / "results-v1.json"


def _with_environment(document: ResultsDocument, **fields: object) -> ResultsDocument:
    environment = document.environment.model_copy(update=fields)
    return document.model_copy(update={"environment": environment})


def test_documents_without_the_new_fields_still_load() -> None:
    data = json.loads(FIXTURE.read_text())
    del data["environment"]["cpu_model"], data["environment"]["lock_sha256"]
    environment = load_results(json.dumps(data)).environment
    assert environment.cpu_model is None
    assert environment.lock_sha256 is None


def test_the_same_environment_gives_no_warning() -> None:
    document = load_results(FIXTURE)
    assert environment_warning(document.environment, document.environment) is None
    assert run_gate(document, baseline=document).warnings == ()


def test_python_cpu_and_package_differences_are_each_named() -> None:
    base = _with_environment(
        load_results(FIXTURE), cpu_model="AMD EPYC", packages={"uvicorn": "0.34.0", "old": "1"}
    )
    run = _with_environment(
        base,
        python="CPython 3.12.1",
        cpu_model="Intel Xeon",
        cpu_count=(base.environment.cpu_count or 1) + 2,
        packages={"uvicorn": "0.35.0", "new": "2"},
    )
    found = environment_differences(run.environment, base.environment)
    assert found == [
        f"Python {base.environment.python} -> CPython 3.12.1",
        "CPU model AMD EPYC -> Intel Xeon",
        f"CPU count {base.environment.cpu_count} -> {run.environment.cpu_count}",
        "packages uvicorn 0.34.0 -> 0.35.0",  # only packages both list are compared
    ]
    report = run_gate(run, baseline=base)
    (warning,) = report.warnings
    assert warning.startswith("baseline and run differ in their environment (Python ")
    out = io.StringIO()
    print_gate_report(report, run, Console(file=out, width=200))
    (line,) = [line for line in out.getvalue().splitlines() if line.startswith("warning: ")]
    assert "uvicorn 0.34.0 -> 0.35.0" in line


def test_an_unknown_cpu_model_is_no_difference() -> None:
    base = _with_environment(load_results(FIXTURE), cpu_model=None)
    run = _with_environment(base, cpu_model="Intel Xeon")
    assert environment_warning(run.environment, base.environment) is None
