"""Path, query and header parameters of the lean HTTP endpoints, read as FastAPI reads them.

The ``asgi`` flavor serves publish, polls and SSE as plain ASGI (:mod:`target_app.asgi_http`),
so it reads its own parameters from the scope. The rules are FastAPI's, so that both ways to an
endpoint accept the same requests and refuse the others with the same 422 body:

- the query string is split as Starlette splits it (``parse_qsl``, blank values kept, the last
  of a repeated name wins); a header is its first occurrence;
- a parameter left out takes its default without validation; one present is validated by a
  pydantic ``TypeAdapter`` of the route's own constraints, and its errors are FastAPI's
  (``{"type","loc","msg","input","ctx"}``, ``loc`` prefixed by ``path``/``query``/``header`` and
  the name; path first, then query, then header, each in declaration order).

The common values take a shortcut around pydantic: ASCII digits within bounds, a room name the
pattern matches. Anything else goes to the adapter, so every odd input (``" 1"``, ``"1_0"``,
``"1e3"``, ``"nan"``) is accepted or refused exactly as FastAPI does. An empty poll's parameters
cost ~1 µs this way (pydantic for every value: ~3 µs; FastAPI's dependency solving: ~100 µs).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi.encoders import jsonable_encoder
from pydantic import Field, TypeAdapter, ValidationError
from starlette.responses import JSONResponse

from target_app.settings import ROOM_PATTERN

__all__ = [
    "EventsParser",
    "InvalidRequest",
    "PollParams",
    "PollParser",
    "header_values",
    "query_values",
    "room_name",
]

#: The longest digit string read without pydantic: far below any bound, and int() stays fast.
_MAX_FAST_DIGITS = 18

_ROOM_MATCH = re.compile(ROOM_PATTERN).fullmatch
_ROOM = TypeAdapter(Annotated[str, Field(pattern=ROOM_PATTERN)])


class InvalidRequest(ValueError):
    """Parameters FastAPI would refuse; :meth:`response` is its 422 answer, byte for byte."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors

    def response(self) -> JSONResponse:
        """FastAPI's ``request_validation_exception_handler`` answer for these errors."""
        return JSONResponse({"detail": jsonable_encoder(self.errors)}, 422)


def _add_errors(errors: list[dict[str, Any]], exc: ValidationError, *loc: str) -> None:
    # As FastAPI's _regenerate_error_with_loc: the error's own keys, loc prefixed.
    errors.extend({**e, "loc": (*loc, *e["loc"])} for e in exc.errors(include_url=False))


def query_values(query_string: bytes) -> dict[str, str]:
    """The query parameters as Starlette's ``QueryParams`` reads them (the last repeat wins)."""
    if not query_string:
        return {}
    text = query_string.decode("latin-1")
    if "%" in text or "+" in text:
        return dict(parse_qsl(text, keep_blank_values=True))
    # Nothing to unquote: parse_qsl's split, without its per-field unquote calls.
    values: dict[str, str] = {}
    for field in text.split("&"):
        if field:
            name, _, value = field.partition("=")
            values[name] = value
    return values


def header_values(raw: list[tuple[bytes, bytes]], wanted: frozenset[bytes]) -> dict[bytes, str]:
    """The ``wanted`` headers (lower-case names), the first of a repeated one, as Starlette."""
    found: dict[bytes, str] = {}
    for name, value in raw:
        if name in wanted and name not in found:
            found[name] = value.decode("latin-1")
    return found


def room_name(raw: str, errors: list[dict[str, Any]]) -> str:
    """``raw`` if it is a valid room name, else ``raw`` with its error added to ``errors``."""
    if _ROOM_MATCH(raw):
        return raw
    try:
        return _ROOM.validate_python(raw)
    except ValidationError as exc:
        _add_errors(errors, exc, "path", "room")
        return raw


