"""Target profiles: how to drive an app whose endpoints, messages and cursors are its own.

A profile says which transports an app offers and how each is spoken: the path of each endpoint
as a template, what a publish looks like (a WebSocket frame or an HTTP request, with the payload
token inside), where a poll's messages and next cursor are in its JSON answer. It comes from TOML
(``--profile FILE``, or ``[tool.pushbench.target]`` of the app's ``pyproject.toml``) or is one of
the built-ins (:data:`BUILTIN_PROFILES`):

.. code-block:: toml

    [tool.pushbench.target]
    name = "my-chat"

    [tool.pushbench.target.ws]                # WebSocket push: subscribers connect and read
    path = "/ws/{client}"

    [tool.pushbench.target.publish]           # one of: a frame on a socket, or an HTTP request
    ws = { path = "/ws/{client}", frame = "{token} {payload}" }
    # http = { method = "POST", url = "/rooms/{room}/messages", body = '{"text": "{token}"}' }

    [tool.pushbench.target.short_poll]
    url = "/rooms/{room}/messages?after={cursor}"
    messages = "/messages"                    # JSON pointer to the list of messages
    cursor = "/next"                          # JSON pointer to the cursor for the next poll

Templates may use ``{room}``, ``{client}`` (a number per connection), ``{cursor}``, ``{wait}``
(long polls, seconds) and, in what is sent, ``{token}`` (the payload token,
:mod:`pushbench.core.payload_token`) and ``{payload}`` (``--payload-bytes`` of padding; a
template without it sends none, whatever ``--payload-bytes`` says). What is sent must hold
``{token}``: without it nothing could be measured. Frames default to ``{token} {payload}``.
Unknown keys and placeholders are errors that name the key, so a typo cannot silently leave a
transport out.

A profile is one implementation of :class:`~pushbench.core.target_adapter.TargetAdapter`, the
interface the drivers call; what templates cannot express, a Python adapter does
(``--profile MODULE:CLASS``, :mod:`pushbench.core.target_adapter`).

The ``reference`` profile is pushbench's own server: its receivers read the envelope's fields
(``seq``, ``sent_ns``) rather than tokens, exactly as before profiles existed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Self

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from pushbench.core.json_pointer import resolve_pointer
from pushbench.core.kinds import Transport
from pushbench.core.payload_token import Token, find_tokens
from pushbench.core.target_adapter import (
    ADAPTER_SPEC,
    AdapterError,
    PollPage,
    PublishTarget,
    TargetAdapter,
    load_adapter,
)

__all__ = [
    "BUILTIN_PROFILES",
    "EchoSpec",
    "HttpPublish",
    "PollSpec",
    "ProfileError",
    "PublishSpec",
    "SseSpec",
    "TargetProfile",
    "WsPublish",
    "WsSpec",
    "fill",
    "load_profile",
    "parse_profile",
    "resolve_profile",
]

#: Placeholders a path or URL template may use; what is sent may use :data:`_SENT_FIELDS` too.
_PATH_FIELDS: Final = frozenset({"room", "client", "cursor", "wait"})
_SENT_FIELDS: Final = frozenset({"token", "payload", "room", "client"})


class ProfileError(ValueError):
    """A profile that cannot be used; the message is one line naming the file and the key."""


_PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _fields(template: str) -> set[str]:
    """The ``{name}`` placeholders of a template. Other braces are text: a JSON body such as
    ``{"text": "{token}"}`` needs no escaping."""
    return set(_PLACEHOLDER.findall(template))


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each ``{name}`` replaced by ``values[name]`` (one pass: a value that
    holds braces is not filled again)."""
    return _PLACEHOLDER.sub(lambda match: values[match[1]], template)


def _path_template(template: str) -> str:
    unknown = _fields(template) - _PATH_FIELDS
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {', '.join(sorted(unknown))} in {template!r}; "
            f"a path may use {', '.join(sorted(_PATH_FIELDS))}"
        )
    if not template.startswith("/"):
        raise ValueError(f"a path starts with '/': {template!r}")
    return template


