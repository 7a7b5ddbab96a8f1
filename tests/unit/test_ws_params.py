"""WebSocket endpoint parameters: FastAPI's constraints and error shape, without FastAPI."""

from __future__ import annotations

import json

import pytest

from target_app.ws_params import (
    EchoQuery,
    InvalidParameters,
    RoomQuery,
    echo_query,
    room_name,
    room_query,
)


@pytest.mark.parametrize("name", ["a", "room-1", "A.b_c", "x" * 64])
def test_valid_room_names_pass(name: str) -> None:
    assert room_name(name) == name


@pytest.mark.parametrize("name", ["", "-lead", "has space", "x" * 65, "café", "semi;colon"])
def test_invalid_room_names_name_the_path_parameter(name: str) -> None:
    with pytest.raises(InvalidParameters) as refused:
        room_name(name)
    assert [e["loc"] for e in refused.value.errors] == [["path", "room"]]
    assert "String should match pattern" in refused.value.errors[0]["msg"]


def test_no_query_string_is_the_defaults() -> None:
    assert room_query(b"") == RoomQuery(after=None, receive=True)
    assert echo_query(b"", 100) == EchoQuery(delay_ms=0)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"after=5&receive=false", RoomQuery(after=5, receive=False)),
        (b"after=0", RoomQuery(after=0)),
        (b"receive=0", RoomQuery(receive=False)),
        (b"receive=yes", RoomQuery(receive=True)),
        (b"after=1&after=2", RoomQuery(after=2)),  # as Starlette: the last one wins
        (b"unknown=1", RoomQuery()),
    ],
)
def test_room_query_parses_like_fastapi(query: bytes, expected: RoomQuery) -> None:
    assert room_query(query) == expected


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (b"after=-1", "after", "greater than or equal to 0"),
        (b"after=abc", "after", "valid integer"),
        (b"after=", "after", "valid integer"),
        (b"receive=maybe", "receive", "valid boolean"),
    ],
)
def test_bad_room_query_names_the_parameter(query: bytes, field: str, message: str) -> None:
    with pytest.raises(InvalidParameters) as refused:
        room_query(query)
    assert refused.value.errors[0]["loc"] == ["query", field]
    assert message in refused.value.errors[0]["msg"]
    assert json.loads(str(refused.value)) == refused.value.errors


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (b"delay_ms=-1", "greater than or equal to 0"),
        (b"delay_ms=1.5", "valid integer"),
        (b"delay_ms=101", "less than or equal to 100"),
    ],
)
def test_bad_delay_names_the_parameter(query: bytes, message: str) -> None:
    with pytest.raises(InvalidParameters) as refused:
        echo_query(query, max_delay_ms=100)
    assert refused.value.errors == [
        {"loc": ["query", "delay_ms"], "msg": refused.value.errors[0]["msg"]}
    ]
    assert message in refused.value.errors[0]["msg"]


def test_delay_at_the_bound_is_accepted() -> None:
    assert echo_query(b"delay_ms=100", max_delay_ms=100).delay_ms == 100
