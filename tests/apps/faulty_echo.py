"""The tutorial's echo with faults injected on purpose: what the token echo must count.

``/ws`` greets each connection with ``Welcome!`` (no token: one unexpected frame per connection),
then answers its n-th text frame (n = 0, 1, 2, ... per connection) with ``Your text was: <text>``,
except that a frame with ``n % 7 == 4`` gets no answer at all (a lost reply), one with
``n % 5 == 3`` is answered twice (a duplicated reply), and one with ``n % 11 == 6`` gets a
``Still here.`` notice (no token: unexpected) before its answer.
"""

from __future__ import annotations

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()


@app.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("Welcome!")
    n = 0
    try:
        while True:
            data = await websocket.receive_text()
            if n % 11 == 6:
                await websocket.send_text("Still here.")
            if n % 7 != 4:
                for _ in range(2 if n % 5 == 3 else 1):
                    await websocket.send_text(f"Your text was: {data}")
            n += 1
    except WebSocketDisconnect:
        pass
