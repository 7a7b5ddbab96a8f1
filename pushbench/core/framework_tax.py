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

from pushbench.core.paired_cost import paired_cost
from pushbench.core.scenario_flavor import base_name, flavor_of
from pushbench.core.schema import FrameworkTax, Scenario

__all__ = ["FRAMEWORK", "LEAN", "framework_tax"]

#: The flavor that is each transport's floor, and the one whose extra cost is the tax.
LEAN: Final = "asgi"
FRAMEWORK: Final = "fastapi"


def framework_tax(scenarios: Sequence[Scenario]) -> list[FrameworkTax]:
    """One row per scenario measured under both :data:`LEAN` and :data:`FRAMEWORK`, in the
    order the lean ones appear; scenarios of one flavor only are left out."""
    by_key = {(base_name(s), s.transport, flavor_of(s)): s for s in scenarios}
    rows = []
    for (name, transport, flavor), lean in by_key.items():
        framework = by_key.get((name, transport, FRAMEWORK))
        if flavor != LEAN or framework is None:
            continue
        cost = paired_cost(lean, framework)
        rows.append(
            FrameworkTax(
                scenario=name,
                transport=lean.transport,
                asgi_scenario=lean.name,
                fastapi_scenario=framework.name,
                asgi_cpu_us_per_delivered_msg=cost.base_per_msg,
                fastapi_cpu_us_per_delivered_msg=cost.variant_per_msg,
                tax_cpu_us_per_delivered_msg=cost.extra_per_msg,
                asgi_cpu_us_per_http_request=cost.base_per_request,
                fastapi_cpu_us_per_http_request=cost.variant_per_request,
                tax_cpu_us_per_http_request=cost.extra_per_request,
            )
        )
    return rows