class _Number:
    """One numeric parameter: its bounds, its adapter, and where FastAPI says it is."""

    __slots__ = ("_adapter", "_high", "_loc", "_low", "_type")

    def __init__(
        self,
        where: str,
        name: str,
        kind: type[int] | type[float],
        low: float,
        high: float = math.inf,
        *,
        nullable: bool = False,
    ) -> None:
        self._loc = (where, name)
        self._type = kind
        self._low = low
        self._high = high
        # The route's own annotation (``int``, ``float`` or ``int | None``) and constraints.
        constraint = Field(ge=low) if math.isinf(high) else Field(ge=low, le=high)
        annotation: Any = kind | None if nullable else kind
        self._adapter: TypeAdapter[Any] = TypeAdapter(Annotated[annotation, constraint])

    def quick(self, raw: str | None, default: Any) -> Any:
        """``default`` for a parameter left out, the value of ASCII digits within bounds, else
        None: this one needs :meth:`read`."""
        if raw is None:
            return default
        if raw.isdigit() and raw.isascii() and len(raw) <= _MAX_FAST_DIGITS:
            value = self._type(raw)
            if self._low <= value <= self._high:
                return value
        return None

    def read(self, raw: str, errors: list[dict[str, Any]]) -> Any:
        """The value of ``raw``, or None with its error added to ``errors``."""
        value = self.quick(raw, None)
        if value is not None:
            return value
        try:
            return self._adapter.validate_python(raw)
        except ValidationError as exc:
            _add_errors(errors, exc, *self._loc)
            return None


#: ``GET /rooms/{room}/messages?after=&limit=&wait=``, validated: room, after, limit, wait (s).
#: A plain tuple: a named one costs more to make than the rest of the common case.
PollParams = tuple[str, int, int, float]


class PollParser:
    """Reads a poll's parameters with the route's bounds (``max_poll_limit``, ``max_wait_s``)."""

    __slots__ = ("_after", "_limit", "_wait")

    def __init__(self, max_poll_limit: int, max_wait_s: float) -> None:
        self._after = _Number("query", "after", int, 0)
        self._limit = _Number("query", "limit", int, 1, max_poll_limit)
        self._wait = _Number("query", "wait", float, 0.0, max_wait_s)

    def parse(self, raw_room: str, query: dict[str, str]) -> PollParams:
        """The poll's parameters (defaults: ``after=0``, ``limit=100``, ``wait=0``).

        Raises:
            InvalidRequest: FastAPI would refuse them.
        """
        # The common case in a few comparisons: no pydantic, no error list.
        after = self._after.quick(query.get("after"), 0)
        limit = self._limit.quick(query.get("limit"), 100)
        wait_s = self._wait.quick(query.get("wait"), 0.0)
        if after is None or limit is None or wait_s is None or not _ROOM_MATCH(raw_room):
            return self._validated(raw_room, query)
        return raw_room, after, limit, wait_s

    def _validated(self, raw_room: str, query: dict[str, str]) -> PollParams:
        errors: list[dict[str, Any]] = []
        room = room_name(raw_room, errors)
        values = [
            None if raw is None else number.read(raw, errors)
            for number, raw in (
                (self._after, query.get("after")),
                (self._limit, query.get("limit")),
                (self._wait, query.get("wait")),
            )
        ]
        if errors:
            raise InvalidRequest(errors)
        after, limit, wait_s = values
        return (
            room,
            0 if after is None else after,
            100 if limit is None else limit,
            0.0 if wait_s is None else wait_s,
        )


class EventsParser:
    """Reads ``GET /rooms/{room}/events?after=`` with its ``Last-Event-ID`` header."""

    __slots__ = ("_after", "_last_event_id")

    def __init__(self) -> None:
        self._after = _Number("query", "after", int, 0, nullable=True)
        self._last_event_id = _Number("header", "last-event-id", int, 0, nullable=True)

    def parse(
        self, raw_room: str, query: dict[str, str], last_event_id: str | None
    ) -> tuple[str, int | None]:
        """The room and the resume cursor (``Last-Event-ID`` wins over ``after``; None: none).

        Raises:
            InvalidRequest: FastAPI would refuse them.
        """
        errors: list[dict[str, Any]] = []
        room = room_name(raw_room, errors)
        raw = query.get("after")
        after = None if raw is None else self._after.read(raw, errors)
        header = None if last_event_id is None else self._last_event_id.read(last_event_id, errors)
        if errors:
            raise InvalidRequest(errors)
        return room, header if header is not None else after
