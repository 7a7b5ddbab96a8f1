"""The one interface the drivers use to speak an app of the user's own: a target adapter.

A TOML profile (:class:`~pushbench.core.target_profile.TargetProfile`) is one implementation:
templates and JSON pointers cover apps that relay text. When an app's protocol is beyond them —
binary or msgpack frames, base64 payloads, a cursor in a header, a signed request — the user
writes a class instead (the *escape hatch*) and names it where a profile goes::

    pushbench compare --app mychat.main:app --profile mychat.bench:ChatAdapter

The class subclasses :class:`Adapter` and overrides only what its app offers: every method
below is called by a driver for one transport, never otherwise. The drivers — asyncio ones for
``compare`` and the gevent Locust users alike — keep everything that is measurement (the open-loop
schedule, the clock, integrity per publisher, the drain); an adapter only says where to connect,
how to write the payload token into what is sent, and how to find tokens in what arrives.
So an adapter is pure: no sockets, no event loop, no gevent.

``--profile`` reads ``MODULE:ATTR`` (the form uvicorn reads ``--app`` in) as an adapter: the
module is imported from the working directory (and ``--app-dir``); ``ATTR`` is an
:class:`Adapter` subclass (instantiated without arguments) or an instance.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from pushbench.core.kinds import Transport
from pushbench.core.payload_token import Token, find_tokens

__all__ = [
    "ADAPTER_SPEC",
    "Adapter",
    "AdapterError",
    "PollPage",
    "PublishTarget",
    "TargetAdapter",
    "load_adapter",
]

#: ``--profile`` values that name an adapter: ``package.module:Attr``.
ADAPTER_SPEC: Final = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


class AdapterError(ValueError):
    """An adapter that cannot be loaded or used; the message is one line."""


@dataclass(frozen=True, slots=True)
class PublishTarget:
    """Where a publisher's messages go: a WebSocket ``path`` it sends frames on, or one HTTP
    request per message (``method`` on ``path``, the message as its body)."""

    kind: Literal["ws", "http"]
    path: str
    method: str = "POST"
    content_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class PollPage:
    """One poll's answer: its messages (each searched for tokens; one without any is
    *unexpected*) and the cursor of the next poll (None: the app has no cursor, every poll asks
    the same again and receivers drop the tokens they have seen)."""

    items: list[str | bytes]
    cursor: str | None


class TargetAdapter(Protocol):
    """What the drivers call to speak an app. ``client`` is a number per connection, unique in
    a run; ``room`` the run's stream name; ``token`` the payload token (:func:`~pushbench.core.
    payload_token.make_token`) to carry; ``payload`` padding to the requested payload size."""

    @property
    def name(self) -> str:
        """Names the results' ``params.profile``."""
        ...

    @property
    def reference(self) -> bool:
        """pushbench's own server: its receivers read the envelope's fields, not tokens."""
        ...

    def offered(self) -> Mapping[Transport, str]:
        """The transports the app offers → where each is described (for messages)."""
        ...

    def skipped(self, transports: Iterable[str]) -> dict[str, str]:
        """Of ``transports``, the ones the app does not offer, each with the reason."""
        ...

    def ws_subscribe_path(self, room: str, client: int) -> str:
        """The WebSocket a push subscriber connects to and reads every frame of."""
        ...

    def sse_path(self, room: str, client: int) -> str:
        """The event stream an SSE subscriber GETs."""
        ...

    def publish_target(self, room: str, client: int) -> PublishTarget:
        """Where one publisher sends its messages."""
        ...

    def encode_publish(self, token: str, payload: str, room: str, client: int) -> str | bytes:
        """One message: a WebSocket frame (text for ``str``, binary for ``bytes``) or an HTTP
        body, with ``token`` in it so that receivers find it."""
        ...

    def echo_path(self, client: int) -> str:
        """The WebSocket whose frames come back to the sender (round trips)."""
        ...

    def encode_echo(self, token: str, payload: str, client: int) -> str | bytes:
        """One round-trip frame, ``token`` in it; the reply must hold it too."""
        ...

    def find_tokens(self, data: str | bytes) -> list[Token]:
        """Every token in one frame, poll item or event's data (none: *unexpected*)."""
        ...

    def initial_cursor(self, transport: Transport) -> str:
        """The cursor of a poller's first request."""
        ...

    def poll_path(
        self, transport: Transport, room: str, client: int, cursor: str, wait_s: float | None
    ) -> str:
        """The path (and query) a poller GETs; ``wait_s``: how long a long poll may be held
        (None: the adapter's own default)."""
        ...

    def parse_poll(self, transport: Transport, body: bytes) -> PollPage:
        """One poll's answer read (:class:`ValueError` or :class:`LookupError`: unreadable)."""
        ...


class Adapter:
    """Base of a Python adapter: say what the app offers, override the methods it needs.

    ``transports`` lists what the app offers (any of ``ws``, ``short-poll``, ``long-poll``,
    ``sse``, ``echo``); receivers need :meth:`publish_target` and :meth:`encode_publish`.
    :meth:`find_tokens` defaults to the payload token's own scan, which finds a token in any
    text or bytes that holds it verbatim: override it when the app encodes what it relays
    (base64, compression, msgpack of something else). Everything not overridden raises
    :class:`NotImplementedError`, which a driver reports as an error of the run.
    """

    name: str = ""
    """Defaults to the class name."""
    reference: bool = False
    transports: Iterable[str] = ()

    def __init__(self) -> None:
        self.name = self.name or type(self).__name__
        try:
            self._offers = [Transport(t) for t in self.transports]
        except ValueError as exc:
            raise AdapterError(f"adapter {self.name!r}: transports: {exc}") from None
        if not self._offers:
            raise AdapterError(f"adapter {self.name!r}: transports: it offers none")

    def offered(self) -> Mapping[Transport, str]:
        """Each transport in :attr:`transports` → the adapter's name."""
        return {transport: self.name for transport in self._offers}

    def skipped(self, transports: Iterable[str]) -> dict[str, str]:
        """Of ``transports``, those not in :attr:`transports`, each with the reason."""
        offered, name = self.offered(), self.name
        return {
            t: f"adapter {name!r} offers no {t} endpoint" for t in transports if t not in offered
        }

    def ws_subscribe_path(self, room: str, client: int) -> str:
        raise NotImplementedError(f"adapter {self.name!r}: ws_subscribe_path")

    def sse_path(self, room: str, client: int) -> str:
        raise NotImplementedError(f"adapter {self.name!r}: sse_path")

    def publish_target(self, room: str, client: int) -> PublishTarget:
        raise NotImplementedError(f"adapter {self.name!r}: publish_target")

    def encode_publish(self, token: str, payload: str, room: str, client: int) -> str | bytes:
        raise NotImplementedError(f"adapter {self.name!r}: encode_publish")

    def echo_path(self, client: int) -> str:
        raise NotImplementedError(f"adapter {self.name!r}: echo_path")

    def encode_echo(self, token: str, payload: str, client: int) -> str | bytes:
        raise NotImplementedError(f"adapter {self.name!r}: encode_echo")

    def find_tokens(self, data: str | bytes) -> list[Token]:
        """The payload token's scan (:func:`pushbench.core.payload_token.find_tokens`)."""
        return find_tokens(data)

    def initial_cursor(self, transport: Transport) -> str:
        """``"0"``."""
        return "0"

    def poll_path(
        self, transport: Transport, room: str, client: int, cursor: str, wait_s: float | None
    ) -> str:
        raise NotImplementedError(f"adapter {self.name!r}: poll_path")

    def parse_poll(self, transport: Transport, body: bytes) -> PollPage:
        raise NotImplementedError(f"adapter {self.name!r}: parse_poll")


def load_adapter(spec: str, search: Iterable[str] = ()) -> TargetAdapter:
    """The adapter ``MODULE:ATTR`` names, importing ``MODULE`` with ``search`` (folders) first
    on ``sys.path``, as uvicorn imports ``--app`` with its ``--app-dir``.

    Raises:
        AdapterError: one line, in uvicorn's wording for what does not import.
    """
    module_name, _, attr = spec.partition(":")
    for folder in reversed(list(search)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = exc.name is not None and (
            module_name == exc.name or module_name.startswith(exc.name + ".")
        )
        if not missing:
            raise AdapterError(f"adapter {spec}: importing {module_name!r}: {exc}") from None
        raise AdapterError(
            f'Error loading adapter. Could not import module "{module_name}".'
        ) from None
    except Exception as exc:  # the user's module raised while importing: say what
        raise AdapterError(
            f"adapter {spec}: importing {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from None
    found: object = module
    try:
        for part in attr.split("."):
            found = getattr(found, part)
    except AttributeError:
        raise AdapterError(
            f'Error loading adapter. Attribute "{attr}" not found in module "{module_name}".'
        ) from None
    if isinstance(found, type):
        if not issubclass(found, Adapter):
            raise AdapterError(f"adapter {spec}: {found.__name__} is not a subclass of Adapter")
        try:
            return found()
        except AdapterError:
            raise
        except Exception as exc:
            raise AdapterError(f"adapter {spec}: {type(exc).__name__}: {exc}") from None
    if isinstance(found, Adapter):
        return found
    kind = type(found).__name__
    raise AdapterError(f"adapter {spec}: an Adapter subclass or instance, not a {kind}")
