"""The token echo's bookkeeping, without sockets: what each reply counts as, and which phases of
``serverbench`` a profile's app offers."""

from __future__ import annotations

from pushbench.core.payload_token import make_token
from pushbench.core.target_profile import BUILTIN_PROFILES
from pushbench.drivers.profiled_capacity import _Echoer, _Tally
from pushbench.serverbench.run import skipped_phases


def _echoer() -> tuple[_Echoer, _Tally, list[int]]:
    tally = _Tally()
    sent: list[int] = []

    def make(seq: int, sent_ns: int) -> bytes:
        sent.append(seq)
        return b""

    echoer = _Echoer("e1", make, tally)
    echoer.client = _Sink()  # type: ignore[assignment]
    echoer.send_next()
    return echoer, tally, sent


class _Sink:
    def send(self, frame: bytes) -> None:
        """Sent frames go nowhere: the test answers by hand."""


def _reply(echoer: _Echoer, publisher: str, seq: int) -> None:
    echoer.on_message(f"Your text was: {make_token(publisher, seq, 12345)}".encode())


def test_the_outstanding_reply_is_a_round_trip_and_sends_the_next() -> None:
    echoer, tally, _ = _echoer()
    _reply(echoer, "e1", 0)
    assert len(tally.round_trips_ns) == 1
    assert echoer.seq == 1
    assert tally.lost == tally.duplicated == tally.unexpected == tally.wrong == 0


def test_a_second_copy_is_duplicated_and_a_frame_without_a_token_unexpected() -> None:
    echoer, tally, _ = _echoer()
    _reply(echoer, "e1", 0)
    _reply(echoer, "e1", 0)
    echoer.on_message(b"Client #1 left the chat")
    assert (tally.duplicated, tally.unexpected, len(tally.round_trips_ns)) == (1, 1, 1)
    assert echoer.seq == 1, "neither sends again"


def test_a_token_never_sent_or_another_connections_is_wrong() -> None:
    echoer, tally, _ = _echoer()
    _reply(echoer, "e1", 5)
    _reply(echoer, "e2", 0)
    assert tally.wrong == 2
    assert not tally.round_trips_ns


def test_an_unanswered_message_is_lost_after_the_timeout_and_a_late_reply_undoes_it() -> None:
    echoer, tally, sent = _echoer()
    first_sent = echoer.sent_ns
    echoer.expire(echoer.sent_ns + 10, timeout_ns=100)
    assert tally.lost == 0, "not yet"
    echoer.expire(echoer.sent_ns + 101, timeout_ns=100)
    assert (tally.lost, sent) == (1, [0, 1])
    _reply(echoer, "e1", 0)  # it came after all: late, not lost, not a duplicate
    assert (tally.lost, tally.late, tally.duplicated) == (0, 1, 0)
    # Both by the lost message's send time: the interval it was sent in gets them.
    assert list(tally.samples.failed_ns) == list(tally.samples.recovered_ns) == [first_sent]
    _reply(echoer, "e1", 1)
    assert len(tally.round_trips_ns) == 1


def test_serverbench_runs_only_what_a_profile_offers() -> None:
    assert skipped_phases(BUILTIN_PROFILES["reference"]) == {}
    assert set(skipped_phases(BUILTIN_PROFILES["tutorial"])) == {"fanout", "poll"}
    assert set(skipped_phases(BUILTIN_PROFILES["fastapi-docs-chat"])) == {"echo", "poll"}
