"""The classic FastAPI WebSocket tutorial app, in its plain form (``--profile tutorial``).

One ``/ws`` endpoint that accepts, then answers every text frame with ``Your text was: <text>``
until the client goes away. Nothing else: no rooms, no envelope, no ids. Run it with
``uvicorn examples.tutorial_app:app`` from a checkout.
"""

from __future__ import annotations

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()


@app.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            data = await websocket.receive_text()
            await websocket.send_text(f"Your text was: {data}")
    except WebSocketDisconnect:
        pass
