"""A relay app of its own format, with faults injected on purpose: what a target profile drives.

Publishing: ``POST /say`` with ``{"text": ...}``, or a text frame on ``/talk``. Every message gets
a number k (0, 1, 2, ... over the app's life) and is relayed as ``{"k": k, "said": text}`` to the
WebSocket listeners of ``/listen``, kept for ``GET /log?since=N`` (``{"entries": [...],
"upto": M}``; with ``wait=S`` the request waits up to S s for something new) and streamed on
``/feed`` (SSE). Faults: message k with ``k % 7 == 4`` is dropped (never relayed or kept); with
``k % 5 == 3`` it is relayed and kept twice. Each listener first gets a ``{"hello": ...}`` frame
with no token in it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

app = FastAPI()
log: list[dict[str, object]] = []
listeners: set[WebSocket] = set()
changed = asyncio.Condition()
counter = [0]


class Say(BaseModel):
    text: str


async def _relay(text: str) -> None:
    k = counter[0]
    counter[0] += 1
    if k % 7 == 4:
        return
    entry = {"k": k, "said": text}
    for _ in range(2 if k % 5 == 3 else 1):
        log.append(entry)
        for ws in list(listeners):
            await ws.send_json(entry)
    async with changed:
        changed.notify_all()


@app.post("/say")
async def say(body: Say) -> dict[str, int]:
    await _relay(body.text)
    return {"ok": 1}


@app.websocket("/talk")
async def talk(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await _relay(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


@app.websocket("/listen")
async def listen(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"hello": "listener"})
    listeners.add(websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        listeners.discard(websocket)


@app.get("/log")
async def read_log(since: int = 0, wait: float = 0) -> dict[str, object]:
    if wait and since >= len(log):
        async with changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait_for(lambda: len(log) > since), wait)
    return {"entries": log[since:], "upto": len(log)}


@app.get("/feed")
async def feed(request: Request) -> StreamingResponse:
    async def events() -> AsyncIterator[bytes]:
        sent = [len(log)]
        while not await request.is_disconnected():
            async with changed:
                await changed.wait_for(lambda: len(log) > sent[0])
            for entry in log[sent[0] :]:
                yield f"data: {entry['said']}\n\n".encode()
            sent[0] = len(log)

    return StreamingResponse(events(), media_type="text/event-stream")
