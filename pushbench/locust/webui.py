"""The "pushbench" tab in Locust's web UI, the way Locust documents extending it.

Locust's UI shows an extra tab for each entry of ``template_args["extended_tabs"]``, renders it
as the table ``extended_tables`` describes, and fills that table from the ``extended_stats`` of
each ``/stats/requests`` answer (which it polls every 2 s while a test runs). This module adds
the tab and the rows (:mod:`pushbench.locust.live`), a download link to the report under
Locust's "Download Data" tab (``extended_csv_files``), and two routes:

- ``/pushbench/live``: the same rows as JSON (for scripts, and to check the tab against);
- ``/pushbench/report``: the last test's ``report.html`` (404 until one is written).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from flask import Response, request, send_file
from locust.env import Environment

from pushbench.locust.live import COLUMNS, Row

__all__ = ["LIVE_PATH", "REPORT_PATH", "TAB_KEY", "install"]

TAB_KEY: Final = "pushbench"
LIVE_PATH: Final = "/pushbench/live"
REPORT_PATH: Final = "/pushbench/report"
_STATS_PATH: Final = "/stats/requests"


def install(
    environment: Environment,
    rows: Callable[[str | None], list[Row]],
    report: Callable[[], Path | None],
) -> None:
    """Add the tab, its rows and the routes to ``environment.web_ui`` (if there is one).

    Args:
        rows: The tab's rows, given the report's address (None: not written yet).
        report: The last test's ``report.html``, or None.
    """
    web_ui = environment.web_ui
    app = web_ui.app if web_ui is not None else None
    if web_ui is None or app is None:
        return
    # Locust's own pages sit under --web-base-path; these routes sit at the root of its app.
    base = ""
    web_ui.template_args["extended_tabs"] = [{"title": "pushbench", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB_KEY, "structure": [{"key": key, "title": title} for key, title in COLUMNS]}
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": base + REPORT_PATH, "title": "pushbench report (report.html, once the test stops)"}
    ]

    def current_rows() -> list[Row]:
        return rows(base + REPORT_PATH if report() is not None else None)

    @app.after_request
    def add_pushbench_rows(response: Response) -> Response:
        if not request.path.endswith(_STATS_PATH) or response.mimetype != "application/json":
            return response
        stats: dict[str, Any] = response.get_json() or {}
        extended = [e for e in stats.get("extended_stats", []) if e.get("key") != TAB_KEY]
        extended.append({"key": TAB_KEY, "data": current_rows()})
        response.set_data(json.dumps({**stats, "extended_stats": extended}))
        return response

    @app.route(LIVE_PATH)
    def pushbench_live() -> Response:
        return Response(json.dumps(current_rows()), mimetype="application/json")

    @app.route(REPORT_PATH)
    def pushbench_report() -> Response:
        path = report()
        if path is None:
            return Response("no pushbench report yet: it is written when the test stops\n", 404)
        return send_file(path.resolve(), mimetype="text/html")
