"""A broadcast app whose delivery slows with its audience: each message goes to the WebSocket
listeners of ``/listen`` one by one, 1 ms apart, from one queue. With S listeners a message
takes about S ms to reach the last one, so a ramp over subscribers crosses a latency SLO at a
subscriber count known in advance. ``POST /say`` (any body) publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect

listeners: set[WebSocket] = set()
queue: asyncio.Queue[str] = asyncio.Queue()


async def _deliver() -> None:
    while True:
        text = await queue.get()
        for ws in list(listeners):
            with contextlib.suppress(Exception):
                await ws.send_text(text)
            await asyncio.sleep(0.001)


@contextlib.asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    task = asyncio.create_task(_deliver())
    yield
    task.cancel()


app = FastAPI(lifespan=lifespan)


@app.post("/say")
async def say(request: Request) -> dict[str, int]:
    queue.put_nowait((await request.body()).decode())
    return {"queued": queue.qsize()}


@app.websocket("/listen")
async def listen(websocket: WebSocket) -> None:
    await websocket.accept()
    listeners.add(websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        listeners.discard(websocket)
