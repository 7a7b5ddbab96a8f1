"""Render a run's report and screenshot it with headless Chromium (for the README).

    .venv/bin/python scripts/screenshot_report.py [--results FILE] [--out docs/report.png]

Uses the newest run (``reports/latest/results.json``) when there is one, else the golden
fixture ``tests/fixtures/results-v1.json``, so the image can be regenerated on any checkout.
Needs Debian's Chromium (``scripts/ensure-chromium.sh``) and the ``playwright`` package.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from pushbench.cli import kinds as _kinds  # noqa: F401  (every kind's report parts, registered)
from pushbench.core.schema import SchemaError, load_results
from pushbench.harness.chromium import CHROMIUM_ARGS, find_chromium
from pushbench.report import HTML_NAME, write_report

ROOT = Path(__file__).resolve().parent.parent
LATEST = ROOT / "reports" / "latest" / "results.json"
GOLDEN = ROOT / "tests" / "fixtures" / "results-v1.json"


def screenshot(html: Path, out: Path, *, width: int, max_height: int, chromium: str) -> None:
    """Open ``html`` in headless Chromium and save its top to ``out``: down to the end of the
    cost chart (verdict, table, warnings, latency and cost), at most ``max_height`` px."""
    from playwright.sync_api import FloatRect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(html.as_uri(), wait_until="load")
            box = page.locator("#chart-cost").bounding_box()
            bottom = box["y"] + box["height"] + 16 if box else max_height
            clip: FloatRect = {"x": 0, "y": 0, "width": width, "height": min(bottom, max_height)}
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True, clip=clip)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help=f"default: {LATEST}, else {GOLDEN}")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--max-height", type=int, default=2400)
    args = parser.parse_args(argv)
    results: Path = args.results or (LATEST if LATEST.is_file() else GOLDEN)
    chromium = find_chromium()
    if chromium is None:
        print("Chromium is not installed: run scripts/ensure-chromium.sh", file=sys.stderr)
        return 1
    try:
        document = load_results(results)
    except (OSError, SchemaError) as exc:
        print(f"cannot read {results}: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pushbench-report-") as tmp:
        write_report(document, Path(tmp))
        screenshot(
            Path(tmp) / HTML_NAME,
            args.out,
            width=args.width,
            max_height=args.max_height,
            chromium=chromium,
        )
    print(f"{args.out}: report of {results} ({document.run_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
