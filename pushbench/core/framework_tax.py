"""The framework tax: per scenario, what idiomatic FastAPI costs on top of lean ASGI (pure).

A compare run that measures every transport under both flavors of the reference server gives,
per scenario, the transport's floor (``asgi``: lean ASGI for every transport) and what a
FastAPI user pays (``fastapi``); the difference is the framework's, not the transport's. Server
CPU is put per delivered message (what push and poll have in common) and per HTTP request
(what a poll costs whether or not it finds a message).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from pushbench.core.kinds import POLLING_TRANSPORTS
from pushbench.core.scenario_flavor import base_name, flavor_of
from pushbench.core.schema import FrameworkTax, Scenario

__all__ = ["FRAMEWORK", "LEAN", "cpu_us_per_http_request", "framework_tax"]

#: The flavor that is each transport's floor, and the one whose extra cost is the tax.
LEAN: Final = "asgi"
FRAMEWORK: Final = "fastapi"


def cpu_us_per_http_request(scenario: Scenario) -> float | None:
    """Server CPU µs per HTTP request the subscribers made; None without requests or server,
    and for transports other than :data:`~pushbench.core.kinds.POLLING_TRANSPORTS` (their
    requests are round trips, each priced on its own; an SSE scenario's "requests" are its few
    stream opens: all its CPU over them would read as a price per request)."""
    if (
        scenario.transport not in POLLING_TRANSPORTS
        or scenario.server is None
        or not scenario.http_requests
    ):
        return None
    return scenario.server.cpu_s * 1e6 / scenario.http_requests


def _cpu_per_msg(scenario: Scenario) -> float | None:
    return scenario.server.cpu_us_per_delivered_msg if scenario.server else None


def _difference(framework: float | None, lean: float | None) -> float | None:
    return None if framework is None or lean is None else framework - lean


def framework_tax(scenarios: Sequence[Scenario]) -> list[FrameworkTax]:
    """One row per scenario measured under both :data:`LEAN` and :data:`FRAMEWORK`, in the
    order the lean ones appear; scenarios of one flavor only are left out."""
    by_key = {(base_name(s), s.transport, flavor_of(s)): s for s in scenarios}
    rows = []
    for (name, transport, flavor), lean in by_key.items():
        framework = by_key.get((name, transport, FRAMEWORK))
        if flavor != LEAN or framework is None:
            continue
        lean_msg, framework_msg = _cpu_per_msg(lean), _cpu_per_msg(framework)
        lean_req, framework_req = (
            cpu_us_per_http_request(lean),
            cpu_us_per_http_request(framework),
        )
        rows.append(
            FrameworkTax(
                scenario=name,
                transport=lean.transport,
                asgi_scenario=lean.name,
                fastapi_scenario=framework.name,
                asgi_cpu_us_per_delivered_msg=lean_msg,
                fastapi_cpu_us_per_delivered_msg=framework_msg,
                tax_cpu_us_per_delivered_msg=_difference(framework_msg, lean_msg),
                asgi_cpu_us_per_http_request=lean_req,
                fastapi_cpu_us_per_http_request=framework_req,
                tax_cpu_us_per_http_request=_difference(framework_req, lean_req),
            )
        )
    return rows
