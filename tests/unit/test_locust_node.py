"""A Locust process's measuring state, driven without Locust (a list stands in for events)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.integrity import IntegrityCounts
from pushbench.core.payload_token import Token, find_tokens, make_token
from pushbench.locust.envelopes import Envelope, Notice, publisher_id
from pushbench.locust.node import DuplicateMessage, MissedMessages, Node, token_publisher
from pushbench.locust.options import LoadOptions
from pushbench.locust.recording import Phase


class Events(list[dict[str, Any]]):
    """Collects what would have been fired as Locust request events."""

    def fire(self, **event: Any) -> None:
        self.append(event)


def test_deliveries_are_timed_checked_and_fired() -> None:
    node, events = Node(LoadOptions()), Events()
    subscription = node.subscribe("ws", "ws", events.fire)
    me, other = publisher_id(0), "pb.00000000.1.0"
    subscription.message(Envelope(1, me, 0, sent_ns=1_000_000), received_ns=3_000_000)
    subscription.message(Envelope(2, me, 0, sent_ns=1_000_000), received_ns=4_000_000)
    subscription.message(Envelope(3, other, 0, sent_ns=5), received_ns=9)
    assert subscription.last_id == 3
    assert [e["response_time"] for e in events] == [2.0, None, None]
    assert isinstance(events[1]["exception"], DuplicateMessage)
    assert events[0]["request_type"] == "MSG"
    assert events[0]["name"] == "ws"
    stats = node.recorder.names["ws"]
    assert (stats.messages, stats.cross_clock, stats.users) == (2, 1, 1)
    assert len(stats.latency) == 1


def test_missed_notices_become_failures_and_errors() -> None:
    node, events = Node(), Events()
    subscription = node.subscribe("sse", "sse", events.fire)
    subscription.notice(Notice("missed", {"event": "missed", "missed": 4}))
    subscription.notice(Notice("keepalive", {}))
    assert len(events) == 1
    assert isinstance(events[0]["exception"], MissedMessages)
    assert node.recorder.names["sse"].errors == ["server reports 4 missed messages"]


def test_stop_drain_and_final_report() -> None:
    node, events = Node(), Events()
    subscription = node.subscribe("ws", "ws", events.fire)
    me = publisher_id(0)
    node.recorder.sent[me] = 3
    for seq in range(2):
        subscription.message(Envelope(seq + 1, me, seq, 0), 10)
    sent = node.stop_load()
    assert node.recorder.phase is Phase.DRAINING
    assert not node.drain(sent, timeout_s=0.0), "seq 2 has not arrived"
    assert node.recorder.drained is False
    subscription.message(Envelope(3, me, 2, 0), 10)
    assert node.drain(sent, timeout_s=0.0)
    report = node.final_report(sent)
    assert report["final"]
    assert report["drained"]
    assert report["names"]["ws"]["integrity"] == IntegrityCounts(sent=3, delivered=3).as_dict()
    assert LatencyHistogram.decode(report["names"]["ws"]["histogram"]).count == 3
    assert not node.recorder.recording
    assert subscription.finished
    assert not node.subscriptions
    subscription.message(Envelope(4, me, 3, 0), 10)  # after the end: ignored
    assert node.recorder.names["ws"].messages == 0


def test_a_subscriber_leaving_early_counts_up_to_what_it_saw() -> None:
    node = Node()
    subscription = node.subscribe("ws", "ws", Events().fire)
    me = publisher_id(0)
    for seq in (0, 2):
        subscription.message(Envelope(seq + 1, me, seq, 0), 0)
    subscription.finish()
    subscription.finish()  # idempotent
    stats = node.recorder.names["ws"]
    assert stats.integrity == IntegrityCounts(sent=3, delivered=2, lost=1)
    assert stats.subscribers_done == 1


def test_scenario_params_name_what_varies() -> None:
    node = Node(LoadOptions(poll_interval=0.5, publish_rate=20))
    assert node.scenario_params("echo") == {"payload_bytes": 64, "echo_rate_per_s": 10.0}
    assert node.scenario_params("short-poll")["poll_interval_s"] == 0.5
    assert node.scenario_params("long-poll")["long_poll_wait_s"] == 20.0
    assert node.scenario_params("ws")["publish_rate_per_s"] == 20
    assert [node.next_publisher_index() for _ in range(3)] == [0, 1, 2]


def test_raw_samples_are_dumped_for_checking_the_merge(tmp_path: Path) -> None:
    options = LoadOptions(pushbench_dump_samples=str(tmp_path / "dump"))
    node = Node(options, role="worker")
    node.start(options, origin_ns=7)
    stats = node.recorder.stats("echo", "echo")
    for ns in (1_000, 2_000):
        stats.latency.add_ns(ns, ns + 10)
    node.recorder.take_report()
    stats.latency.add_ns(3_000, 20)
    node.final_report({})
    (dump,) = (tmp_path / "dump").iterdir()
    assert dump.name.startswith("samples-worker-")
    assert json.loads(dump.read_text()) == {
        "origin_ns": 7,
        "width_ns": 1_000_000_000,
        "names": {
            "echo": {"latency_ns": [1_000, 2_000, 3_000], "scheduled_ns": [1_010, 2_010, 20]}
        },
    }


def test_payload_tokens_of_a_profiled_app_are_deliveries_and_tokenless_frames_unexpected() -> None:
    node, events = Node(LoadOptions(pushbench_profile="fastapi-docs-chat")), Events()
    assert node.adapter is not None
    assert node.adapter.name == "fastapi-docs-chat"
    subscription = node.subscribe("ws", "ws", events.fire)
    me = publisher_id(0)
    frame = f"Client #3 says: {make_token(token_publisher(me), 0, 1_000_000)} xx"
    subscription.tokens(find_tokens(frame), received_ns=3_000_000)
    subscription.tokens(find_tokens(frame), received_ns=4_000_000)  # the same again
    subscription.tokens(find_tokens("Client #3 left the chat"), received_ns=5_000_000)
    subscription.tokens([Token("someone-else", 0, 1)], received_ns=6_000_000)  # not ours
    assert [e["response_time"] for e in events] == [2.0, None]
    assert isinstance(events[1]["exception"], DuplicateMessage)
    stats = node.recorder.names["ws"]
    assert stats.messages == 1
    subscription.finish({me: 1})
    assert stats.integrity == IntegrityCounts(sent=1, delivered=1, duplicated=1, unexpected=1)


def test_the_reference_profile_keeps_the_envelope() -> None:
    assert Node(LoadOptions(pushbench_profile="reference")).adapter is None
    assert Node(LoadOptions()).adapter is None
    assert token_publisher("pb.0a1b2c3d.4242.7") == "pb-0a1b2c3d-4242-7"
