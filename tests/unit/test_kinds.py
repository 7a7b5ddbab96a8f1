"""One Transport and one Workload enum: every list of them elsewhere derives from these."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pushbench.compare.run import CompareConfig
from pushbench.core import wire_bytes
from pushbench.core.kinds import (
    POLLING_TRANSPORTS,
    PUSH_TRANSPORTS,
    SWARM_TRANSPORTS,
    TRANSPORTS_WITHOUT_REQUESTS,
    WORKLOADS,
    Transport,
    Workload,
)
from pushbench.core.schema import Scenario, SchemaError, dump_results, load_results
from pushbench.drivers.scenario import ScenarioSpec
from pushbench.drivers.subscribers import SUBSCRIBERS
from pushbench.plan.fit import _TERMS
from pushbench.plan.inputs import PLANNED_TRANSPORTS
from pushbench.sweep import matrix, recommend

FIXTURE = Path(__file__).parent.parent / "fixtures" / "results-v1.json"


def test_the_spellings_are_todays() -> None:
    # results.json and command lines keep these strings: renaming one is a format change.
    assert [t.value for t in Transport] == ["ws", "short-poll", "long-poll", "sse", "echo", "micro"]
    assert [w.value for w in Workload] == ["echo", "fanout", "poll", "push"]


def test_every_push_transport_has_a_subscriber_and_nothing_else_does() -> None:
    assert set(SUBSCRIBERS) == set(PUSH_TRANSPORTS)
    assert all(isinstance(key, Transport) for key in SUBSCRIBERS)


def test_every_push_transport_has_a_cost_model_and_wire_formula() -> None:
    for transport in PUSH_TRANSPORTS:
        assert transport in _TERMS
        assert transport in wire_bytes.FORMULAS


def test_the_derived_lists_are_the_enum() -> None:
    assert CompareConfig().transports == PUSH_TRANSPORTS
    assert PLANNED_TRANSPORTS == PUSH_TRANSPORTS
    assert matrix.WORKLOADS == WORKLOADS == tuple(Workload)
    assert set(recommend.CAPACITY_WORKLOADS) == set(WORKLOADS) - {Workload.PUSH}
    assert set(SWARM_TRANSPORTS) == set(Transport) - {Transport.MICRO}
    assert POLLING_TRANSPORTS.issubset(PUSH_TRANSPORTS)
    assert TRANSPORTS_WITHOUT_REQUESTS.isdisjoint(POLLING_TRANSPORTS)
    assert TRANSPORTS_WITHOUT_REQUESTS.issubset(SWARM_TRANSPORTS)


def test_a_member_is_its_string() -> None:
    assert Transport.SHORT_POLL == "short-poll"
    assert f"{Transport.SHORT_POLL}@0.1" == "short-poll@0.1"
    assert {Transport.WS: 1}["ws"] == 1
    assert json.dumps([Transport.SSE, Workload.PUSH]) == '["sse", "push"]'


def test_a_spec_given_a_string_holds_the_member() -> None:
    spec = ScenarioSpec("short-poll", poll_interval_s=0.5)  # type: ignore[arg-type]
    assert spec.transport is Transport.SHORT_POLL
    assert spec.name == "short-poll@0.5"
    with pytest.raises(ValueError, match="unknown transport 'pigeon'; choose from ws, sse"):
        ScenarioSpec("pigeon")  # type: ignore[arg-type]


def test_the_schema_reads_the_enum_and_writes_its_string() -> None:
    document = load_results(FIXTURE)
    assert [s.transport for s in document.scenarios] == [
        Transport.WS,
        Transport.SHORT_POLL,
        Transport.LONG_POLL,
        Transport.SSE,
    ]
    assert all(type(s.transport) is Transport for s in document.scenarios)
    assert dump_results(document) == FIXTURE.read_text(encoding="utf-8")


def test_a_scenario_built_from_python_takes_a_member_or_its_string() -> None:
    scenario = load_results(FIXTURE).scenarios[0]
    data: dict[str, Any] = scenario.model_dump()
    for given in (Transport.ECHO, "echo"):
        rebuilt = Scenario.model_validate({**data, "transport": given})
        assert rebuilt.transport is Transport.ECHO
        assert '"transport":"echo"' in rebuilt.model_dump_json()


def test_a_transport_not_in_the_enum_is_refused() -> None:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    data["scenarios"][0]["transport"] = "carrier-pigeon"
    with pytest.raises(SchemaError, match=r"scenarios\.0\.transport: Input should be 'ws'"):
        load_results(json.dumps(data))