def _sent_template(template: str) -> str:
    fields = _fields(template)
    unknown = fields - _SENT_FIELDS
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {', '.join(sorted(unknown))} in {template!r}; "
            f"what is sent may use {', '.join(sorted(_SENT_FIELDS))}"
        )
    if "token" not in fields:
        raise ValueError(f"no {{token}} in {template!r}: receivers would have nothing to find")
    return template


def _json_pointer(pointer: str) -> str:
    """RFC 6901: empty (the whole document) or ``/``-separated reference tokens."""
    if pointer and not pointer.startswith("/"):
        raise ValueError(f"a JSON pointer is empty or starts with '/': {pointer!r}")
    return pointer


PathTemplate = Annotated[str, AfterValidator(_path_template)]
SentTemplate = Annotated[str, AfterValidator(_sent_template)]
JsonPointer = Annotated[str, AfterValidator(_json_pointer)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EchoSpec(_Spec):
    """Round trips: a frame sent on ``path`` comes back (in any wrapping) on the same socket."""

    path: PathTemplate
    frame: SentTemplate = "{token} {payload}"


class WsSpec(_Spec):
    """WebSocket push: subscribers connect to ``path`` and read every frame."""

    path: PathTemplate


class WsPublish(_Spec):
    """Publishing by a frame on a socket of ``path`` (whatever the app sends back is drained)."""

    path: PathTemplate
    frame: SentTemplate = "{token} {payload}"


class HttpPublish(_Spec):
    """Publishing by one HTTP request per message."""

    method: Literal["POST", "PUT"] = "POST"
    url: PathTemplate
    body: SentTemplate
    content_type: str = "application/json"


class PublishSpec(_Spec):
    """How messages get into the app: exactly one of ``ws`` and ``http``."""

    ws: WsPublish | None = None
    http: HttpPublish | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.ws is None) == (self.http is None):
            raise ValueError("give exactly one of ws and http")
        return self

    @property
    def template(self) -> str:
        """What each message is written as: the ws frame, or the http body."""
        if self.ws is not None:
            return self.ws.frame
        assert self.http is not None  # the validator: exactly one of ws and http
        return self.http.body


