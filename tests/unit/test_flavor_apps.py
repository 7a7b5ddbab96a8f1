"""What each server flavor's app is made of (no sockets): the ``fastapi`` flavor's transports are
FastAPI path operations, the ``asgi`` flavor's WebSockets its plain ASGI classes.

The byte-for-byte equality of the two is the integration test ``test_flavor_parity``; this pins
that the ``fastapi`` flavor does not quietly serve the ``asgi`` endpoints through its router.
"""

from __future__ import annotations

from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.sse import EventSourceResponse
from starlette.routing import BaseRoute, WebSocketRoute

from target_app.echo import EchoSocket
from target_app.main import create_app
from target_app.reference_app import ReferenceApp
from target_app.rooms_ws import RoomSocket
from target_app.settings import Settings


def flatten(routes: list[BaseRoute]) -> list[BaseRoute]:
    # FastAPI 0.165 keeps an included router as one lazy entry holding the original router.
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)
        found += flatten(included.routes) if included is not None else [route]
    return found


def routes(flavor: str) -> dict[str, BaseRoute]:
    app = create_app(Settings(flavor=flavor))  # type: ignore[arg-type]
    return {getattr(route, "path", ""): route for route in flatten(app.routes)}


def test_fastapi_flavor_serves_websockets_as_path_operations() -> None:
    found = routes("fastapi")
    for path in ("/ws", "/ws/rooms/{room}"):
        assert isinstance(found[path], APIWebSocketRoute), path


def test_fastapi_flavor_streams_sse_through_fastapis_event_source() -> None:
    events = routes("fastapi")["/rooms/{room}/events"]
    assert isinstance(events, APIRoute)
    assert events.response_class is EventSourceResponse
    assert events.is_sse_stream


def test_asgi_flavor_keeps_its_plain_asgi_sockets() -> None:
    app = create_app(Settings(flavor="asgi"))
    assert isinstance(app, ReferenceApp)
    found = routes("asgi")
    echo, room = found["/ws"], found["/ws/rooms/{room}"]
    assert isinstance(echo, WebSocketRoute)
    assert isinstance(room, WebSocketRoute)
    assert isinstance(echo.app, EchoSocket)
    assert isinstance(room.app, RoomSocket)


def test_both_flavors_serve_the_same_http_operations() -> None:
    def operations(flavor: str) -> set[tuple[str, frozenset[str]]]:
        return {
            (route.path, frozenset(route.methods))
            for route in routes(flavor).values()
            if isinstance(route, APIRoute)
        }

    assert operations("asgi") == operations("fastapi")
    assert ("/rooms/{room}/messages", frozenset({"GET"})) in operations("fastapi")
