"""Path and query parameters of the WebSocket endpoints, validated as FastAPI validates them.

The WebSocket endpoints are plain ASGI (see :mod:`target_app.reference_app`), so they read their own
parameters: the same pydantic constraints, the same error ``loc``/``msg`` a FastAPI route gives,
sent to the client as the reason of a 1008 close. A connection without a query string skips
validation entirely: the defaults are already valid.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from target_app.settings import ROOM_PATTERN

__all__ = ["EchoQuery", "InvalidParameters", "RoomQuery", "echo_query", "room_name", "room_query"]

_ROOM = TypeAdapter(Annotated[str, StringConstraints(pattern=ROOM_PATTERN)])


class InvalidParameters(ValueError):
    """Parameters that failed validation; ``str()`` is the JSON list of ``{loc, msg}``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__(orjson.dumps(errors).decode())


class RoomQuery(BaseModel):
    """``/ws/rooms/{room}?after=&receive=``."""

    model_config = ConfigDict(frozen=True)

    after: Annotated[int | None, Field(ge=0, description="Replay history after this id first.")] = (
        None
    )
    receive: Annotated[
        bool, Field(description="false: publish only, nothing is pushed to this socket.")
    ] = True


class EchoQuery(BaseModel):
    """``/ws?delay_ms=``; the upper bound is the server's ``max_echo_delay_ms`` setting."""

    model_config = ConfigDict(frozen=True)

    delay_ms: Annotated[
        int, Field(ge=0, description="Delay each echo by this many ms (calibrates a harness).")
    ] = 0


_DEFAULT_ROOM_QUERY = RoomQuery()
_DEFAULT_ECHO_QUERY = EchoQuery()


def _errors(exc: ValidationError, *where: str) -> list[dict[str, Any]]:
    return [{"loc": [*where, *e["loc"]], "msg": e["msg"]} for e in exc.errors()]


def _query(query_string: bytes) -> dict[str, str]:
    # As Starlette's QueryParams: blank values kept, the last of a repeated name wins.
    return dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))


def room_name(raw: str) -> str:
    """``raw`` if it is a valid room name.

    Raises:
        InvalidParameters: it is not (``loc`` is ``["path", "room"]``).
    """
    try:
        return _ROOM.validate_python(raw)
    except ValidationError as exc:
        raise InvalidParameters(_errors(exc, "path", "room")) from None


def room_query(query_string: bytes) -> RoomQuery:
    """The room socket's query parameters.

    Raises:
        InvalidParameters: one of them is invalid.
    """
    if not query_string:
        return _DEFAULT_ROOM_QUERY
    try:
        return RoomQuery.model_validate(_query(query_string))
    except ValidationError as exc:
        raise InvalidParameters(_errors(exc, "query")) from None


def echo_query(query_string: bytes, max_delay_ms: int) -> EchoQuery:
    """The echo socket's query parameters, ``delay_ms`` bounded by ``max_delay_ms``.

    Raises:
        InvalidParameters: one of them is invalid.
    """
    if not query_string:
        return _DEFAULT_ECHO_QUERY
    try:
        query = EchoQuery.model_validate(_query(query_string))
    except ValidationError as exc:
        raise InvalidParameters(_errors(exc, "query")) from None
    if query.delay_ms > max_delay_ms:
        raise InvalidParameters(
            [
                {
                    "loc": ["query", "delay_ms"],
                    "msg": f"Input should be less than or equal to {max_delay_ms}",
                }
            ]
        )
    return query
