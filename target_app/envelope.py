"""The message envelope: what a publisher sends, and what every transport delivers.

A message is encoded to JSON exactly once, when it is published; every subscriber, poll and SSE
stream then shares that one string. Fan-out cost must not grow with payload re-encoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
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


class PublishRequest(BaseModel):
    """What a publisher sends, over WebSocket (a text frame) or HTTP (a JSON body)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    publisher: Annotated[str, Field(max_length=128)] = Field(
        default="anonymous", description="Who sends: integrity is checked per publisher."
    )
    seq: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="The publisher's own sequence number (0, 1, 2, ...)."
    )
    sent_ns: int | None = Field(
        default=None, description="Publisher's send time in ns (same-host monotonic clock)."
    )
    payload: Any = Field(default=None, description="Any JSON value.")


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


def parse_publish(data: str | bytes) -> PublishRequest:
    """Validate one publish; raises :class:`InvalidMessage` with a client-readable detail."""
    try:
        return PublishRequest.model_validate_json(data)
    except ValidationError as exc:
        raise InvalidMessage(
            exc.errors(include_url=False, include_context=False, include_input=False)
        ) from None


def encode_envelope(message_id: int, room: str, request: PublishRequest) -> Envelope:
    """Give a validated publish its server id and encode it once."""
    text = orjson.dumps(
        {
            "id": message_id,
            "room": room,
            "publisher": request.publisher,
            "seq": request.seq,
            "sent_ns": request.sent_ns,
            "payload": request.payload,
        }
    ).decode()
    return Envelope(message_id, room, text)


def encode_envelope_tail(room: str, request: PublishRequest) -> str:
    """The envelope's JSON without its leading ``{"id":<n>,``, for a store that assigns the id.

    :func:`splice_id` of the id and this tail is exactly :func:`encode_envelope`'s text.
    """
    return orjson.dumps(
        {
            "room": room,
            "publisher": request.publisher,
            "seq": request.seq,
            "sent_ns": request.sent_ns,
            "payload": request.payload,
        }
    ).decode()[1:]


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
