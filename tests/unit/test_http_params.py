"""The lean HTTP endpoints' parameter parser: Starlette's query split, FastAPI's rules and 422s.

The expected bodies are what FastAPI 0.165's routes answer (captured from the registered routes;
``tests/unit/test_asgi_http.py`` compares both ways to the endpoints on a live app as well).
"""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers, QueryParams

from target_app.http_params import (
    EventsParser,
    InvalidRequest,
    PollParams,
    PollParser,
    header_values,
    query_values,
)

POLL = PollParser(max_poll_limit=1000, max_wait_s=60.0)
EVENTS = EventsParser()
ROOM_ERROR = (
    b'{"type":"string_pattern_mismatch","loc":["path","room"],"msg":"String should match pattern '
    b'\'^[A-Za-z0-9][A-Za-z0-9_.\\\\-]{0,63}$\'","input":"%s","ctx":{"pattern":'
    b'"^[A-Za-z0-9][A-Za-z0-9_.\\\\-]{0,63}$"}}'
)
INT_PARSING = (
    b'{"type":"int_parsing","loc":["%s","%s"],"msg":"Input should be a valid integer, unable to '
    b'parse string as an integer","input":"%s"}'
)


def poll(query: bytes, room: str = "r1") -> PollParams:
    return POLL.parse(room, query_values(query))


def refusal(query: bytes, room: str = "r1") -> bytes:
    with pytest.raises(InvalidRequest) as refused:
        poll(query, room)
    response = refused.value.response()
    assert response.status_code == 422
    assert response.raw_headers[1] == (b"content-type", b"application/json")
    return bytes(response.body)


@pytest.mark.parametrize(
    "query",
    [
        b"",
        b"a=1&b=2",
        b"a=1&a=2",
        b"a&b=",
        b"&&a=1&",
        b"a=%20x%2B+y",
        b"a+b=c",
        b"x=%ff%fe",
        b"t=caf\xc3\xa9",
        b"a==b",
        b"=v",
        b"after=1;limit=2",
    ],
)
def test_query_split_as_starlette(query: bytes) -> None:
    assert query_values(query) == dict(QueryParams(query))


def test_headers_first_occurrence_as_starlette() -> None:
    raw = [(b"origin", b"a"), (b"host", b"h"), (b"origin", b"b"), (b"x", b"\xe9")]
    wanted = frozenset({b"origin", b"x", b"missing"})
    found = header_values(raw, wanted)
    starlette = Headers(raw=raw)
    assert found == {b"origin": starlette["origin"], b"x": starlette["x"]}


def test_defaults_without_parameters() -> None:
    assert poll(b"") == ("r1", 0, 100, 0.0)
    assert poll(b"token=abc&other=1") == ("r1", 0, 100, 0.0)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"after=7&limit=1000&wait=60", ("r1", 7, 1000, 60.0)),
        (b"after=007", ("r1", 7, 100, 0.0)),  # pydantic takes leading zeros
        (b"after=%201", ("r1", 1, 100, 0.0)),  # ... and strips blanks
        (b"after=+1", ("r1", 1, 100, 0.0)),  # '+' is a blank in a query
        (b"after=1_0", ("r1", 10, 100, 0.0)),  # ... and reads Python's underscores
        (b"after=2.0", ("r1", 2, 100, 0.0)),  # ... and a float with no fraction
        (b"after=1&after=3", ("r1", 3, 100, 0.0)),  # the last repeat wins
        (b"wait=0.25", ("r1", 0, 100, 0.25)),
        (b"wait=1e1", ("r1", 0, 100, 10.0)),
        (b"after=" + b"9" * 30, ("r1", 10**30 - 1, 100, 0.0)),
    ],
)
def test_valid_values_read_as_fastapi_reads_them(query: bytes, expected: PollParams) -> None:
    assert poll(query) == expected


