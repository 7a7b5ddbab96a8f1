"""FastAPI's documented broadcast chat: the ``ConnectionManager`` of its WebSocket guide, as is.

What ``--profile fastapi-docs-chat`` drives. Every client connects to ``/ws/{client_id}``; a text
frame from one is sent back to it (``You wrote: <text>``) and broadcast to every connection,
the sender included (``Client #<id> says: <text>``). ``broadcast`` awaits ``send_text`` on each
socket in turn, as the guide writes it, so one slow receiver delays every receiver after it in the
list: the pattern pushbench measures. Run it with ``uvicorn examples.docs_chat_app:app``.
"""

from __future__ import annotations

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []

    async def connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.active_connections.append(websocket)

    def disconnect(self, websocket: WebSocket) -> None:
        self.active_connections.remove(websocket)

    async def send_personal_message(self, message: str, websocket: WebSocket) -> None:
        await websocket.send_text(message)

    async def broadcast(self, message: str) -> None:
        for connection in self.active_connections:
            await connection.send_text(message)


manager = ConnectionManager()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: int) -> None:
    await manager.connect(websocket)
    try:
        while True:
            data = await websocket.receive_text()
            await manager.send_personal_message(f"You wrote: {data}", websocket)
            await manager.broadcast(f"Client #{client_id} says: {data}")
    except WebSocketDisconnect:
        manager.disconnect(websocket)
        await manager.broadcast(f"Client #{client_id} left the chat")
