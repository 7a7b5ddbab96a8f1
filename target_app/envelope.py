"""The message envelope: what a publisher sends, and what every transport delivers.

A message is encoded to JSON exactly once, when it is published; every subscriber, poll and SSE
stream then shares that one string. Fan-out cost must not grow with payload re-encoding.

Everything a publish could fail on is checked before a broker gives it an id: the fields'
bounds by validation, and the payload by encoding it (:func:`encode_envelope_tail`, which every
broker calls before it takes an id), since JSON allows integers and floats that a 64-bit
encoder cannot represent. An id is only ever taken for a message that will be stored, so a
room's ids stay gap-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "NOTICE_ID",
    "Envelope",
    "InvalidMessage",
    "PublishRequest",
    "encode_envelope",
    "encode_envelope_tail",
    "envelope_id",
    "notice",
    "parse_publish",
    "splice_id",
    "split_notice",
]

#: The id of a notice (``missed``, ``reset``): not a message, so never a cursor.
NOTICE_ID = 0

#: The integers an envelope carries: what every JSON encoder (and every Redis client) holds.
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


class PublishRequest(BaseModel):
    """What a publisher sends: a WebSocket frame (text, or binary holding UTF-8 JSON) or an
    HTTP JSON body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    publisher: Annotated[str, Field(max_length=128)] = Field(
        default="anonymous", description="Who sends: integrity is checked per publisher."
    )
    seq: Annotated[int, Field(ge=0, le=INT64_MAX)] | None = Field(
        default=None, description="The publisher's own sequence number (0, 1, 2, ...)."
    )
    sent_ns: Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)] | None = Field(
        default=None, description="Publisher's send time in ns (same-host monotonic clock)."
    )
    payload: Any = Field(
        default=None,
        description="Any JSON value whose integers fit in 64 bits and whose numbers are finite.",
    )

    @field_validator("seq", "sent_ns", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: object) -> object:
        # Lax validation takes JSON true as the integer 1; strict would refuse 200.0, which
        # JSON Schema counts as an integer. Only booleans are refused here.
        if isinstance(value, bool):
            raise ValueError("Input should be a valid integer, not a boolean")
        return value


@dataclass(frozen=True, slots=True)
class Envelope:
    """A published message with its server id; ``text`` is its JSON encoding, made once."""

    id: int
    room: str
    text: str


class InvalidMessage(ValueError):
    """A publish that is not a JSON object of the :class:`PublishRequest` shape."""

    def __init__(self, detail: Any) -> None:
        super().__init__(str(detail))
        self.detail = detail


def _payload_error(message: str) -> InvalidMessage:
    return InvalidMessage([{"type": "value_error", "loc": ["payload"], "msg": message}])


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(item) for item in value.values())
    if isinstance(value, list):
        return all(_finite(item) for item in value)
    return True


def parse_publish(data: str | bytes) -> PublishRequest:
    """Validate one publish; raises :class:`InvalidMessage` with a client-readable detail.

    The detail is FastAPI's ``{loc, msg, type}`` list. A payload that validates may still be
    refused by :func:`encode_envelope_tail`, which the broker runs before taking an id.
    """
    try:
        return PublishRequest.model_validate_json(data)
    except ValidationError as exc:
        raise InvalidMessage(
            exc.errors(include_url=False, include_context=False, include_input=False)
        ) from None


def encode_envelope(message_id: int, room: str, request: PublishRequest) -> Envelope:
    """Give a validated publish its server id and encode it once."""
    return Envelope(message_id, room, splice_id(message_id, encode_envelope_tail(room, request)))


def encode_envelope_tail(room: str, request: PublishRequest) -> str:
    """The envelope's JSON without its leading ``{"id":<n>,``, for a store that assigns the id.

    :func:`splice_id` of the id and this tail is the whole envelope. A broker encodes the tail
    *before* it takes an id, so a payload that cannot be encoded costs no id.

    Raises:
        InvalidMessage: the payload holds an integer beyond 64 bits, or a number JSON cannot
            represent (``NaN``; ``1e999``, which the parser reads as infinity), which orjson
            would silently write as ``null``.
    """
    payload = request.payload
    try:
        encoded = orjson.dumps(
            {
                "room": room,
                "publisher": request.publisher,
                "seq": request.seq,
                "sent_ns": request.sent_ns,
                "payload": payload,
            }
        )
    except TypeError as exc:  # orjson: "Integer exceeds 64-bit range"
        raise _payload_error(f"payload cannot be encoded: {exc}") from None
    # A non-finite float was written as null: walk the payload only when a null was written.
    if b"null" in encoded and not _finite(payload):
        raise _payload_error("payload holds a number JSON cannot represent (NaN or infinite)")
    return encoded.decode()[1:]


def splice_id(message_id: int, tail: str) -> str:
    """The full envelope text for ``message_id`` and an :func:`encode_envelope_tail` tail."""
    return f'{{"id":{message_id},{tail}'


def envelope_id(text: str) -> int:
    """The id of an envelope's text, read from its fixed ``{"id":<n>,`` prefix."""
    return int(text[6 : text.index(",", 6)])


def notice(room: str, event: str, **fields: object) -> Envelope:
    """A notice that travels in a subscriber's queue between messages.

    Its text is the WebSocket frame (``{"event":"missed","missed":3}``); :func:`split_notice`
    gives the SSE form. Its id is :data:`NOTICE_ID`.
    """
    return Envelope(NOTICE_ID, room, orjson.dumps({"event": event, **fields}).decode())


def split_notice(text: str) -> tuple[str, str]:
    """A notice's event name and its data without the name: ``("missed", '{"missed":3}')``."""
    data: dict[str, object] = orjson.loads(text)
    event = str(data.pop("event"))
    return event, orjson.dumps(data).decode()
