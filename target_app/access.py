"""Who may use the server: the Origin allow-list, the bearer token, the publish rate limits.

Defined once, used by every endpoint (threat model and settings: ``docs/security.md``):

- the WebSocket endpoints ask :meth:`Access.handshake_refusal` before accepting, whether they are
  served straight from the app's entry point or through the router, and refuse with
  :func:`refuse_handshake`; room sockets charge each published frame to a :class:`PublishBucket`;
- HTTP requests pass :class:`TokenMiddleware` (when a token is set), and ``POST`` publishes call
  :meth:`Access.check_publish` (Origin, JSON content type) and :meth:`Access.charge_publish`
  (the rate limit of the client's address); the lean HTTP endpoints (``asgi`` flavor), which no
  middleware precedes, ask :meth:`Access.authorized`, :meth:`Access.publish_refusal` and
  :meth:`Access.publish_retry_after_s` themselves, and answer :func:`unauthorized_response`.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

from fastapi import HTTPException, Request, status
from starlette.responses import JSONResponse
from starlette.types import ASGIApp

from target_app.asgi_ws import Receive, Scope, Send, close
from target_app.settings import ANY_ORIGIN, LOOPBACK_ORIGINS, SAME_HOST_ORIGIN, Settings

__all__ = [
    "OPEN_PATHS",
    "RATE_LIMIT_CLOSE",
    "UNLIMITED",
    "Access",
    "PublishBucket",
    "Refusal",
    "TokenMiddleware",
    "refuse_handshake",
    "unauthorized_response",
]

#: Paths served without a token: a load balancer's health probe carries no credentials.
OPEN_PATHS = frozenset({"/healthz"})

#: Close code of a WebSocket that published faster than its limits.
RATE_LIMIT_CLOSE = status.WS_1008_POLICY_VIOLATION

#: Client addresses whose HTTP publish budget is remembered; the oldest is forgotten first.
MAX_TRACKED_CLIENTS = 10_000

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_WEB_SCHEMES = frozenset({"http", "https"})
_UNAUTHORIZED = "unauthorized: missing or wrong bearer token"
# A module global, not ``time.monotonic`` per call: one lookup less per frame (and a unit test
# can substitute a clock).
_now = time.monotonic


class Refusal(Exception):
    """Why a request is refused: its HTTP ``status`` and a ``detail`` for the client."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


class PublishBucket:
    """Token buckets for one publisher: messages per second and bytes per second.

    Each holds up to ``burst_s`` seconds' worth of its rate, refilled from the monotonic clock on
    every call (no timer). A rate of 0 is no limit. Text frames are charged their length in
    characters, a lower bound of their UTF-8 size (at most 4x under): encoding every frame to
    count it exactly would cost more than the whole check. :meth:`take` costs 0.3 µs (CPython
    3.11, ``python -m timeit``), a small part of what one published frame costs the server (its
    parse, envelope and fan-out; the echo alone is ~20 µs per round trip at 50k/s on one core).
    """

    __slots__ = ("_byte_cap", "_byte_rate", "_bytes", "_last", "_msg_cap", "_msg_rate", "_msgs")

    def __init__(self, rate_per_s: float, bytes_per_s: int, burst_s: float, min_bytes: int) -> None:
        # A limit that is off: rate 0 and an infinite level, which no refill or charge changes.
        self._msg_rate = rate_per_s
        self._msg_cap = max(rate_per_s * burst_s, 1.0) if rate_per_s else math.inf
        # The byte bucket holds at least one largest message, or such a message could never pass.
        self._byte_rate = float(bytes_per_s)
        self._byte_cap = max(bytes_per_s * burst_s, float(min_bytes)) if bytes_per_s else math.inf
        self._msgs = self._msg_cap
        self._bytes = self._byte_cap
        self._last = _now()

    def take(self, size: int) -> bool:
        """Charge one message of ``size`` bytes; False (and nothing charged) if over a limit."""
        now = _now()
        elapsed = now - self._last
        self._last = now
        msgs = self._msgs + elapsed * self._msg_rate
        if msgs > self._msg_cap:
            msgs = self._msg_cap
        left = self._bytes + elapsed * self._byte_rate
        if left > self._byte_cap:
            left = self._byte_cap
        if msgs < 1.0 or left < size:
            self._msgs, self._bytes = msgs, left
            return False
        self._msgs, self._bytes = msgs - 1.0, left - size
        return True

    @classmethod
    def unlimited(cls) -> PublishBucket:
        """A bucket that lets everything through (both rates off)."""
        return cls(0, 0, 1.0, 0)

    def retry_after_s(self, size: int) -> int:
        """Whole seconds until a message of ``size`` bytes would pass (``Retry-After``)."""
        waits = [0.0]
        if self._msgs < 1.0:
            waits.append((1.0 - self._msgs) / self._msg_rate)
        if self._bytes < size:
            waits.append((size - self._bytes) / self._byte_rate)
        return max(1, math.ceil(max(waits)))


