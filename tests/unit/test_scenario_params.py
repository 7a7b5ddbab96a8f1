"""The typed view of Scenario.params: old files load, JSON is unchanged, wrong types refused."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from pushbench.core.kinds import Workload
from pushbench.core.scenario_params import ScenarioParams
from pushbench.core.schema import Scenario, SchemaError, dump_results, load_results
from pushbench.drivers.subscribers import PollTiming
from pushbench.sweep.cli import CI_PRESET, FULL_MATRIX, SweepPreset

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _with_params(params: dict[str, Any]) -> str:
    """The golden document with its first scenario's params replaced."""
    data = json.loads((FIXTURES / "results-v1.json").read_text(encoding="utf-8"))
    data["scenarios"][0]["params"] = params
    return json.dumps(data, indent=2) + "\n"


@pytest.mark.parametrize(
    "name", ["results-v1.json", "results-v1-lossy.json", "results-v1-sweep.json"]
)
def test_every_fixture_loads_and_keeps_its_params(name: str) -> None:
    path = FIXTURES / name
    document = load_results(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    for scenario, written in zip(document.scenarios, raw["scenarios"], strict=True):
        assert scenario.params == written["params"]
        assert list(scenario.params) == list(written["params"])  # key order too


def test_the_typed_view_reads_what_was_written() -> None:
    sweep = load_results(FIXTURES / "results-v1-sweep.json")
    params = sweep.scenarios[0].typed_params
    assert params.workers == 1
    assert isinstance(params.duration_s, float)
    assert params.workload is None  # a sweep before workloads
    assert params.model_extra == {"rate": 2000}  # kept, not declared
    golden = load_results(FIXTURES / "results-v1.json")
    assert golden.scenarios[1].typed_params.poll_interval_s == 0.1


def test_declared_keys_missing_are_none() -> None:
    assert ScenarioParams().flavor is None
    assert ScenarioParams.model_validate({}).connections_per_worker is None


def test_a_sweep_scenario_reads_its_workload_as_the_enum() -> None:
    text = _with_params({"workers": 2, "workload": "push", "connections_per_worker": [26, 24]})
    params = load_results(text).scenarios[0].typed_params
    assert params.workload is Workload.PUSH
    assert params.connections_per_worker == [26, 24]


def test_unknown_and_extra_keys_round_trip_byte_identical() -> None:
    # Writer's key order, undeclared keys and an int where a float is declared: all as written.
    text = _with_params(
        {"zeta": [1, {"a": None}], "duration_s": 10, "workload": "echo", "app": "x"}
    )
    document = load_results(text)
    assert dump_results(document) == dump_results(load_results(dump_results(document)))
    assert json.loads(dump_results(document))["scenarios"][0]["params"] == {
        "zeta": [1, {"a": None}],
        "duration_s": 10,
        "workload": "echo",
        "app": "x",
    }


def test_a_scenario_built_with_enum_values_writes_their_strings() -> None:
    document = load_results(FIXTURES / "results-v1.json")
    scenario = document.scenarios[0]
    built = Scenario.model_validate(
        {**scenario.model_dump(), "params": {"workload": Workload.FANOUT, "subscribers": 100}}
    )
    assert '"params":{"workload":"fanout","subscribers":100}' in built.model_dump_json()


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"workers": "2"}, "workers: Input should be a valid integer"),
        ({"subscribers": True}, "subscribers: Input should be a valid integer"),
        ({"poll_interval_s": "0.1"}, "poll_interval_s: Input should be a valid number"),
        ({"workload": "carrier"}, "workload: Input should be 'echo', 'fanout', 'poll' or 'push'"),
        ({"connections_per_worker": [1, "2"]}, r"connections_per_worker\.1: Input should be"),
        ({"flavor": 3}, "flavor: Input should be a valid string"),
    ],
)
def test_a_read_key_of_the_wrong_type_is_refused_naming_it(
    params: dict[str, Any], problem: str
) -> None:
    with pytest.raises(SchemaError, match=rf"scenarios\.0\.params: .*{problem}"):
        load_results(_with_params(params))


def test_the_view_follows_params_replaced_by_model_copy() -> None:
    scenario = load_results(FIXTURES / "results-v1.json").scenarios[0]
    assert scenario.typed_params.flavor is None
    tagged = scenario.model_copy(update={"params": {**scenario.params, "flavor": "fastapi"}})
    assert tagged.typed_params.flavor == "fastapi"


def test_sweep_presets_are_typed_and_frozen() -> None:
    assert isinstance(CI_PRESET, SweepPreset)
    assert (CI_PRESET.duration_s, CI_PRESET.warmup_s, CI_PRESET.budget_s) == (2.0, 0.5, 150.0)
    assert (FULL_MATRIX.duration_s, FULL_MATRIX.warmup_s, FULL_MATRIX.budget_s) == (3.0, 1.0, None)
    assert FULL_MATRIX.workers == "1,2,4"
    with pytest.raises(dataclasses.FrozenInstanceError):
        CI_PRESET.budget_s = 1.0  # type: ignore[misc]


def test_the_long_poll_wait_is_sent_as_before() -> None:
    assert f"{PollTiming().long_poll_wait_s:g}" == "30"  # ?wait=30, as str(30) sent before
