"""The sweep matrix: expansion, invalid combinations, order, and fitting a time budget."""

from __future__ import annotations

import pytest

from pushbench.core.server_config import LOOPS
from pushbench.sweep.matrix import (
    WORKLOADS,
    SweepConfig,
    Timing,
    expand,
    parse_deflate,
    parse_names,
    parse_workers,
    plan_sweep,
)


def test_expansion_is_the_product_with_the_implied_broker() -> None:
    configs, skipped = expand(
        (1, 2), ("asyncio", "uvloop"), ("websockets-sansio",), ("h11", "httptools")
    )
    assert len(configs) == 8
    assert skipped == []
    assert {c.broker for c in configs if c.workers == 1} == {"memory"}
    assert {c.broker for c in configs if c.workers == 2} == {"redis"}
    assert configs[0] == SweepConfig(1, "asyncio", "websockets-sansio", "h11", "memory")
    assert configs[0].label == "w1 asyncio websockets-sansio h11"
    assert configs[0].slug == "w1/asyncio/websockets-sansio/h11"


def test_memory_broker_with_several_workers_is_skipped_with_the_reason() -> None:
    configs, skipped = expand(
        (1, 2), ("uvloop",), ("wsproto",), ("httptools",), ("memory", "redis")
    )
    assert [c.label for c in configs] == [
        "w1 uvloop wsproto httptools",
        "w1 uvloop wsproto httptools redis",
        "w2 uvloop wsproto httptools",
    ]
    assert [s.label for s in skipped] == ["w2 uvloop wsproto httptools memory"]
    assert "one set of rooms per worker" in skipped[0].reason


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: parse_workers("1,x"), "integers"),
        (lambda: parse_workers("0"), ">= 1"),
        (lambda: parse_names("asyncio,trio", "--loop", LOOPS), "unknown trio"),
        (lambda: parse_names("auto", "--loop", LOOPS), "unknown auto"),
        (lambda: expand((1,), ("uvloop",), ("h2",), ("h11",)), "--ws-impl"),
        (lambda: expand((1,), ("uvloop",), ("wsproto",), ("h11",), ("kafka",)), "--brokers"),
    ],
)
def test_bad_options_say_what_is_wrong(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_parsing_keeps_order_and_drops_duplicates() -> None:
    assert parse_workers("4,1,4, 2") == (4, 1, 2)
    assert parse_names("uvloop, asyncio,uvloop", "--loop", LOOPS) == ("uvloop", "asyncio")


def test_cheapest_first_without_budget() -> None:
    configs, _ = expand((4, 1, 2), ("uvloop",), ("wsproto",), ("h11",))
    timing = Timing(duration_s=2.0, warmup_s=0.5)
    plan = plan_sweep(configs, timing)
    assert [c.workers for c in plan.configs] == [1, 2, 4]
    assert plan.skipped == ()
    per_workload = 2.0 + 0.5 + timing.overhead_s
    expected = sum(
        timing.startup_s + timing.per_worker_s * (w - 1) + per_workload * len(WORKLOADS)
        for w in (1, 2, 4)
    )
    assert plan.estimate_s == pytest.approx(expected)


def test_budget_shortens_the_interval_before_dropping_anything() -> None:
    configs, _ = expand((1, 2), ("asyncio", "uvloop"), ("websockets-sansio",), ("httptools",))
    timing = Timing(duration_s=10.0, warmup_s=2.0)
    full = plan_sweep(configs, timing).estimate_s
    plan = plan_sweep(configs, timing, budget_s=full / 2)
    assert len(plan.configs) == 4
    assert 1.0 <= plan.timing.duration_s < 10.0
    assert plan.timing.warmup_s == pytest.approx(plan.timing.duration_s * 0.2)
    assert plan.estimate_s <= full / 2 + 1e-6
    assert "shortened" in plan.notes[0]


def test_budget_drops_the_most_expensive_configurations_and_says_why() -> None:
    configs, _ = expand((1, 2, 4), ("uvloop",), ("websockets-sansio",), ("httptools",))
    timing = Timing(duration_s=5.0, warmup_s=1.0)
    one = timing.config_s(configs[0])
    plan = plan_sweep(configs, timing, budget_s=one * 1.5, min_duration_s=5.0)
    assert [c.workers for c in plan.configs] == [1]
    assert [s.label for s in plan.skipped] == [
        "w2 uvloop websockets-sansio httptools",
        "w4 uvloop websockets-sansio httptools",
    ]
    assert all(s.reason.startswith("budget:") for s in plan.skipped)
    assert plan.timing.duration_s == 5.0  # already at the floor: nothing to shorten


def test_params_carry_every_dimension() -> None:
    config = SweepConfig(2, "uvloop", "wsproto", "h11", "redis")
    assert config.params() == {
        "server": "uvicorn",
        "workers": 2,
        "loop": "uvloop",
        "ws_impl": "wsproto",
        "http_impl": "h11",
        "broker": "redis",
        "flavor": "asgi",
        "ws_per_message_deflate": False,
    }


def test_flavor_is_a_matrix_axis_named_only_when_not_the_default() -> None:
    configs, skipped = expand([1], ["uvloop"], ["websockets-sansio"], ["httptools"],
                              flavors=["asgi", "fastapi"])  # fmt: skip
    assert skipped == []
    assert [c.label for c in configs] == [
        "w1 uvloop websockets-sansio httptools",  # as before flavors: old baselines still match
        "w1 uvloop websockets-sansio httptools fastapi",
    ]
    assert [c.slug for c in configs][1] == "w1/uvloop/websockets-sansio/httptools/fastapi"
    assert configs[1].params()["flavor"] == "fastapi"
    with pytest.raises(ValueError, match="--flavor: unknown flask"):
        expand([1], ["uvloop"], ["websockets-sansio"], ["httptools"], flavors=["flask"])


def test_other_servers_collapse_the_uvicorn_implementation_axes() -> None:
    """granian and hypercorn run their own WebSocket and HTTP: one configuration per loop and
    worker count, not one per uvicorn implementation listed; uvicorn's labels stay as they were."""
    configs, skipped = expand(
        [1],
        ["asyncio", "uvloop"],
        ["websockets-sansio", "wsproto"],
        ["httptools"],
        servers=["uvicorn", "granian", "hypercorn"],
    )
    assert skipped == []
    assert [c.label for c in configs] == [
        "w1 asyncio websockets-sansio httptools",
        "w1 asyncio wsproto httptools",
        "w1 uvloop websockets-sansio httptools",
        "w1 uvloop wsproto httptools",
        "w1 asyncio granian",
        "w1 uvloop granian",
        "w1 asyncio hypercorn",
        "w1 uvloop hypercorn",
    ]
    granian = configs[4]
    assert (granian.server, granian.ws_impl, granian.http_impl) == ("granian", "auto", "auto")
    assert granian.params()["server"] == "granian"


def test_gunicorn_keeps_uvicorns_implementation_axes() -> None:
    """gunicorn runs uvicorn workers: every listed WebSocket and HTTP implementation is a
    configuration of its own, named as uvicorn's with the server after them."""
    configs, _ = expand(
        [1], ["uvloop"], ["websockets-sansio", "wsproto"], ["h11"], servers=["gunicorn"]
    )
    assert [c.label for c in configs] == [
        "w1 uvloop websockets-sansio h11 gunicorn",
        "w1 uvloop wsproto h11 gunicorn",
    ]
    assert configs[1].params() | {"broker": None} == {
        "server": "gunicorn",
        "workers": 1,
        "loop": "uvloop",
        "ws_impl": "wsproto",
        "http_impl": "h11",
        "broker": None,
        "flavor": "asgi",
        "ws_per_message_deflate": False,
    }


def test_an_unknown_server_is_refused() -> None:
    with pytest.raises(ValueError, match="--server: unknown daphne"):
        expand([1], ["uvloop"], ["wsproto"], ["h11"], servers=["daphne"])


def test_deflate_is_an_axis_and_granian_is_skipped_with_it_on() -> None:
    configs, skipped = expand(
        [1],
        ["uvloop"],
        ["wsproto"],
        ["h11"],
        servers=("uvicorn", "granian"),
        deflates=(False, True),
    )
    assert [c.label for c in configs] == [
        "w1 uvloop wsproto h11",
        "w1 uvloop wsproto h11 deflate",
        "w1 uvloop granian",
    ]
    assert configs[1].params()["ws_per_message_deflate"] is True
    assert [(s.label, s.reason) for s in skipped] == [
        (
            "w1 uvloop granian deflate",
            "--server granian has no permessage-deflate (--ws-per-message-deflate)",
        )
    ]


def test_deflate_values_parse_or_say_what_is_wrong() -> None:
    assert parse_deflate("off,on,off") == (False, True)
    assert parse_deflate("on") == (True,)
    with pytest.raises(ValueError, match="unknown maybe"):
        parse_deflate("on,maybe")
