"""Start-up and shutdown of the reference server: broker, metrics, and refusals worth one line.

A server that cannot serve correctly refuses to start, and says why in one line of its log
(uvicorn then exits with its start-up failure code) rather than in a traceback:

* the broker cannot be reached (``cannot reach Redis at redis://...``);
* it is one of several uvicorn workers on the memory broker, where each worker would keep its
  own rooms and silently lose messages published to the others.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from target_app.broker import Broker, BrokerUnavailable
from target_app.metrics import Metrics
from target_app.settings import Settings
from target_app.workers import uvicorn_worker_count

__all__ = ["OneLineStartupErrors", "StartupRefused", "server_lifespan"]


class StartupRefused(RuntimeError):
    """The server must not start; the message says why, in one line."""


# The lifespan runs in the task of the ASGI lifespan call, so the middleware below sees this.
_refusal: ContextVar[str | None] = ContextVar("pushbench_startup_refusal", default=None)


def _check_workers(broker: Broker, settings: Settings) -> None:
    workers = uvicorn_worker_count()
    if workers > 1 and broker.name == "memory" and not settings.allow_memory_broker_workers:
        raise StartupRefused(
            f"refusing to start one of {workers} uvicorn workers on the memory broker: each worker "
            "would keep its own rooms, so messages published to one worker would never reach "
            "subscribers or polls on the others. Set PUSHBENCH_BROKER_URL=redis://127.0.0.1:6379/0 "
            "(shared rooms), run one worker, or set PUSHBENCH_ALLOW_MEMORY_BROKER_WORKERS=1 to "
            "measure the broken setup on purpose."
        )


async def _flush_every(metrics: Metrics, period_s: float) -> None:
    while True:
        await asyncio.sleep(period_s)
        metrics.flush()


def server_lifespan(
    broker: Broker, metrics: Metrics, settings: Settings
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: refuse a wrong set-up, start the broker, flush metrics."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            _check_workers(broker, settings)
            try:
                await broker.start()
            except BrokerUnavailable as exc:
                raise StartupRefused(str(exc)) from None
        except StartupRefused as exc:
            _refusal.set(str(exc))
            raise
        metrics.broker_state(broker.healthy())
        flusher = asyncio.create_task(_flush_every(metrics, settings.metrics_flush_s))
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await broker.close()
            metrics.close()

    return lifespan


class OneLineStartupErrors:
    """ASGI middleware: a :class:`StartupRefused` is logged as its message, not a traceback.

    Starlette reports any lifespan exception to the server as its formatted traceback; for a
    refusal the traceback only hides the one line that matters.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_short(message: Message) -> None:
            refusal = _refusal.get()
            if message["type"] == "lifespan.startup.failed" and refusal is not None:
                message = {**message, "message": f"pushbench: {refusal}"}
            await send(message)

        await self.app(scope, receive, send_short)