#: The budget of every connection when both publish rates are off: shared, as it never changes.
UNLIMITED = PublishBucket.unlimited()


class Access:
    """The server's access rules, read once from :class:`Settings`."""

    __slots__ = (
        "_any_origin",
        "_burst_s",
        "_bytes_per_s",
        "_clients",
        "_exact_origins",
        "_loopback",
        "_max_message_bytes",
        "_rate_per_s",
        "_same_host",
        "_token",
        "rate_limit_reason",
    )

    def __init__(self, settings: Settings) -> None:
        rules = set(settings.allowed_origins)
        self._any_origin = ANY_ORIGIN in rules
        self._same_host = SAME_HOST_ORIGIN in rules
        self._loopback = LOOPBACK_ORIGINS in rules
        self._exact_origins = frozenset(
            _normal_origin(rule)
            for rule in rules - {ANY_ORIGIN, SAME_HOST_ORIGIN, LOOPBACK_ORIGINS}
        )
        self._token = settings.auth_token.get_secret_value().encode()
        self._rate_per_s = settings.publish_rate_per_s
        self._bytes_per_s = settings.publish_bytes_per_s
        self._burst_s = settings.publish_burst_s
        self._max_message_bytes = settings.max_message_bytes
        self._clients: dict[str, PublishBucket] = {}
        self.rate_limit_reason = (
            f"publish rate limit exceeded: {self._rate_per_s:g} messages/s, "
            f"{self._bytes_per_s} bytes/s, burst {self._burst_s:g} s"
        )

    @property
    def token_required(self) -> bool:
        """Whether a bearer token is configured."""
        return bool(self._token)

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        """Whether a request with this ``Origin`` (None: no header) and ``Host`` may proceed.

        No Origin is allowed: browsers send one on every WebSocket handshake and cross-site
        ``POST``, so a request without one is not a browser's cross-site request.
        """
        if origin is None or self._any_origin:
            return True
        normal = _normal_origin(origin)
        if normal in self._exact_origins:
            return True
        try:
            parts = urlsplit(normal)
            hostname = parts.hostname
        except ValueError:  # e.g. an unclosed IPv6 bracket
            return False
        if parts.scheme not in _WEB_SCHEMES:
            return False  # "null" (sandboxed frames, file: pages) and anything odd
        if self._loopback and hostname in _LOOPBACK_HOSTS:
            return True
        return self._same_host and host is not None and parts.netloc == host.lower()

    def authorized(self, authorization: str | None, query_string: bytes) -> bool:
        """Whether the request carries the token (``Authorization: Bearer`` or ``?token=``)."""
        if not self._token:
            return True
        presented = b""
        if authorization is not None:
            scheme, _, credentials = authorization.partition(" ")
            if scheme.lower() == "bearer":
                # Back to the header's own bytes (decoded as latin-1): UTF-8 tokens match.
                presented = credentials.strip().encode("latin-1")
        if not presented and b"token=" in query_string:
            # parse_qsl decodes %-escapes as UTF-8 (the token's own encoding).
            query = dict(parse_qsl(query_string.decode("latin-1")))
            presented = query.get("token", "").encode()
        return hmac.compare_digest(presented, self._token)

    def handshake_refusal(self, scope: Scope) -> Refusal | None:
        """Why this WebSocket handshake must be refused (token, then Origin), or None."""
        headers = _headers(scope["headers"], (b"origin", b"host", b"authorization"))
        if not self.authorized(headers.get(b"authorization"), scope.get("query_string", b"")):
            return Refusal(status.HTTP_401_UNAUTHORIZED, _UNAUTHORIZED)
        origin = headers.get(b"origin")
        if not self.origin_allowed(origin, headers.get(b"host")):
            return Refusal(status.HTTP_403_FORBIDDEN, f"origin not allowed: {origin}")
        return None

    @property
    def limits_publishing(self) -> bool:
        """Whether either publish rate limit is on."""
        return bool(self._rate_per_s or self._bytes_per_s)

    def publisher_bucket(self) -> PublishBucket:
        """A fresh budget for one publishing connection (:data:`UNLIMITED` with both rates off)."""
        if not self.limits_publishing:
            return UNLIMITED
        return PublishBucket(
            self._rate_per_s, self._bytes_per_s, self._burst_s, self._max_message_bytes
        )

    def check_publish(self, request: Request) -> None:
        """Refuse a ``POST`` from a foreign Origin (403) or whose body is not JSON (415)."""
        refusal = self.publish_refusal(
            request.headers.get("origin"),
            request.headers.get("host"),
            request.headers.get("content-type", ""),
        )
        if refusal is not None:
            raise HTTPException(refusal.status_code, refusal.detail)

    def publish_refusal(
        self, origin: str | None, host: str | None, content_type: str
    ) -> Refusal | None:
        """Why a ``POST`` with these headers must be refused (Origin 403, then 415), or None.

        ``text/plain`` and form bodies are what a browser may send cross-site without asking the
        server first (no CORS preflight): accepting only JSON closes that door.
        """
        if not self.origin_allowed(origin, host):
            return Refusal(status.HTTP_403_FORBIDDEN, f"origin not allowed: {origin}")
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type != "application/json":
            return Refusal(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                f"Content-Type must be application/json, not {media_type or 'missing'!r}",
            )
        return None

    def charge_publish(self, request: Request, size: int) -> None:
        """Charge a ``POST`` of ``size`` bytes to its client address; 429 when over the limit."""
        client = request.client.host if request.client is not None else ""
        retry_after_s = self.publish_retry_after_s(client, size)
        if retry_after_s is not None:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                self.rate_limit_reason,
                headers={"Retry-After": str(retry_after_s)},
            )

    def publish_retry_after_s(self, client: str, size: int) -> int | None:
        """Charge a ``POST`` of ``size`` bytes to ``client``'s address: None if it may pass,
        else the whole seconds to wait (``Retry-After``), and nothing charged.

        HTTP has no connection an application can see (keep-alive or not is the client's
        choice), so the budget is per client address: behind a proxy, every client shares one.
        """
        if not self.limits_publishing:
            return None
        bucket = self._clients.get(client)
        if bucket is None:
            bucket = self.publisher_bucket()
            if len(self._clients) >= MAX_TRACKED_CLIENTS:
                del self._clients[next(iter(self._clients))]
            self._clients[client] = bucket
        if not bucket.take(size):
            return bucket.retry_after_s(size)
        return None


