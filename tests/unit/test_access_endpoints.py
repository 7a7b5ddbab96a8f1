"""The access rules at every endpoint, in process (no sockets).

The WebSocket checks run on both ways to the endpoints: the shortcut of ``ReferenceApp`` and the
router (under a ``root_path``). Real uvicorn, with what its clients see, is in
``tests/integration/test_access.py``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from benchmarks.micro.asgi_driver import InProcessApp
from target_app.main import create_app
from target_app.settings import Settings

ROOT_PATHS = pytest.mark.parametrize("root_path", ["", "/api"], ids=["shortcut", "router"])
WS_TARGETS = pytest.mark.parametrize("target", ["/ws", "/ws/rooms/r1"])
EVIL = [(b"origin", b"http://evil.example")]
TOKEN = "s3cret"
BEARER = [(b"authorization", f"Bearer {TOKEN}".encode())]


def run(scenario: Any) -> Any:
    return asyncio.run(scenario())


async def _opens(
    app: InProcessApp, target: str, root_path: str, headers: list[tuple[bytes, bytes]]
) -> bool:
    try:
        socket = await app.websocket(target, root_path=root_path, headers=headers)
    except ConnectionError:
        return False
    socket.disconnect()
    await socket.task
    return True


@ROOT_PATHS
@WS_TARGETS
def test_websocket_origin_checked_on_both_paths(root_path: str, target: str) -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        async with InProcessApp(create_app(Settings())) as app:
            local = [(b"origin", b"http://localhost:8001")]
            return (
                await _opens(app, target, root_path, EVIL),
                await _opens(app, target, root_path, local),
                await _opens(app, target, root_path, []),
            )

    assert run(scenario) == (False, True, True)


@ROOT_PATHS
@WS_TARGETS
def test_websocket_token_checked_on_both_paths(root_path: str, target: str) -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        async with InProcessApp(create_app(Settings(auth_token=TOKEN))) as app:  # type: ignore[arg-type]
            sep = "&" if "?" in target else "?"
            return (
                await _opens(app, target, root_path, []),
                await _opens(app, target, root_path, BEARER),
                await _opens(app, f"{target}{sep}token={TOKEN}", root_path, []),
            )

    assert run(scenario) == (False, True, True)


@ROOT_PATHS
def test_room_socket_over_its_rate_closes_1008_with_the_reason(root_path: str) -> None:
    async def scenario() -> tuple[int | None, str, list[int]]:
        settings = Settings(publish_rate_per_s=5, publish_burst_s=1.0)
        async with InProcessApp(create_app(settings)) as app:
            pushed: list[int] = []
            burst_delivered = asyncio.Event()

            def on_send(message: Any) -> None:
                pushed.append(json.loads(message["text"])["seq"])
                if len(pushed) == 5:
                    burst_delivered.set()

            subscriber = await app.websocket("/ws/rooms/r1", on_send, root_path=root_path)
            publisher = await app.websocket("/ws/rooms/r1?receive=false", root_path=root_path)
            for seq in range(8):
                publisher.send_text(json.dumps({"publisher": "p", "seq": seq, "payload": "x"}))
            await publisher.task  # closed by the server: every later frame was never read
            async with asyncio.timeout(5):
                await burst_delivered.wait()
            subscriber.disconnect()
            await subscriber.task
            return publisher.closed, publisher.close_reason, pushed

    code, reason, pushed = run(scenario)
    assert code == 1008
    assert reason.startswith("publish rate limit exceeded: 5 messages/s")
    assert pushed == [0, 1, 2, 3, 4]  # the burst, and nothing past the limit


def test_post_must_be_json_and_a_refused_post_publishes_nothing() -> None:
    async def scenario() -> tuple[int, Any, int, Any]:
        async with InProcessApp(create_app(Settings())) as app:
            body = json.dumps({"publisher": "p", "seq": 0, "payload": "x"}).encode()
            plain = [(b"content-type", b"text/plain")]
            status, reply = await app.request("POST", "/rooms/r1/messages", body, plain)
            _, page = await app.get("/rooms/r1/messages")
            ok, _ = await app.request(
                "POST",
                "/rooms/r1/messages",
                body,
                [(b"content-type", b"application/json; charset=utf-8")],
            )
            return status, json.loads(reply), ok, json.loads(page)["messages"]

    status, reply, ok, messages = run(scenario)
    assert status == 415
    assert "application/json" in reply["detail"]
    assert messages == []
    assert ok == 201


def test_post_from_a_foreign_origin_is_refused() -> None:
    async def scenario() -> tuple[int, int]:
        async with InProcessApp(create_app(Settings())) as app:
            body = json.dumps({"publisher": "p", "seq": 0, "payload": "x"}).encode()
            evil, _ = await app.request("POST", "/rooms/r1/messages", body, EVIL)
            local = [(b"origin", b"http://127.0.0.1:8001")]
            ok, _ = await app.request("POST", "/rooms/r1/messages", body, local)
            return evil, ok

    assert run(scenario) == (403, 201)


def test_post_over_the_client_rate_gets_429_with_retry_after() -> None:
    async def scenario() -> list[int]:
        settings = Settings(publish_rate_per_s=3, publish_burst_s=1.0)
        async with InProcessApp(create_app(settings)) as app:
            statuses = []
            for seq in range(4):
                body = json.dumps({"publisher": "p", "seq": seq, "payload": "x"}).encode()
                status, _ = await app.request("POST", "/rooms/r1/messages", body)
                statuses.append(status)
            return statuses

    assert run(scenario) == [201, 201, 201, 429]


@pytest.mark.parametrize(
    "target", ["/", "/metrics", "/docs", "/openapi.json", "/rooms/r1/messages", "/redoc"]
)
def test_token_guards_every_http_endpoint_but_healthz(target: str) -> None:
    async def scenario() -> tuple[int, int, int, int]:
        async with InProcessApp(create_app(Settings(auth_token=TOKEN))) as app:  # type: ignore[arg-type]
            without, _ = await app.get(target)
            header, _ = await app.request("GET", target, headers=BEARER)
            query, _ = await app.get(f"{target}?token={TOKEN}")
            health, _ = await app.get("/healthz")
            return without, header, query, health

    assert run(scenario) == (401, 200, 200, 200)


def test_openapi_documents_the_refusals() -> None:
    async def scenario() -> dict[str, Any]:
        async with InProcessApp(create_app(Settings(auth_token=TOKEN))) as app:  # type: ignore[arg-type]
            _, body = await app.request("GET", "/openapi.json", headers=BEARER)
            return dict(json.loads(body))

    paths = run(scenario)["paths"]
    publish = paths["/rooms/{room}/messages"]["post"]["responses"]
    assert {"401", "403", "415", "429"} <= set(publish)
    assert "401" in paths["/rooms/{room}/events"]["get"]["responses"]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_opened_with_a_token_fetch_schema_and_assets_with_it(page: str) -> None:
    async def scenario() -> str:
        async with InProcessApp(create_app(Settings(auth_token=TOKEN))) as app:  # type: ignore[arg-type]
            _, html = await app.get(f"{page}?token={TOKEN}")
            return html.decode()

    html = run(scenario)
    assert f"/openapi.json?token={TOKEN}" in html
    assert f".js?token={TOKEN}" in html
