"""Which flavor of the reference server a scenario measured, and how its name says so (pure).

A run that measures both flavors names each scenario ``<scenario>@<flavor>`` (``ws@asgi``,
``short-poll@0.1@fastapi``) so names stay unique, and records the flavor in the scenario's
``params["flavor"]``: the params are the truth, the name suffix is for people and SLOs. A
scenario without ``params["flavor"]`` (a ``--target`` run, or a document written before
flavors) has no flavor.
"""

from __future__ import annotations

from collections.abc import Iterable

from pushbench.core.schema import Scenario
from pushbench.core.server_config import FLAVORS

__all__ = [
    "DEFAULT_FLAVOR",
    "FLAVORS",
    "base_name",
    "flavor_of",
    "flavored_name",
    "flavors_in",
    "split_flavor",
]

#: The flavor a server started without ``--flavor`` runs (``ServerConfig.flavor``): the app
#: documents written before flavors measured.
DEFAULT_FLAVOR = "asgi"
_SEPARATOR = "@"


def flavored_name(name: str, flavor: str) -> str:
    """``ws`` under ``fastapi`` → ``ws@fastapi``."""
    return f"{name}{_SEPARATOR}{flavor}"


def flavor_of(scenario: Scenario) -> str | None:
    """The flavor the scenario's params record, or None."""
    return scenario.typed_params.flavor


def split_flavor(text: str) -> tuple[str, str | None]:
    """``short-poll@0.1@asgi`` → ``("short-poll@0.1", "asgi")``; no known flavor at the end:
    ``(text, None)`` (``short-poll@0.1`` keeps its interval)."""
    head, separator, tail = text.rpartition(_SEPARATOR)
    if separator and head and tail in FLAVORS:
        return head, tail
    return text, None


def base_name(scenario: Scenario) -> str:
    """The scenario's name without its flavor suffix: ``ws@asgi`` → ``ws``."""
    flavor = flavor_of(scenario)
    suffix = _SEPARATOR + flavor if flavor else ""
    if suffix and scenario.name.endswith(suffix) and len(scenario.name) > len(suffix):
        return scenario.name[: -len(suffix)]
    return scenario.name


def flavors_in(scenarios: Iterable[Scenario]) -> list[str]:
    """The flavors the scenarios record, in first-seen order."""
    return list(dict.fromkeys(f for s in scenarios if (f := flavor_of(s)) is not None))
