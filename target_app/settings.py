"""Server settings, read from ``PUSHBENCH_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ROOM_PATTERN", "Settings", "get_settings"]

#: Room names: short, URL-safe, no path tricks. Shared by every transport's validation.
ROOM_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class Settings(BaseSettings):
    """Every bound the server enforces, so that no client can make it grow without limit."""

    model_config = SettingsConfigDict(env_prefix="PUSHBENCH_", frozen=True)

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
    send_queue_size: int = Field(
        default=1_000,
        ge=1,
        description="Messages queued per push subscriber before it is dropped as too slow.",
    )
    max_rooms: int = Field(default=10_000, ge=1, description="Rooms that may exist at once.")
    max_poll_limit: int = Field(default=1_000, ge=1, description="Largest `limit` of one poll.")
    max_wait_s: float = Field(default=60.0, gt=0, description="Longest long-poll `wait`.")
    sse_keepalive_s: float = Field(
        default=15.0, gt=0, description="Idle seconds between SSE keep-alive comments."
    )
    max_echo_delay_ms: int = Field(default=60_000, ge=0, description="Largest `/ws?delay_ms=`.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
