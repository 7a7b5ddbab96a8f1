"""One Locust process's measuring state: the recorder, its live subscribers, the drain.

Pure Python: no Locust import, so the logic is unit-testable. Waiting uses ``time.sleep``,
which Locust's gevent monkey-patching turns into a cooperative sleep.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pushbench.core.integrity import Arrival, IntegrityCounts
from pushbench.core.kinds import Transport
from pushbench.core.payload_token import Token
from pushbench.core.target_adapter import TargetAdapter
from pushbench.core.target_profile import resolve_profile
from pushbench.locust.envelopes import PUBLISHER_PREFIX, Envelope, Notice, clock_id
from pushbench.locust.options import LoadOptions
from pushbench.locust.recording import NameStats, NodeRecorder, NodeReport, Phase
from pushbench.locust.streams import SubscriberStreams

__all__ = [
    "DuplicateMessage",
    "Fire",
    "MissedMessages",
    "Node",
    "ServerNotice",
    "Subscription",
    "resolve_adapter",
    "token_publisher",
]

#: A Locust publisher id (``pb.<clock>.<pid>.<index>``) as a payload token writes it: dots are
#: not allowed there, dashes are (and none of the id's parts holds one), so it maps back.
_TOKEN_PREFIX = PUBLISHER_PREFIX.replace(".", "-")


def token_publisher(publisher: str) -> str:
    """The publisher id a payload token carries for the Locust publisher ``publisher``."""
    return publisher.replace(".", "-")


def resolve_adapter(profile: str) -> TargetAdapter | None:
    """``--pushbench-profile`` resolved (None: none, or ``reference``: the envelope as before).

    Raises:
        ProfileError: one line naming what is wrong.
    """
    if not profile:
        return None
    adapter = resolve_profile(profile, [os.getcwd()])
    return None if adapter.reference else adapter


#: ``events.request.fire`` (keyword arguments only).
Fire = Callable[..., None]

#: Seconds between two checks of "have all subscribers caught up?" while draining.
_DRAIN_CHECK_S = 0.02


class Subscription:
    """What one subscriber user received: latencies, integrity, its resume cursor.

    The user feeds it every message (:meth:`message`) and notice (:meth:`notice`); the node
    finishes it at the end of the test (or the user does, leaving early).
    """

    __slots__ = ("_fire", "_node", "_prefix", "finished", "last_id", "name", "stats", "streams")

    def __init__(self, node: Node, name: str, stats: NameStats, fire: Fire) -> None:
        self._node = node
        self._fire = fire
        self._prefix = f"pb.{node.recorder.clock}."
        self.name = name
        self.stats = stats
        self.streams = SubscriberStreams()
        self.last_id = 0
        """Highest message id received: the cursor to resume from after a reconnect."""
        self.finished = False

    def message(self, envelope: Envelope, received_ns: int, length: int = 0) -> None:
        """One message from a pushbench publisher, received at ``received_ns``."""
        if envelope.id > self.last_id:
            self.last_id = envelope.id
        if not self._node.recorder.recording:
            return
        if self.streams.receive(envelope.publisher, envelope.seq) is Arrival.DUPLICATE:
            self._fire(
                request_type="MSG",
                name=self.name,
                response_time=None,
                response_length=length,
                exception=DuplicateMessage(envelope.publisher, envelope.seq),
                context={},
            )
            return
        stats = self.stats
        stats.messages += 1
        if envelope.publisher.startswith(self._prefix):
            latency_ns = received_ns - envelope.sent_ns
            stats.latency.add_ns(latency_ns, envelope.sent_ns)
            response_time: float | None = latency_ns / 1e6
        else:
            stats.cross_clock += 1
            response_time = None
        self._fire(
            request_type="MSG",
            name=self.name,
            response_time=response_time,
            response_length=length,
            exception=None,
            context={},
        )

    def tokens(self, tokens: list[Token], received_ns: int, length: int = 0) -> None:
        """The payload tokens found in one frame, poll item or event of a profiled app.

        Each token of a pushbench publisher is a delivery (:meth:`message`); tokens of anyone
        else are skipped, as envelopes of other clients are; a frame with no token at all is
        *unexpected* (an app's own notices: "Client #3 left the chat").
        """
        if not tokens:
            if self._node.recorder.recording:
                self.stats.integrity = self.stats.integrity + _ONE_UNEXPECTED
            return
        for token in tokens:
            if token.publisher.startswith(_TOKEN_PREFIX):
                publisher = token.publisher.replace("-", ".")
                self.message(
                    Envelope(0, publisher, token.seq, token.scheduled_ns), received_ns, length
                )

    def notice(self, notice: Notice) -> None:
        """A control frame; ``missed`` and errors are reported as Locust failures."""
        if notice.event == "missed":
            error: Exception = MissedMessages(notice.missed)
        elif notice.event in ("error", "dropped"):
            error = ServerNotice(notice.event, notice.fields)
        else:
            return
        self.stats.error(str(error))
        self._fire(
            request_type="MSG",
            name=self.name,
            response_time=None,
            response_length=0,
            exception=error,
            context={},
        )

    def caught_up(self, sent: Mapping[str, int]) -> bool:
        """Whether every publisher's last message arrived (see ``SubscriberStreams``)."""
        return self.streams.caught_up(sent)

    def finish(self, sent: Mapping[str, int] | None = None) -> None:
        """Add this subscriber's integrity counts to its name's totals (once)."""
        if self.finished:
            return
        self.finished = True
        self._node.subscriptions.discard(self)
        if self._node.recorder.recording:
            owed, missing = self.streams.seq_ranges(sent)
            self.stats.finish_subscriber(self.streams.counts(sent), owed, missing)


_ONE_UNEXPECTED = IntegrityCounts(unexpected=1)


class DuplicateMessage(Exception):
    """A message that had already arrived (Locust counts it as a failure)."""

    def __init__(self, publisher: str, seq: int) -> None:
        super().__init__(f"duplicate message {publisher}#{seq}")


class MissedMessages(Exception):
    """The server said messages were lost to this subscriber (history or queue overflow)."""

    def __init__(self, count: int) -> None:
        super().__init__(f"server reports {count} missed messages")


class ServerNotice(Exception):
    """An ``error`` or ``dropped`` notice from the server."""

    def __init__(self, event: str, fields: Mapping[str, Any]) -> None:
        detail = fields.get("error") or fields.get("detail") or ""
        super().__init__(f"server {event}: {detail}".rstrip(": "))


class Node:
    """This process's part of the swarm: what its users measured and how to end the test."""

    def __init__(self, options: LoadOptions | None = None, role: str = "local") -> None:
        self.options = options or LoadOptions()
        self.role = role
        self.recorder = self._recorder(self.options, None)
        self.subscriptions: set[Subscription] = set()
        self._publishers = 0
        self._clients = 0
        self.adapter: TargetAdapter | None = resolve_adapter(self.options.pushbench_profile)
        """How to speak the app (``--pushbench-profile``); None: the reference envelope."""
        self.skipped_users: dict[str, str] = {}
        """User classes left out because the app does not offer their transport → why."""

    def start(self, options: LoadOptions, origin_ns: int | None = None) -> None:
        """A test starts: take the options it runs with and forget the previous test.

        Args:
            options: The test's options.
            origin_ns: Where its intervals start (the master's test start; None: now).
        """
        if options.pushbench_profile != self.options.pushbench_profile:
            self.adapter = resolve_adapter(options.pushbench_profile)
        self.options = options
        self.recorder = self._recorder(options, origin_ns)
        self.subscriptions.clear()

    @staticmethod
    def _recorder(options: LoadOptions, origin_ns: int | None) -> NodeRecorder:
        return NodeRecorder(
            clock_id(),
            keep_raw=bool(options.pushbench_dump_samples),
            origin_ns=origin_ns,
            width_ns=options.interval_ns,
        )

    def next_publisher_index(self) -> int:
        """0, 1, 2... for the publishers of this process."""
        self._publishers += 1
        return self._publishers - 1

    def next_client(self) -> int:
        """A number per connection (a profile's ``{client}``), unique across the processes of
        this host: the process id, then a counter."""
        self._clients += 1
        return os.getpid() * 10_000 + self._clients % 10_000

    def subscribe(self, name: str, transport: Transport, fire: Fire) -> Subscription:
        """A subscriber user starts: its :class:`Subscription`, counted under ``name``."""
        stats = self.recorder.stats(name, transport, self.scenario_params(transport))
        stats.users += 1
        subscription = Subscription(self, name, stats, fire)
        self.subscriptions.add(subscription)
        return subscription

    def scenario_params(self, transport: Transport) -> dict[str, Any]:
        """The parameters a scenario of ``transport`` records (besides users and duration)."""
        options = self.options
        params: dict[str, Any] = {"payload_bytes": options.payload_bytes}
        if transport == Transport.ECHO:
            params["echo_rate_per_s"] = options.echo_rate or None
            return params
        params["publish_rate_per_s"] = options.publish_rate
        params["publishers"] = options.publishers
        if transport == Transport.SHORT_POLL:
            params["poll_interval_s"] = options.poll_interval
        elif transport == Transport.LONG_POLL:
            params["long_poll_wait_s"] = options.long_poll_wait
        return params

    def stop_load(self) -> dict[str, int]:
        """Publishers and echo users stop; returns what each publisher sent."""
        if self.recorder.phase is Phase.RUNNING:
            self.recorder.phase = Phase.DRAINING
        return dict(self.recorder.sent)

    def drain(self, sent: Mapping[str, int], timeout_s: float) -> bool:
        """Wait until every live subscriber has every publisher's last message, or timeout.

        Returns:
            Whether all caught up (False: the stragglers' missing messages count as lost).
        """
        deadline = time.monotonic() + timeout_s
        while True:
            if all(sub.caught_up(sent) for sub in list(self.subscriptions)):
                self.recorder.drained = True
                return True
            if time.monotonic() >= deadline:
                self.recorder.drained = False
                return False
            # A completion check that re-tests its condition; the sleep only paces it.
            time.sleep(_DRAIN_CHECK_S)

    def final_report(self, sent: Mapping[str, int]) -> NodeReport:
        """Finish every live subscriber against ``sent``, close recording, return the report."""
        for subscription in list(self.subscriptions):
            subscription.finish(sent)
        report = self.recorder.take_report(final=True)
        self.recorder.phase = Phase.CLOSED
        self.dump_samples()
        return report

    def dump_samples(self) -> Path | None:
        """Debug (``--pushbench-dump-samples``): every raw sample shipped, as JSON: by name, each
        sample's latency and its message's scheduled time (``CLOCK_MONOTONIC`` ns), and the
        intervals' origin and width this process bucketed them against."""
        directory = self.options.pushbench_dump_samples
        if not directory:
            return None
        recorder = self.recorder
        path = Path(directory) / f"samples-{self.role}-{os.getpid()}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        dump = {
            "origin_ns": recorder.origin_ns,
            "width_ns": recorder.width_ns,
            "names": recorder.raw_samples(),
        }
        path.write_text(json.dumps(dump))
        return path
