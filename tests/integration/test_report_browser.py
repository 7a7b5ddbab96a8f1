"""``report.html`` in real headless Chromium (Debian's): the charts render, nothing is fetched.

Needs ``/usr/bin/chromium`` (``scripts/ensure-chromium.sh`` installs it) and the ``playwright``
package; skips with the reason when either is missing. Screenshots are decoded with matplotlib's
PNG reader (a dependency already), so "non-blank" is measured on real pixels.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from pushbench.cli import kinds as _kinds  # noqa: F401  (every kind's report parts, registered)
from pushbench.core.schema import load_results
from pushbench.harness.chromium import CHROMIUM_ARGS, find_chromium
from pushbench.report import write_report
from tests.conftest import timeout

pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not importable: pip install -e '.[dev]'",
)

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

CHROMIUM = find_chromium()


#: Playwright's default for actions and navigations, in milliseconds.
WAIT_MS = timeout(15) * 1000

FIXTURES = Path(__file__).parent.parent / "fixtures"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium not installed (no /usr/bin/chromium, no chromium on PATH): "
        "run scripts/ensure-chromium.sh",
    ),
    pytest.mark.timeout(timeout(90)),
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
    yield browser
    browser.close()


class Visit:
    """A page with every request it made, and every error it logged."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []


OpenReport = Callable[[str], Visit]


@pytest.fixture
def open_report(browser: Browser, tmp_path: Path) -> Iterator[OpenReport]:
    """Render a fixture's report into ``tmp_path`` and open it from disk, network refused."""
    contexts: list[BrowserContext] = []

    def open_(fixture: str) -> Visit:
        out = tmp_path / fixture
        write_report(load_results(FIXTURES / fixture), out)
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        page = context.new_page()
        visit = Visit(page)

        def refuse_network(route: Route) -> None:
            visit.requests.append(route.request.url)
            route.abort()

        # Any http(s) or ws request is refused and recorded: the page must need none.
        context.route("http://**/*", refuse_network)
        context.route("https://**/*", refuse_network)
        page.on("request", lambda request: visit.requests.append(request.url))
        page.on("pageerror", lambda exc: visit.errors.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                visit.errors.append(f"console: {msg.text}") if msg.type == "error" else None
            ),
        )
        response = page.goto((out / "report.html").as_uri(), wait_until="load")
        assert response is not None
        assert response.ok
        return visit

    yield open_
    for context in contexts:
        context.close()


def pixels(png: bytes) -> np.ndarray:
    """RGB floats in [0, 1], height x width x 3."""
    array = image.imread(io.BytesIO(png), format="png")
    return np.asarray(array)[..., :3]


def assert_not_blank(png: bytes, what: str) -> None:
    rgb = pixels(png)
    assert rgb.size, what
    background = np.median(rgb.reshape(-1, 3), axis=0)
    differing = np.abs(rgb - background).sum(axis=-1) > 0.1
    # A rendered chart or page has lines, bars and text: well over 1 % of pixels off-background.
    assert differing.mean() > 0.01, f"{what}: only {differing.mean():.2%} non-background pixels"
    assert float(rgb.std()) > 0.02, f"{what}: pixel std {rgb.std():.3f}"


@pytest.mark.parametrize(
    ("fixture", "charts"),
    [
        ("results-v1.json", ["latency", "cost", "delivery"]),
        ("results-v1-lossy.json", ["latency", "cost", "delivery"]),
        ("results-v1-sweep.json", ["sweep", "latency", "cost", "delivery"]),
    ],
)
def test_report_renders_its_charts_offline(
    open_report: OpenReport, fixture: str, charts: list[str]
) -> None:
    visit = open_report(fixture)
    page = visit.page

    figures = page.locator("figure.chart")
    assert figures.count() == len(charts)
    assert [figures.nth(i).get_attribute("id") for i in range(len(charts))] == [
        f"chart-{c}" for c in charts
    ]
    for i, chart in enumerate(charts):
        svg = figures.nth(i).locator("svg")
        assert svg.count() == 1
        box = svg.bounding_box()
        assert box is not None, chart
        assert box["width"] > 300, (chart, box)
        assert box["height"] > 100, (chart, box)
        assert svg.locator("path").count() > 10, chart  # axes, ticks, lines or bars were drawn
        svg.scroll_into_view_if_needed()
        assert_not_blank(svg.screenshot(), f"chart {chart}")

    # No <img> is needed, and any there would have to be loaded.
    for i in range(page.locator("img").count()):
        assert page.locator("img").nth(i).evaluate("(img) => img.naturalWidth") > 0

    assert page.locator("#verdict").inner_text().strip()
    document = load_results(FIXTURES / fixture)
    assert page.locator("#summary tbody tr").count() == len(document.scenarios)
    assert_not_blank(page.screenshot(full_page=True), "page")
    assert [u for u in visit.requests if not u.startswith(("file:", "data:"))] == []
    assert visit.errors == []


def test_warnings_are_visible(open_report: OpenReport) -> None:
    visit = open_report("results-v1-lossy.json")
    page = visit.page
    warnings = page.locator("#warnings li")
    assert warnings.count() == 11  # the sse scenario's failed publishes among them
    assert warnings.first.is_visible()
    assert "interrupted" in warnings.first.inner_text()
    assert page.locator(".badge.error").inner_text() == "interrupted: partial results"
