"""The run skeleton compare, serverbench and sweep share: results kept on Ctrl-C and on failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pushbench.core.schema import Scenario, load_results
from pushbench.harness.run_skeleton import RESULTS_NAME, record_run, start_run

GOLDEN = load_results(Path(__file__).parent.parent / "fixtures" / "results-v1.json")


def test_a_run_starts_with_a_valid_empty_document(tmp_path: Path) -> None:
    state = start_run("serverbench", {"repeat": 3}, tmp_path, warnings=["one CPU"])
    assert state.run_dir.parent == tmp_path
    assert (tmp_path / "latest").resolve() == state.run_dir.resolve()
    written = load_results(state.run_dir / RESULTS_NAME)
    assert written.kind == "serverbench"
    assert written.run_id == state.run_dir.name
    assert written.config == {"repeat": 3}
    assert written.warnings == ["one CPU"]
    assert written.scenarios == []
    assert written.finished_at is None


def test_ctrl_c_keeps_what_was_measured_and_says_so(tmp_path: Path) -> None:
    state = start_run("compare", {}, tmp_path)

    def body() -> None:
        state.scenarios.append(GOLDEN.scenarios[0])
        state.save()
        state.config["late"] = True  # a run may complete its config as it goes
        raise KeyboardInterrupt

    outcome = record_run(state, body)
    written = load_results(outcome.results_path)
    assert written == outcome.document
    assert written.interrupted
    assert written.finished_at is not None
    assert [s.name for s in written.scenarios] == [GOLDEN.scenarios[0].name]
    assert written.config == {"late": True}


def test_a_failure_still_writes_the_document_then_propagates(tmp_path: Path) -> None:
    state = start_run("sweep", {}, tmp_path)

    def body() -> None:
        state.scenarios += GOLDEN.scenarios[:2]
        state.errors.append("w2: the server died")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        record_run(state, body)
    written = load_results(state.run_dir / RESULTS_NAME)
    assert not written.interrupted
    assert written.finished_at is not None
    assert len(written.scenarios) == 2
    assert written.errors == ["w2: the server died"]


def test_derived_fields_are_recomputed_on_every_save(tmp_path: Path) -> None:
    seen: list[int] = []

    def derived(scenarios: list[Scenario]) -> dict[str, Any]:
        seen.append(len(scenarios))
        return {"warnings": [f"{len(scenarios)} scenarios"]}

    state = start_run("compare", {}, tmp_path, derived=derived)
    state.scenarios.append(GOLDEN.scenarios[0])
    outcome = record_run(state, state.save)
    assert seen == [0, 1, 1]
    assert outcome.document.warnings == ["1 scenarios"]
