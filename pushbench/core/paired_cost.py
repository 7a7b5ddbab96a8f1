"""What one variant of a scenario costs the server over its base, measured in the same run (pure).

The framework tax (``fastapi`` over ``asgi``) and the cost of TLS (over plain TCP) are the same
question asked of two scenarios that differ in one setting: server CPU per delivered message
(what every transport has) and per HTTP request (what a poll costs, found or not), each as the
base's figure, the variant's and the difference.
"""

from __future__ import annotations

from dataclasses import dataclass

from pushbench.core.kinds import POLLING_TRANSPORTS
from pushbench.core.schema import Scenario

__all__ = ["PairedCost", "cpu_us_per_delivered_msg", "cpu_us_per_http_request", "paired_cost"]


def cpu_us_per_delivered_msg(scenario: Scenario) -> float | None:
    """Server CPU µs per delivered message; None without a sampled server."""
    return scenario.server.cpu_us_per_delivered_msg if scenario.server else None


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


def _difference(variant: float | None, base: float | None) -> float | None:
    return None if variant is None or base is None else variant - base


@dataclass(frozen=True, slots=True)
class PairedCost:
    """Server CPU µs of a base scenario and its variant, and what the variant adds."""

    base_per_msg: float | None
    variant_per_msg: float | None
    extra_per_msg: float | None
    base_per_request: float | None
    variant_per_request: float | None
    extra_per_request: float | None


def paired_cost(base: Scenario, variant: Scenario) -> PairedCost:
    """:class:`PairedCost` of ``variant`` over ``base``."""
    base_msg, variant_msg = cpu_us_per_delivered_msg(base), cpu_us_per_delivered_msg(variant)
    base_req, variant_req = cpu_us_per_http_request(base), cpu_us_per_http_request(variant)
    return PairedCost(
        base_per_msg=base_msg,
        variant_per_msg=variant_msg,
        extra_per_msg=_difference(variant_msg, base_msg),
        base_per_request=base_req,
        variant_per_request=variant_req,
        extra_per_request=_difference(variant_req, base_req),
    )
