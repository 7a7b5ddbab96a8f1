"""Server settings, read from ``PUSHBENCH_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = [
    "ANY_ORIGIN",
    "FLAVORS",
    "LOOPBACK_ORIGINS",
    "REDIS_SCHEMES",
    "ROOM_PATTERN",
    "SAME_HOST_ORIGIN",
    "Flavor",
    "Settings",
    "get_settings",
]

#: How the transports are served (see ``target_app.main``): ``asgi``, lean ASGI for every
#: transport (the transports' own floor), or ``fastapi``, idiomatic FastAPI for every transport
#: (what a FastAPI user writes). Same broker, envelope, limits and error bodies in both.
Flavor = Literal["asgi", "fastapi"]
FLAVORS: tuple[Flavor, ...] = ("asgi", "fastapi")

#: Room names: short, URL-safe, no path tricks. Shared by every transport's validation.
ROOM_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"

#: URL schemes that name a Redis broker (redis-py's ``from_url``).
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

#: ``allowed_origins`` entry: an Origin whose host[:port] is the request's ``Host`` header.
SAME_HOST_ORIGIN = "same-host"
#: ``allowed_origins`` entry: http(s) Origins on localhost, 127.0.0.1 or [::1], any port.
LOOPBACK_ORIGINS = "loopback"
#: ``allowed_origins`` entry: every Origin (turns the check off).
ANY_ORIGIN = "*"


class Settings(BaseSettings):
    """Every bound the server enforces, so that no client can make it grow without limit."""

    model_config = SettingsConfigDict(env_prefix="PUSHBENCH_", frozen=True)

    flavor: Flavor = Field(
        default="asgi",
        description="'asgi': every transport as lean ASGI; 'fastapi': every transport as "
        "idiomatic FastAPI routes. Transports are compared within one flavor.",
    )
    broker_url: str = Field(
        default="memory",
        description="'memory' (one worker, zero setup) or a redis:// URL (any number of workers).",
    )
    max_message_bytes: int = Field(
        default=64 * 1024, ge=64, description="Largest accepted message (WS frame or HTTP body)."
    )
    history_size: int = Field(
        default=10_000, ge=1, description="Messages kept per room for polls and SSE resume."
    )
    room_history_max_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="History bytes kept per room (UTF-8 encodings plus bookkeeping); the "
        "oldest messages are evicted first, and a cursor before them is told `missed`.",
    )
    history_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="History bytes kept for the whole server (memory broker): the oldest "
        "message of any room is evicted first.",
    )
    send_queue_size: int = Field(
        default=1_000,
        ge=1,
        description="Messages queued per push subscriber before it is dropped as too slow.",
    )
    max_rooms: int = Field(
        default=10_000,
        ge=1,
        description="Rooms in use at once. A room nobody subscribes to or waits on is evicted, "
        "least recently used first, when a new room needs its place.",
    )
    max_poll_limit: int = Field(default=1_000, ge=1, description="Largest `limit` of one poll.")
    max_wait_s: float = Field(default=60.0, gt=0, description="Longest long-poll `wait`.")
    sse_keepalive_s: float = Field(
        default=15.0, gt=0, description="Idle seconds between SSE keep-alive comments."
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Longest time a client may take to send a request head (connection made or "
        "head begun to head complete); then the connection is closed (slowloris). Long polls, "
        "streams and WebSockets are not bounded by it once their head is in.",
    )
    max_echo_delay_ms: int = Field(default=60_000, ge=0, description="Largest `/ws?delay_ms=`.")
    allow_memory_broker_workers: bool = Field(
        default=False,
        description="Start on the memory broker even as one of several uvicorn workers. Each "
        "worker then keeps its own rooms: messages never cross workers (demonstrates the bug).",
    )
    redis_prefix: str = Field(
        default="pushbench:",
        description="Prefix of every Redis key and channel (isolates servers sharing one Redis).",
    )
    redis_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="Connect and command timeout towards Redis; the pub/sub listener sends a PING "
        "after this much silence and counts Redis as lost when it stays unanswered as long.",
    )
    redis_max_connections: int = Field(
        default=64, ge=2, description="Redis connections per worker for publishes and polls."
    )
    redis_reconnect_min_s: float = Field(
        default=0.05, gt=0, description="First delay before reconnecting to a lost Redis."
    )
    redis_reconnect_max_s: float = Field(
        default=2.0, gt=0, description="Cap of the doubling delay between reconnect attempts."
    )
    metrics_flush_s: float = Field(
        default=1.0,
        gt=0,
        description="How often per-message counts reach /metrics (they are tallied in memory).",
    )

    allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(SAME_HOST_ORIGIN, LOOPBACK_ORIGINS),
        description="Comma-separated browser Origins allowed to open a WebSocket or POST: exact "
        f"origins (https://chat.example:8443), '{SAME_HOST_ORIGIN}', '{LOOPBACK_ORIGINS}', or "
        f"'{ANY_ORIGIN}'. Requests without an Origin header (non-browser clients) are allowed.",
    )
    auth_token: SecretStr = Field(
        default=SecretStr(""),
        description="When set, every endpoint but /healthz requires 'Authorization: Bearer "
        "<token>' or '?token=<token>' (browsers cannot set headers on a WebSocket). Empty: off.",
    )
    publish_rate_per_s: float = Field(
        default=100_000,
        ge=0,
        description="Messages one connection (HTTP: one client address) may publish per second, "
        "on average; 0: no limit. Over it a WebSocket closes with 1008, a POST gets 429.",
    )
    publish_bytes_per_s: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description="Message bytes one connection (HTTP: one client address) may publish per "
        "second, on average; 0: no limit.",
    )
    publish_burst_s: float = Field(
        default=1.0,
        gt=0,
        description="How many seconds' worth of the publish rates may arrive at once.",
    )

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _history_bounds_fit(self) -> Settings:
        if self.room_history_max_bytes > self.history_max_bytes:
            raise ValueError(
                f"room_history_max_bytes ({self.room_history_max_bytes}) is larger than "
                f"history_max_bytes ({self.history_max_bytes}), the whole server's budget"
            )
        if self.room_history_max_bytes < 2 * self.max_message_bytes:
            raise ValueError(
                f"room_history_max_bytes ({self.room_history_max_bytes}) must hold at least two "
                f"messages of max_message_bytes ({self.max_message_bytes})"
            )
        return self

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, url: str) -> str:
        if url != "memory" and not url.startswith(REDIS_SCHEMES):
            raise ValueError(
                f"unsupported broker {url!r}: use 'memory' (one worker process) or a Redis URL "
                "such as redis://127.0.0.1:6379/0 (any number of workers)"
            )
        return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