@pytest.mark.parametrize(
    ("query", "error"),
    [
        (b"after=x", INT_PARSING % (b"query", b"after", b"x")),
        (b"after=", INT_PARSING % (b"query", b"after", b"")),
        (b"after=1.5", INT_PARSING % (b"query", b"after", b"1.5")),
        (b"after=1e3", INT_PARSING % (b"query", b"after", b"1e3")),
        (b"limit=%C3%A9", INT_PARSING % (b"query", b"limit", "é".encode())),
        (
            b"after=-1",
            b'{"type":"greater_than_equal","loc":["query","after"],"msg":"Input should be '
            b'greater than or equal to 0","input":"-1","ctx":{"ge":0}}',
        ),
        (
            b"limit=0",
            b'{"type":"greater_than_equal","loc":["query","limit"],"msg":"Input should be '
            b'greater than or equal to 1","input":"0","ctx":{"ge":1}}',
        ),
        (
            b"limit=5000",
            b'{"type":"less_than_equal","loc":["query","limit"],"msg":"Input should be less '
            b'than or equal to 1000","input":"5000","ctx":{"le":1000}}',
        ),
        (
            b"wait=-1",
            b'{"type":"greater_than_equal","loc":["query","wait"],"msg":"Input should be '
            b'greater than or equal to 0","input":"-1","ctx":{"ge":0.0}}',
        ),
        (
            b"wait=61",
            b'{"type":"less_than_equal","loc":["query","wait"],"msg":"Input should be less '
            b'than or equal to 60","input":"61","ctx":{"le":60.0}}',
        ),
        (
            b"wait=nan",
            b'{"type":"less_than_equal","loc":["query","wait"],"msg":"Input should be less '
            b'than or equal to 60","input":"nan","ctx":{"le":60.0}}',
        ),
        (
            b"wait=abc",
            b'{"type":"float_parsing","loc":["query","wait"],"msg":"Input should be a valid '
            b'number, unable to parse string as a number","input":"abc"}',
        ),
    ],
)
def test_bad_values_give_fastapis_body(query: bytes, error: bytes) -> None:
    assert refusal(query) == b'{"detail":[' + error + b"]}"


@pytest.mark.parametrize("room", ["bad!", "-lead", "x" * 65, "café", "a\n"])
def test_bad_room_gives_fastapis_body(room: str) -> None:
    escaped = room.replace("\n", "\\n").encode()
    assert refusal(b"", room) == b'{"detail":[' + ROOM_ERROR % escaped + b"]}"


def test_every_error_reported_path_first_then_query_in_declaration_order() -> None:
    body = refusal(b"wait=x&limit=0&after=y", "bad!")
    order = [
        body.index(b'"loc":[' + loc + b"]")
        for loc in (
            b'"path","room"',
            b'"query","after"',
            b'"query","limit"',
            b'"query","wait"',
        )
    ]
    assert order == sorted(order)


def test_events_cursor_last_event_id_wins_over_after() -> None:
    assert EVENTS.parse("r1", {}, None) == ("r1", None)
    assert EVENTS.parse("r1", {"after": "4"}, None) == ("r1", 4)
    assert EVENTS.parse("r1", {"after": "4"}, "9") == ("r1", 9)
    assert EVENTS.parse("r1", {}, " 3") == ("r1", 3)


def test_events_bad_after_and_header_give_fastapis_body() -> None:
    with pytest.raises(InvalidRequest) as refused:
        EVENTS.parse("r1", {"after": "x"}, "y")
    assert refused.value.response().body == (
        b'{"detail":['
        + INT_PARSING % (b"query", b"after", b"x")
        + b","
        + INT_PARSING % (b"header", b"last-event-id", b"y")
        + b"]}"
    )
    with pytest.raises(InvalidRequest) as negative:
        EVENTS.parse("r1", {}, "-5")
    assert negative.value.response().body == (
        b'{"detail":[{"type":"greater_than_equal","loc":["header","last-event-id"],"msg":"Input '
        b'should be greater than or equal to 0","input":"-5","ctx":{"ge":0}}]}'
    )