def unauthorized_response() -> JSONResponse:
    """The 401 answer to an HTTP request without the token."""
    return JSONResponse(
        {"detail": _UNAUTHORIZED},
        status.HTTP_401_UNAUTHORIZED,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def refuse_handshake(scope: Scope, send: Send, refusal: Refusal) -> None:
    """Refuse a WebSocket handshake with ``refusal``'s HTTP status and a JSON ``detail``.

    With the ASGI ``websocket.http.response`` extension (uvicorn has it) the client gets that
    status and body; without, a close before accepting, which servers answer with 403.
    """
    if "websocket.http.response" not in scope.get("extensions", {}):
        await close(send, status.WS_1008_POLICY_VIOLATION, refusal.detail)
        return
    response = JSONResponse({"detail": refusal.detail}, refusal.status_code)
    await send(
        {
            "type": "websocket.http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "websocket.http.response.body", "body": response.body})


class TokenMiddleware:
    """Answers 401 to HTTP requests without the token, except :data:`OPEN_PATHS`.

    WebSocket scopes pass: their endpoints check at the handshake, on either path to them.
    """

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._admitted(scope):
            await self.app(scope, receive, send)
            return
        await unauthorized_response()(scope, receive, send)

    def _admitted(self, scope: Scope) -> bool:
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if path.removeprefix(root_path) in OPEN_PATHS:
            return True
        headers = _headers(scope["headers"], (b"authorization",))
        return self.access.authorized(headers.get(b"authorization"), scope.get("query_string", b""))


def _headers(raw: Iterable[tuple[bytes, bytes]], wanted: tuple[bytes, ...]) -> dict[bytes, str]:
    """The ``wanted`` headers (lower-case names) of an ASGI scope; the first of a repeated one."""
    found: dict[bytes, str] = {}
    for name, value in raw:
        if name in wanted and name not in found:
            found[name] = value.decode("latin-1")
    return found


def _normal_origin(origin: str) -> str:
    """An Origin compared case-insensitively, without a trailing slash."""
    return origin.strip().rstrip("/").lower()
