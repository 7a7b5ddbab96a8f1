"""Plan inputs of one server flavor: mixed flavors refused unless one is chosen."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushbench.core.scenario_flavor import flavor_of
from pushbench.core.schema import load_results
from pushbench.plan.inputs import MixedFlavors, read_inputs
from pushbench.plan.model import PlanRequest, make_plan
from pushbench.plan.text import plan_document, plan_title
from tests.unit.test_framework_tax import two_flavors

FIXTURES = Path(__file__).parent.parent / "fixtures"


def test_inputs_of_two_flavors_are_refused_without_a_choice() -> None:
    with pytest.raises(MixedFlavors, match=r"several server flavors \(asgi, fastapi\)") as info:
        read_inputs([("both.json", two_flavors())])
    assert "--flavor asgi or --flavor fastapi" in str(info.value)


def test_a_pre_flavor_run_and_a_flavored_one_do_not_mix_either() -> None:
    golden = load_results(FIXTURES / "results-v1.json")
    asgi_only = two_flavors().model_copy(
        update={"scenarios": [s for s in two_flavors().scenarios if flavor_of(s) == "asgi"]}
    )
    with pytest.raises(MixedFlavors, match=r"\(not recorded, asgi\)"):
        read_inputs([("old.json", golden), ("new.json", asgi_only)])


def test_a_chosen_flavor_keeps_its_scenarios_and_the_plan_says_which() -> None:
    inputs = read_inputs([("both.json", two_flavors())], flavor="fastapi")
    assert inputs.flavor == "fastapi"
    assert {p.flavor for p in inputs.points} == {"fastapi"}
    assert len(inputs.points) == 4
    assert "both.json: ws@asgi: the asgi flavor, not fastapi; skipped" in inputs.notes
    assert inputs.notes[-1].startswith("flavor: fastapi")
    plan = make_plan(inputs, PlanRequest(clients=1000, msgs_per_client_per_s=1.0))
    assert plan.flavor == "fastapi"
    assert plan_title(plan).endswith("B payloads, fastapi flavor")
    assert plan_document(plan, "plan-x", ["both.json"])["flavor"] == "fastapi"


def test_one_flavor_needs_no_choice_and_a_pre_flavor_run_has_none() -> None:
    asgi = read_inputs([("both.json", two_flavors())], flavor="asgi")
    again = read_inputs([("asgi.json", two_flavors().model_copy(
        update={"scenarios": [s for s in two_flavors().scenarios if flavor_of(s) == "asgi"]}
    ))])  # fmt: skip
    assert again.flavor == "asgi"
    assert [p.source.split(": ")[1] for p in again.points] == [
        p.source.split(": ")[1] for p in asgi.points
    ]
    old = read_inputs([("old.json", load_results(FIXTURES / "results-v1.json"))])
    assert old.flavor is None
    assert not any(note.startswith("flavor:") for note in old.notes)