class PollSpec(_Spec):
    """A poll: GET ``url``; the messages are the list at ``messages`` of the JSON answer, the
    next request's ``{cursor}`` the value at ``cursor`` (no cursor: every poll asks the same URL
    and receivers drop what they have seen, by token)."""

    url: PathTemplate
    messages: JsonPointer
    cursor: JsonPointer | None = None
    initial_cursor: str = "0"
    #: Long polls: how long each request may wait, the URL's ``{wait}``.
    wait_s: float = Field(default=30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _cursor_in_url(self) -> Self:
        in_url = "cursor" in _fields(self.url)
        if self.cursor is not None and not in_url:
            raise ValueError(f"cursor is set but the url has no {{cursor}}: {self.url!r}")
        if self.cursor is None and in_url:
            raise ValueError("the url has {cursor}: say where the next one is (cursor = ...)")
        return self


class SseSpec(_Spec):
    """Server-sent events: subscribers GET ``url`` and read every event's data."""

    url: PathTemplate


class TargetProfile(_Spec):
    """How to drive one app: the transports it offers, each as its own section."""

    name: str = Field(min_length=1)
    description: str = ""
    #: pushbench's reference server: receivers read its envelope's fields, not tokens.
    reference: bool = False
    echo: EchoSpec | None = None
    ws: WsSpec | None = None
    publish: PublishSpec | None = None
    short_poll: PollSpec | None = None
    long_poll: PollSpec | None = None
    sse: SseSpec | None = None

    @model_validator(mode="after")
    def _receivers_need_a_publisher(self) -> Self:
        receivers = [n for n in ("ws", "short_poll", "long_poll", "sse") if getattr(self, n)]
        if receivers and self.publish is None:
            raise ValueError(
                f"{', '.join(receivers)} need messages to receive: add a [publish] section"
            )
        if self.long_poll is not None and "wait" not in _fields(self.long_poll.url):
            raise ValueError(f"long_poll.url has no {{wait}}: {self.long_poll.url!r}")
        if not receivers and self.echo is None:
            raise ValueError("the profile offers no transport: add echo, ws, polls or sse")
        return self

    def offered(self) -> dict[Transport, str]:
        """The transports this app offers → the profile section that offers each."""
        return {transport: key for transport, key in _SECTIONS if getattr(self, key) is not None}

    def skipped(self, transports: Iterable[str]) -> dict[str, str]:
        """Of ``transports``, the ones this app does not offer, each with the reason."""
        offered, name = self.offered(), self.name
        missing = [t for t in transports if t not in offered]
        return {t: f"profile {name!r} offers no {t} endpoint" for t in missing}

    # The profile as a TargetAdapter (pushbench.core.target_adapter): what the drivers call.
    # Each method is called only for a transport the profile offers (the drivers check
    # ``offered`` first), so the section it reads is there.

    def ws_subscribe_path(self, room: str, client: int) -> str:
        """``ws.path`` filled."""
        assert self.ws is not None
        return fill(self.ws.path, _where(room, client))

    def sse_path(self, room: str, client: int) -> str:
        """``sse.url`` filled."""
        assert self.sse is not None
        return fill(self.sse.url, _where(room, client))

    def publish_target(self, room: str, client: int) -> PublishTarget:
        """``publish.ws.path``, or ``publish.http``'s method and url."""
        assert self.publish is not None
        where = _where(room, client)
        if self.publish.ws is not None:
            return PublishTarget("ws", fill(self.publish.ws.path, where))
        http = self.publish.http
        assert http is not None  # the validator: exactly one of ws and http
        return PublishTarget("http", fill(http.url, where), http.method, http.content_type)

    def encode_publish(self, token: str, payload: str, room: str, client: int) -> str:
        """``publish.ws.frame`` or ``publish.http.body`` filled."""
        assert self.publish is not None
        values = {**_where(room, client), "token": token, "payload": payload}
        return fill(self.publish.template, values)

    def echo_path(self, client: int) -> str:
        """``echo.path`` filled (``{room}``: ``echo``)."""
        assert self.echo is not None
        return fill(self.echo.path, _where("echo", client))

    def encode_echo(self, token: str, payload: str, client: int) -> str:
        """``echo.frame`` filled."""
        assert self.echo is not None
        where = {**_where("echo", client), "token": token, "payload": payload}
        return fill(self.echo.frame, where)

    def find_tokens(self, data: str | bytes) -> list[Token]:
        """The payload token's scan: the app relays the text it was given."""
        return find_tokens(data)

    def initial_cursor(self, transport: Transport) -> str:
        """The poll section's ``initial_cursor``."""
        return self._poll(transport).initial_cursor

    def poll_path(
        self, transport: Transport, room: str, client: int, cursor: str, wait_s: float | None
    ) -> str:
        """The poll section's ``url`` filled; ``{wait}`` is ``wait_s``, else ``wait_s`` of the
        section."""
        spec = self._poll(transport)
        wait = spec.wait_s if wait_s is None else wait_s
        return fill(spec.url, {**_where(room, client), "cursor": cursor, "wait": f"{wait:g}"})

    def parse_poll(self, transport: Transport, body: bytes) -> PollPage:
        """The list at ``messages`` (each item as text: a string as is, else its JSON) and the
        value at ``cursor``."""
        spec = self._poll(transport)
        document = orjson.loads(body)
        items = resolve_pointer(document, spec.messages)
        if not isinstance(items, list):
            raise LookupError(f"{spec.messages!r} is not a list")
        cursor = None if spec.cursor is None else str(resolve_pointer(document, spec.cursor))
        return PollPage([i if isinstance(i, str) else orjson.dumps(i) for i in items], cursor)

    def _poll(self, transport: Transport) -> PollSpec:
        spec = self.long_poll if transport == Transport.LONG_POLL else self.short_poll
        assert spec is not None
        return spec


def _where(room: str, client: int) -> dict[str, str]:
    return {"room": room, "client": str(client)}


#: Each transport and the profile section that describes it.
_SECTIONS: Final = (
    (Transport.ECHO, "echo"),
    (Transport.WS, "ws"),
    (Transport.SHORT_POLL, "short_poll"),
    (Transport.LONG_POLL, "long_poll"),
    (Transport.SSE, "sse"),
)


#: The built-in profiles, by ``--profile`` name.
BUILTIN_PROFILES: Final[Mapping[str, TargetProfile]] = {
    "reference": TargetProfile(
        name="reference",
        description="pushbench's reference server (target_app), both flavors",
        reference=True,
        echo=EchoSpec(path="/ws"),
        ws=WsSpec(path="/ws/rooms/{room}"),
        publish=PublishSpec(ws=WsPublish(path="/ws/rooms/{room}?receive=false")),
        short_poll=PollSpec(
            url="/rooms/{room}/messages?after={cursor}", messages="/messages", cursor="/next"
        ),
        long_poll=PollSpec(
            url="/rooms/{room}/messages?after={cursor}&wait={wait}",
            messages="/messages",
            cursor="/next",
        ),
        sse=SseSpec(url="/rooms/{room}/events"),
    ),
    "tutorial": TargetProfile(
        name="tutorial",
        description="the FastAPI tutorial's /ws echo ('Your text was: ...')",
        echo=EchoSpec(path="/ws"),
    ),
    "fastapi-docs-chat": TargetProfile(
        name="fastapi-docs-chat",
        description="FastAPI's documented ConnectionManager broadcast on /ws/{client_id}",
        ws=WsSpec(path="/ws/{client}"),
        publish=PublishSpec(ws=WsPublish(path="/ws/{client}")),
    ),
}


def _key(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "(profile)"


def parse_profile(table: Mapping[str, Any], source: str) -> TargetProfile:
    """Validate a profile table (parsed TOML) read from ``source``.

    Raises:
        ProfileError: one line, ``<source>: <key>: <what is wrong>``, for the first problem.
    """
    try:
        return TargetProfile.model_validate(table)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        raise ProfileError(f"{source}: {_key(first['loc'])}: {message}") from None


def load_profile(path: Path) -> TargetProfile:
    """A profile from a TOML file: ``[tool.pushbench.target]`` of a ``pyproject.toml``, else the
    file's top level.

    Raises:
        ProfileError: the file cannot be read or parsed, or the profile is invalid.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: not TOML: {exc}") from None
    tool = data.get("tool", {})
    pushbench = tool.get("pushbench", {}) if isinstance(tool, dict) else {}
    table = pushbench.get("target") if isinstance(pushbench, dict) else None
    if table is None:
        if path.name == "pyproject.toml":
            raise ProfileError(f"{path}: no [tool.pushbench.target] table")
        table = {k: v for k, v in data.items() if k != "tool"}
    if not isinstance(table, dict):
        raise ProfileError(f"{path}: [tool.pushbench.target] must be a table")
    return parse_profile(table, str(path))


def resolve_profile(name_or_path: str, search: Iterable[str] = ()) -> TargetAdapter:
    """``--profile``: a built-in's name, a TOML file, or ``MODULE:ATTR``, a Python adapter
    (:mod:`pushbench.core.target_adapter`) imported with ``search`` first on ``sys.path``."""
    builtin = BUILTIN_PROFILES.get(name_or_path)
    if builtin is not None:
        return builtin
    path = Path(name_or_path)
    if not path.exists() and ADAPTER_SPEC.fullmatch(name_or_path):
        try:
            return load_adapter(name_or_path, search)
        except AdapterError as exc:
            raise ProfileError(str(exc)) from None
    if not path.suffix and not path.exists():
        raise ProfileError(
            f"unknown profile {name_or_path!r}: a TOML file, or one of "
            f"{', '.join(BUILTIN_PROFILES)}"
        )
    return load_profile(path)
