"""What Locust publishers send and subscribers read."""

from __future__ import annotations

import os

import orjson
import pytest

from pushbench.locust.envelopes import (
    Envelope,
    Notice,
    clock_id,
    parse_message,
    parse_object,
    publish_frame,
    publisher_id,
    same_clock,
)


def test_publish_frame_is_what_the_server_accepts() -> None:
    frame = orjson.loads(publish_frame("pb.x.1.0", 3, 123, "payload"))
    assert frame == {"publisher": "pb.x.1.0", "seq": 3, "sent_ns": 123, "payload": "payload"}


def test_publisher_ids_name_the_clock_and_the_process() -> None:
    assert publisher_id(2, clock="abcd1234") == f"pb.abcd1234.{os.getpid()}.2"
    assert clock_id() == clock_id()
    assert len(clock_id()) == 8
    assert same_clock(publisher_id(0))
    assert not same_clock(publisher_id(0, clock="00000000"), clock="ffffffff")


def test_parse_message_reads_envelopes_notices_and_skips_others() -> None:
    envelope = {"id": 9, "room": "r", "publisher": "pb.a.1.0", "seq": 4, "sent_ns": 77}
    assert parse_message(orjson.dumps(envelope)) == Envelope(9, "pb.a.1.0", 4, 77)
    notice = parse_message('{"event":"missed","missed":3}')
    assert isinstance(notice, Notice)
    assert (notice.event, notice.missed) == ("missed", 3)
    assert Notice("error", {"missed": "x"}).missed == 0
    assert parse_message('{"id":1,"publisher":"browser","seq":null,"payload":"hi"}') is None
    assert parse_object({"id": 1, "publisher": 5}) is None


@pytest.mark.parametrize(
    "text",
    ["[1, 2]", '{"id":"1","publisher":"pb.a.1.0","seq":0,"sent_ns":1}', "not json"],
)
def test_parse_message_refuses_malformed_frames(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - orjson and our own errors alike
        parse_message(text)
