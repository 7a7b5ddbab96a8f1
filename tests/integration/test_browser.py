"""The chat page and the API docs in real headless Chromium (Debian's, not Playwright's download).

Needs ``/usr/bin/chromium`` (``scripts/ensure-chromium.sh`` installs it) and the ``playwright``
package; skips with the reason when either is missing. Playwright's sync API: these tests are
plain functions, outside any asyncio loop.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest

from pushbench.core.server_config import ServerConfig
from pushbench.harness.chromium import CHROMIUM_ARGS, find_chromium
from pushbench.harness.launcher import ServerProcess
from tests.conftest import timeout

pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not importable: pip install -e '.[dev]'",
)

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

CHROMIUM = find_chromium()


#: Playwright's default for actions, navigations and ``expect`` assertions, in milliseconds.
WAIT_MS = timeout(15) * 1000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium not installed (no /usr/bin/chromium, no chromium on PATH): "
        "run scripts/ensure-chromium.sh",
    ),
    pytest.mark.timeout(timeout(60)),
]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert CHROMIUM is not None
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=WAIT_MS
    )
    expect.set_options(timeout=WAIT_MS)
    yield browser
    browser.close()


class PageErrors(list[str]):
    """Uncaught JavaScript exceptions and console errors, from every page of one test."""


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def new_page(browser: Browser, page_errors: PageErrors) -> Iterator[Callable[[], Page]]:
    """Open pages, each in its own browser context (one user each); all closed after the test."""
    contexts: list[BrowserContext] = []

    def open_page() -> Page:
        context = browser.new_context()
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: page_errors.append(f"page error: {exc}"))
        page.on("console", lambda msg: record_console_error(msg, page_errors))
        return page

    yield open_page
    for context in contexts:
        context.close()


def record_console_error(msg: ConsoleMessage, errors: PageErrors) -> None:
    """Console errors, except the browser's own ``/favicon.ico`` request (the page has none)."""
    if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
        errors.append(f"console: {msg.text} ({msg.location.get('url')})")


def unique_room() -> str:
    return f"browser-{uuid.uuid4().hex[:12]}"


#: The token of :func:`guarded_server`.
TOKEN = "browser-s3cret"


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with a bearer token that allows only same-host browser Origins (no loopback)."""
    log = tmp_path_factory.mktemp("server") / "guarded.log"
    settings = {"auth_token": TOKEN, "allowed_origins": "same-host"}
    with ServerProcess(ServerConfig(settings=settings), log) as process:
        yield process


def join(page: Page, server: ServerProcess, room: str, name: str, query: str = "") -> None:
    """Open the chat page, join ``room`` as ``name`` and wait until the socket is open."""
    response = page.goto(server.url + "/" + query)
    assert response is not None
    assert response.ok, response.status
    page.locator("#room").fill(room)
    page.locator("#name").fill(name)
    page.locator("#connect").click()
    expect(page.locator("#status")).to_have_text(f"Connected to room {room}.")
    expect(page.locator("#text")).to_be_enabled()
    expect(page.locator("#send-button")).to_be_enabled()


def send(page: Page, text: str) -> None:
    page.locator("#text").fill(text)
    page.locator("#send-button").click()
    expect(page.locator("#text")).to_have_value("")


def test_message_comes_back_to_the_sender(
    server: ServerProcess, new_page: Callable[[], Page], page_errors: PageErrors
) -> None:
    page = new_page()
    room = unique_room()
    join(page, server, room, "alice")
    text = f"hello from the browser {uuid.uuid4().hex[:8]}"

    send(page, text)

    items = page.locator("#messages li")
    expect(items).to_have_count(1)  # a fresh room: only this message
    expect(items.locator(".body")).to_have_text(text)
    expect(items.locator(".who")).to_have_text("alice")
    expect(items.locator(".id")).to_have_text(re.compile(r"^#\d+$"))
    assert page_errors == []


def test_message_reaches_the_other_member(
    server: ServerProcess, new_page: Callable[[], Page], page_errors: PageErrors
) -> None:
    alice, bob = new_page(), new_page()
    room = unique_room()
    join(alice, server, room, "alice")
    join(bob, server, room, "bob")

    send(alice, "hi bob")
    for page in (alice, bob):
        expect(page.locator("#messages li .body")).to_have_text(["hi bob"])

    send(bob, "hi alice")
    for page in (alice, bob):
        expect(page.locator("#messages li .body")).to_have_text(["hi bob", "hi alice"])
        expect(page.locator("#messages li .who")).to_have_text(["alice", "bob"])
    assert page_errors == []


def test_docs_page_points_at_the_http_endpoints(
    server: ServerProcess, new_page: Callable[[], Page]
) -> None:
    """``/docs`` loads, and the OpenAPI document it renders lists the HTTP endpoints."""
    page = new_page()
    response = page.goto(server.url + "/docs", wait_until="commit")
    assert response is not None
    assert response.ok, response.status
    expect(page).to_have_title(re.compile("Swagger UI"))
    spec = page.evaluate("fetch('/openapi.json').then((r) => r.json())")
    assert "/rooms/{room}/messages" in spec["paths"]
    assert {"get", "post"} <= spec["paths"]["/rooms/{room}/messages"].keys()


def test_docs_renders_the_http_endpoints(
    server: ServerProcess, new_page: Callable[[], Page]
) -> None:
    """Swagger UI renders the endpoints from assets the server itself serves (no CDN)."""
    page = new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(f"{request.url}: {request.failure}"))
    response = page.goto(server.url + "/docs")
    assert response is not None
    assert response.ok, response.status
    expect(page.get_by_text("/rooms/{room}/messages").first).to_be_visible()
    expect(page.get_by_text("/healthz", exact=True).first).to_be_visible()
    assert failed == []


def test_chat_page_works_with_a_token_and_same_host_origins_only(
    guarded_server: ServerProcess, new_page: Callable[[], Page], page_errors: PageErrors
) -> None:
    """Opened as ``/?token=...``, the page passes its token to its socket; its own Origin is
    the server's host, which ``same-host`` allows."""
    page = new_page()
    join(page, guarded_server, unique_room(), "carol", query=f"?token={TOKEN}")
    send(page, "hello with a token")
    expect(page.locator("#messages li .body")).to_have_text(["hello with a token"])
    assert page_errors == []


def test_docs_page_opened_with_the_token_renders(
    guarded_server: ServerProcess, new_page: Callable[[], Page]
) -> None:
    page = new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(f"{request.url}: {request.failure}"))
    response = page.goto(f"{guarded_server.url}/docs?token={TOKEN}")
    assert response is not None
    assert response.ok, response.status
    expect(page.get_by_text("/rooms/{room}/messages").first).to_be_visible()
    assert failed == []


def test_chat_page_without_the_token_is_refused(
    guarded_server: ServerProcess, new_page: Callable[[], Page]
) -> None:
    response = new_page().goto(guarded_server.url + "/")
    assert response is not None
    assert response.status == 401
