"""A sweep of a user's app (``--app``): every worker count runs on the app's own state, and an app
that offers no push is recommended on throughput alone (pure: no sockets)."""

from __future__ import annotations

from pushbench.core.server_config import ServerConfig
from pushbench.core.target_profile import BUILTIN_PROFILES
from pushbench.sweep.matrix import OWN_STATE, SweepConfig, expand
from pushbench.sweep.recommend import Context, Measurement, describe, recommend
from pushbench.sweep.run import skipped_workloads


def test_a_users_app_runs_every_worker_count_on_its_own_state() -> None:
    configs, skipped = expand((1, 2), ("uvloop",), ("websockets-sansio",), ("httptools",),
                              own_app=True)  # fmt: skip
    assert skipped == []
    assert [(c.workers, c.broker) for c in configs] == [(1, OWN_STATE), (2, OWN_STATE)]
    assert configs[1].label == "w2 uvloop websockets-sansio httptools"
    assert describe(configs[1]).endswith("(the app's own state)")
    # The reference server's rule (one set of rooms per worker) is not the app's to obey.
    ServerConfig(app="examples.docs_chat_app:app", workers=2, broker="memory")


def _echo_only(workers: int, echo: float) -> Measurement:
    config = SweepConfig(workers, "uvloop", "websockets-sansio", "httptools", OWN_STATE)
    return Measurement(config, throughput={"echo": echo})


def test_without_push_the_best_throughput_is_recommended_and_says_so() -> None:
    measurements = [_echo_only(1, 10_000), _echo_only(2, 15_000)]
    assert recommend(measurements, Context()).config is None, "push is required by default"
    picked = recommend(measurements, Context(push_measured=False))
    assert picked.config == measurements[1].config
    assert picked.reasons[:2] == (
        "the best throughput: 15,000 echo round trips/s",
        "push latency not measured (the app offers no push): throughput alone decides",
    )


def test_workloads_a_profile_does_not_offer_are_skipped_with_the_reason() -> None:
    assert skipped_workloads(BUILTIN_PROFILES["reference"]) == {}
    assert skipped_workloads(BUILTIN_PROFILES["tutorial"]) == {
        "fanout": "profile 'tutorial' offers no ws endpoint to fan out to",
        "push": "profile 'tutorial' offers no ws endpoint to push to",
        "poll": "profile 'tutorial' offers no short-poll endpoint",
    }
