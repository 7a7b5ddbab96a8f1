"""``/docs`` and ``/redoc`` with their JavaScript and CSS served by the server, not a CDN.

FastAPI's own recipe for self-hosted docs (fastapi.tiangolo.com, "Custom Docs UI Static Assets"),
with the assets the ``fastapi-offline`` package ships: its ``FastAPIOffline`` factory does the same
but can only build a plain ``FastAPI``, and the reference server is a subclass of it
(:mod:`target_app.reference_app`).
"""

from __future__ import annotations

from importlib import resources
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["serve_docs_offline"]

_STATIC = "/static-offline-docs"


def serve_docs_offline(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Add the docs pages to ``app``, which must have been built with ``docs_url=None`` and
    ``redoc_url=None``."""
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError("build the app with docs_url=None and redoc_url=None first")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    assets = resources.files("fastapi_offline").joinpath("static")
    app.mount(_STATIC, StaticFiles(directory=str(assets)), name="static-offline-docs")

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        token = _token_query(request)
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}{token}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2_redirect_url}",
            swagger_js_url=f"{root}{_STATIC}/swagger-ui-bundle.js{token}",
            swagger_css_url=f"{root}{_STATIC}/swagger-ui.css{token}",
            swagger_favicon_url=f"{root}{_STATIC}/favicon.png{token}",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(redoc_url, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        token = _token_query(request)
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}{token}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{_STATIC}/redoc.standalone.js{token}",
            with_google_fonts=False,
            redoc_favicon_url=f"{root}{_STATIC}/favicon.png{token}",
        )


def _token_query(request: Request) -> str:
    """``?token=...`` when the page was opened with one (a server with ``auth_token``): the
    browser fetches the schema and assets with plain URLs, which cannot carry a header."""
    token = request.query_params.get("token")
    return f"?{urlencode({'token': token})}" if token else ""
