"""The reference server's ASGI app: ``uvicorn target_app.main:app --port 8001``."""

import os
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse

from target_app import __version__, log_filters
from target_app.access import Access, TokenMiddleware
from target_app.asgi_http import RoomsHTTP
from target_app.broker import Broker, BrokerUnavailable, CursorAhead, TooManyRooms, create_broker
from target_app.echo import EchoSocket
from target_app.fastapi_sse import event_source_router
from target_app.fastapi_ws import add_websocket_handlers, websocket_router
from target_app.lifespan import OneLineStartupErrors, server_lifespan
from target_app.metrics import CONTENT_TYPE_LATEST, Metrics
from target_app.offline_docs import serve_docs_offline
from target_app.reference_app import ReferenceApp
from target_app.rooms_http import rooms_http_router
from target_app.rooms_ws import RoomSocket
from target_app.settings import Settings, get_settings
from target_app.sse import sse_router

__all__ = ["app", "create_app"]

_CHAT_PAGE = resources.files("target_app").joinpath("static/ui.html").read_text()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The reference server configured by ``settings`` (default: ``PUSHBENCH_*`` variables)."""
    settings = settings or get_settings()
    log_filters.install()
    metrics = Metrics("memory" if settings.broker_url == "memory" else "redis")
    broker = create_broker(settings, on_state=metrics.broker_state)
    access = Access(settings)

    options: dict[str, Any] = {
        "docs_url": None,
        "redoc_url": None,
        "title": "pushbench reference server",
        "version": __version__,
        "summary": "One message stream over WebSocket push, short poll, long poll and SSE "
        f"({settings.flavor} flavor).",
        "lifespan": server_lifespan(broker, metrics, settings),
    }
    app: FastAPI
    if settings.flavor == "asgi":
        echo = EchoSocket(settings, access)
        rooms = RoomSocket(broker, metrics, settings.max_message_bytes, access)
        rooms_http = RoomsHTTP(settings, broker, metrics, access)
        app = ReferenceApp(echo=echo, rooms=rooms, rooms_http=rooms_http, **options)
    else:
        app = FastAPI(**options)
        app.include_router(websocket_router(settings))
        add_websocket_handlers(app)
    # Swagger UI served from the package, not a CDN: /docs works on an offline machine too.
    serve_docs_offline(app)
    app.add_middleware(OneLineStartupErrors)
    unauthorized: dict[int | str, dict[str, Any]] = {}
    if access.token_required:
        app.add_middleware(TokenMiddleware, access=access)
        unauthorized[401] = {"description": "Missing or wrong bearer token (or ?token=)."}
    app.state.settings = settings
    app.state.broker = broker
    app.state.metrics = metrics
    app.state.access = access
    app.include_router(rooms_http_router(settings), responses=unauthorized)
    events = event_source_router if settings.flavor == "fastapi" else sse_router
    app.include_router(events(settings.sse_keepalive_s), responses=unauthorized)

    @app.exception_handler(CursorAhead)
    async def cursor_ahead(request: Request, exc: CursorAhead) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "last_id": exc.last_id}, status.HTTP_409_CONFLICT)

    @app.exception_handler(BrokerUnavailable)
    async def broker_unavailable(request: Request, exc: BrokerUnavailable) -> JSONResponse:
        if request.method == "POST":
            transport = "http"
        else:
            transport = "long_poll" if request.query_params.get("wait") else "short_poll"
        metrics.unavailable(transport)
        return JSONResponse({"detail": str(exc)}, status.HTTP_503_SERVICE_UNAVAILABLE)

    @app.exception_handler(TooManyRooms)
    async def too_many_rooms(request: Request, exc: TooManyRooms) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_503_SERVICE_UNAVAILABLE)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def chat_page() -> HTMLResponse:
        return HTMLResponse(_CHAT_PAGE)

    @app.get("/healthz", tags=["ops"])
    async def healthz(request: Request) -> JSONResponse:
        """200 when the broker can serve, 503 when it cannot."""
        current: Broker = request.app.state.broker
        healthy = current.healthy()
        return JSONResponse(
            {
                "status": "ok" if healthy else "unavailable",
                "broker": current.name,
                "pid": os.getpid(),
            },
            status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.get(
        "/metrics",
        tags=["ops"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    async def metrics_page() -> Response:
        """Prometheus text format, for the whole server (every worker's connections by pid)."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return app


app = create_app()
