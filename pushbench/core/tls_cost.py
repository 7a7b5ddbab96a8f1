"""What TLS costs: per scenario measured plain and over TLS in one run, the difference (pure).

``compare --tls`` runs every scenario twice on fresh servers, over plain TCP and over TLS, side
by side (as it runs flavors), and names the TLS one ``<scenario>@tls`` before its flavor
(``ws@tls@asgi``, ``short-poll@0.1@tls``); ``params["tls"]`` says which is which (the params
are the truth, the name is for people and SLOs). The extra server CPU is put per delivered
message (what every transport has) and per HTTP request (what a poll costs, found or not).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from pushbench.core.paired_cost import paired_cost
from pushbench.core.scenario_flavor import base_name, flavor_of, flavored_name
from pushbench.core.schema import Scenario, TlsCost

__all__ = ["TLS_MARK", "is_tls", "plain_name", "tls_cost", "tls_name"]

#: What a TLS scenario's name carries after the scenario's own name (before any flavor).
TLS_MARK: Final = "@tls"


def tls_name(name: str) -> str:
    """``ws`` → ``ws@tls``; ``short-poll@0.1`` → ``short-poll@0.1@tls``."""
    return name + TLS_MARK


def is_tls(scenario: Scenario) -> bool:
    """Whether the scenario's params say its clients spoke TLS."""
    return scenario.typed_params.tls is True


def plain_name(scenario: Scenario) -> str:
    """The scenario's name without its TLS mark (flavor kept): ``ws@tls@asgi`` → ``ws@asgi``."""
    base = base_name(scenario)
    if is_tls(scenario) and base.endswith(TLS_MARK) and len(base) > len(TLS_MARK):
        base = base[: -len(TLS_MARK)]
    flavor = flavor_of(scenario)
    return flavored_name(base, flavor) if flavor else base


def tls_cost(scenarios: Sequence[Scenario]) -> list[TlsCost]:
    """One row per scenario measured both plain (``params.tls`` false) and over TLS, in the
    order the plain ones appear; scenarios measured one way only are left out."""
    plain = {(s.name, s.transport): s for s in scenarios if s.typed_params.tls is False}
    secure = {(plain_name(s), s.transport): s for s in scenarios if is_tls(s)}
    rows = []
    for key, lean in plain.items():
        tls = secure.get(key)
        if tls is None:
            continue
        cost = paired_cost(lean, tls)
        rows.append(
            TlsCost(
                scenario=lean.name,
                transport=lean.transport,
                flavor=flavor_of(lean),
                plain_scenario=lean.name,
                tls_scenario=tls.name,
                plain_cpu_us_per_delivered_msg=cost.base_per_msg,
                tls_cpu_us_per_delivered_msg=cost.variant_per_msg,
                extra_cpu_us_per_delivered_msg=cost.extra_per_msg,
                plain_cpu_us_per_http_request=cost.base_per_request,
                tls_cpu_us_per_http_request=cost.variant_per_request,
                extra_cpu_us_per_http_request=cost.extra_per_request,
                plain_latency_p50_us=lean.latency_us.p50,
                tls_latency_p50_us=tls.latency_us.p50,
                plain_latency_p99_us=lean.latency_us.p99,
                tls_latency_p99_us=tls.latency_us.p99,
            )
        )
    return rows
