"""Gate thresholds from TOML: ``[tool.pushbench.gate]`` in ``pyproject.toml``, or a file of its own.

.. code-block:: toml

    [tool.pushbench.gate]
    slo = ["ws.latency_us.p99<=5000", "*.lost==0"]
    max_regression = 20                     # percent
    baseline = "benchmarks/baseline.json"   # relative to this file
    regression_metrics = ["latency_us.p99", "throughput_msgs_per_s"]   # default: all

    [tool.pushbench.gate.noise_floor]
    "latency_us.p99" = 2000                 # µs; values below count as this

A file other than ``pyproject.toml`` may hold the same keys at its top level instead. Unknown
keys are errors: a typo must not silently switch a check off.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pushbench.gate.checks import REGRESSION_METRICS, GateInputError, RegressionMetric

__all__ = ["GateConfig", "find_pyproject", "load_gate_config", "parse_gate_config"]

_KEYS: Final = ("slo", "max_regression", "baseline", "regression_metrics", "noise_floor")


@dataclass(frozen=True, slots=True)
class GateConfig:
    """Gate settings; command-line options add to (``slo``) or override (the rest) these."""

    slo: tuple[str, ...] = ()
    max_regression_pct: float | None = None
    baseline: Path | None = None
    """Relative paths in a config file are resolved against the file's folder."""
    regression_metrics: tuple[RegressionMetric, ...] = REGRESSION_METRICS
    source: Path | None = field(default=None, compare=False)
    """The file these settings came from."""


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` or its parents, as ruff and pytest look."""
    for folder in (start.resolve(), *start.resolve().parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _table(data: Mapping[str, Any], path: Path) -> Mapping[str, Any] | None:
    tool = data.get("tool", {})
    pushbench = tool.get("pushbench", {}) if isinstance(tool, dict) else {}
    gate = pushbench.get("gate") if isinstance(pushbench, dict) else None
    if gate is not None:
        if not isinstance(gate, dict):
            raise GateInputError(f"{path}: [tool.pushbench.gate] must be a table")
        return gate
    if path.name == "pyproject.toml":
        return None
    return {k: v for k, v in data.items() if k != "tool"}


def parse_gate_config(table: Mapping[str, Any], source: Path) -> GateConfig:
    """Validate a gate table (already parsed from TOML) read from ``source``.

    Raises:
        GateInputError: Unknown keys or values of the wrong type; the message names the file.
    """
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise GateInputError(
            f"{source}: unknown gate setting(s) {', '.join(unknown)}; known: {', '.join(_KEYS)}"
        )
    slo = table.get("slo", [])
    slo = [slo] if isinstance(slo, str) else slo
    if not isinstance(slo, list) or not all(isinstance(s, str) for s in slo):
        raise GateInputError(f"{source}: slo must be a list of strings")
    max_regression = table.get("max_regression")
    if max_regression is not None and (
        isinstance(max_regression, bool)
        or not isinstance(max_regression, int | float)
        or max_regression < 0
    ):
        raise GateInputError(f"{source}: max_regression must be a number of percent >= 0")
    baseline = table.get("baseline")
    if baseline is not None and not isinstance(baseline, str):
        raise GateInputError(f"{source}: baseline must be a path (a string)")
    return GateConfig(
        slo=tuple(slo),
        max_regression_pct=None if max_regression is None else float(max_regression),
        baseline=None if baseline is None else source.parent / baseline,
        regression_metrics=_regression_metrics(table, source),
        source=source,
    )


def _regression_metrics(table: Mapping[str, Any], source: Path) -> tuple[RegressionMetric, ...]:
    known = {m.metric: m for m in REGRESSION_METRICS}
    names = table.get("regression_metrics", list(known))
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise GateInputError(f"{source}: regression_metrics must be a list of strings")
    floors = table.get("noise_floor", {})
    if not isinstance(floors, dict):
        raise GateInputError(f"{source}: noise_floor must be a table of metric = number")
    for name in [*names, *floors]:
        if name not in known:
            raise GateInputError(
                f"{source}: {name!r} is not a regression metric; known: {', '.join(known)}"
            )
    for name, floor in floors.items():
        if isinstance(floor, bool) or not isinstance(floor, int | float) or floor < 0:
            raise GateInputError(f"{source}: noise_floor {name!r} must be a number >= 0")
    return tuple(
        dataclasses.replace(known[n], noise_floor=float(floors.get(n, known[n].noise_floor)))
        for n in names
    )


def load_gate_config(path: Path) -> GateConfig:
    """Read gate settings from ``path`` (a ``pyproject.toml`` or a gate TOML file).

    A ``pyproject.toml`` without ``[tool.pushbench.gate]`` gives the empty config.

    Raises:
        GateInputError: The file is missing, not TOML, or holds invalid settings.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GateInputError(f"{path}: cannot read gate config: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GateInputError(f"{path}: not valid TOML: {exc}") from None
    table = _table(data, path)
    return GateConfig(source=path) if table is None else parse_gate_config(table, path)
