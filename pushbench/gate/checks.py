"""The CI gate: service-level objectives and baseline regressions, decided from results alone.

Pure: documents in, :class:`GateReport` out; reading files and printing live in
:mod:`pushbench.cli.report`, reading thresholds in :mod:`pushbench.gate.config`.

**Run complete** is always the first check: an interrupted run, a run-level or scenario error,
or publishes attempted but never sent fail it (:mod:`pushbench.core.completeness` defines it), so
no SLO or baseline can pass numbers that cover less than the run's schedule.

**SLOs** are ``<scenario>.<metric><op><number>``, e.g. ``ws.latency_us.p99<=5000``,
``short-poll@0.1.lost==0``, ``ws@fastapi.throughput_msgs_per_s>=20000``. ``<scenario>`` is a
scenario name, a transport that names exactly one scenario, or ``*`` for every scenario that has
the metric; any of them may end in ``@<flavor>`` (``ws@fastapi``, ``short-poll@0.1@asgi``,
``*@asgi``) to address that server flavor's scenarios only. Without a flavor, a name or
transport measured under several flavors addresses each of them (``ws`` checks ``ws@asgi`` and
``ws@fastapi``), so SLOs written before flavors keep working. ``<metric>`` is one of
:data:`METRICS` (the schema's field paths, units in the name); ``<op>`` is one of
``<= < >= > == !=``.

**Baseline regressions** compare each scenario present in both documents by *ratio*
current / baseline, never by absolute times alone, for the metrics of
:data:`REGRESSION_METRICS`: latency p50 and p99, server CPU µs per delivered message and HTTP
requests per delivered message must not grow by more than ``max_regression_pct``; throughput
must not drop by more than it. A baseline scenario without a flavor (written before flavors) is
matched with the same scenario under the default flavor (``ws`` with ``ws@asgi``). Noise: every
value below its metric's noise floor counts as the floor, so sub-millisecond jitter (312 µs → 480
µs) is not a "54 % regression", while a real jump past the floor still is; when both values are
below it the check is skipped.
"""

from __future__ import annotations

import enum
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from pushbench.core.completeness import incomplete_reasons
from pushbench.core.scenario_flavor import (
    DEFAULT_FLAVOR,
    base_name,
    flavor_of,
    flavored_name,
    split_flavor,
)
from pushbench.core.scenario_metrics import METRICS
from pushbench.core.scenario_params import MEASURED_PARAMS
from pushbench.core.schema import ResultsDocument, Scenario
from pushbench.gate.environment import environment_warning

__all__ = [
    "DEFAULT_MAX_REGRESSION_PCT",
    "METRICS",
    "REGRESSION_METRICS",
    "CheckKind",
    "CheckResult",
    "GateInputError",
    "GateReport",
    "RegressionMetric",
    "Slo",
    "Verdict",
    "compare_to_baseline",
    "completeness_check",
    "describe_regression_method",
    "evaluate_slos",
    "gate_rows",
    "parse_slo",
    "run_gate",
]

#: Allowed growth (or, for throughput, drop) against the baseline when none is configured, in %.
DEFAULT_MAX_REGRESSION_PCT: Final = 20.0
#: Reasons of an incomplete run the ``run complete`` row spells out; the rest are counted.
_MAX_REASONS_LISTED: Final = 5


class GateInputError(ValueError):
    """The gate cannot run: a malformed SLO, unknown metric, ambiguous scenario or bad config."""


class Verdict(enum.Enum):
    """The outcome of one check."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    """Not decidable from these numbers (below the noise floor, not measured): not a failure."""


class CheckKind(enum.Enum):
    """Where a check comes from."""

    RUN = "run"
    SLO = "slo"
    REGRESSION = "regression"


_OPS: Final[Mapping[str, Callable[[float, float], bool]]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_SLO_RE: Final = re.compile(r"^\s*(?P<lhs>[^<>=!\s]+)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<num>\S+)\s*$")


@dataclass(frozen=True, slots=True)
class Slo:
    """A parsed SLO expression."""

    scenario: str
    """A scenario name, a transport, or ``*``."""
    metric: str
    op: str
    limit: float
    text: str
    """The expression as written, normalised: ``ws.latency_us.p99 <= 5000``."""

    @property
    def limit_text(self) -> str:
        """The limit as written, with its operator: ``<= 5000``."""
        return self.text.rsplit(" ", 2)[-2] + " " + self.text.rsplit(" ", 1)[-1]


def parse_slo(text: str) -> Slo:
    """Parse ``<scenario>.<metric><op><number>``.

    Raises:
        GateInputError: The expression is malformed or names an unknown metric; the message
            shows the expected form or the known metrics.
    """
    match = _SLO_RE.match(text)
    if match is None:
        raise GateInputError(
            f"bad SLO {text!r}: expected <scenario>.<metric><op><number> with op one of "
            f"{' '.join(_OPS)}, e.g. 'ws.latency_us.p99<=5000'"
        )
    lhs, op, number = match["lhs"], match["op"], match["num"]
    try:
        limit = float(number)
    except ValueError:
        raise GateInputError(f"bad SLO {text!r}: {number!r} is not a number") from None
    if not math.isfinite(limit):
        raise GateInputError(f"bad SLO {text!r}: the limit must be a finite number")
    # Scenario names may contain dots (short-poll@0.1), metric paths are known: split on the
    # longest known metric the expression ends with.
    for metric in sorted(METRICS, key=len, reverse=True):
        if lhs.endswith("." + metric) and len(lhs) > len(metric) + 1:
            scenario = lhs[: -len(metric) - 1]
            return Slo(scenario, metric, op, limit, f"{scenario}.{metric} {op} {number}")
    raise GateInputError(
        f"bad SLO {text!r}: no known metric after the scenario name; metrics: {', '.join(METRICS)}"
    )


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One row of the gate's table."""

    kind: CheckKind
    check: str
    """What was checked, e.g. ``ws.latency_us.p99 <= 5000`` or ``ws latency_us.p99 vs baseline``."""
    measured: str
    limit: str
    verdict: Verdict
    detail: str = ""
    """Why, when the row alone does not say (skips, missing scenarios, baseline values)."""


@dataclass(frozen=True, slots=True)
class GateReport:
    """Every check and the notes a reader needs; :attr:`passed` decides the exit code."""

    checks: tuple[CheckResult, ...]
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    """What makes the verdict less comparable (a baseline from another environment)."""

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.verdict is Verdict.FAIL)

    @property
    def passed(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> int:
        """0 when every check holds, 1 when any fails (2, unusable input, is raised instead)."""
        return 0 if self.passed else 1


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"


def _is_wildcard(selector: str) -> bool:
    return split_flavor(selector)[0] == "*"


def _select(document: ResultsDocument, selector: str) -> list[Scenario] | None:
    """Scenarios a selector names; ``None`` when it names none."""
    if selector == "*":
        return list(document.scenarios)
    named = [s for s in document.scenarios if s.name == selector]
    if named:
        return named
    wanted, flavor = split_flavor(selector)
    pool = [s for s in document.scenarios if flavor is None or flavor_of(s) == flavor]
    if wanted == "*":
        return pool or None
    # One scenario under several flavors: the selector addresses each of them.
    by_name = [s for s in pool if base_name(s) == wanted]
    if by_name:
        return by_name
    by_transport = [s for s in pool if s.transport == wanted]
    per_flavor = [flavor_of(s) for s in by_transport]
    if len(per_flavor) > len(set(per_flavor)):
        names = ", ".join(s.name for s in by_transport)
        raise GateInputError(
            f"SLO scenario {selector!r} is ambiguous: transport {wanted!r} has "
            f"{len(by_transport)} scenarios ({names}); name one"
        )
    return by_transport or None


def evaluate_slos(document: ResultsDocument, slos: Sequence[Slo]) -> list[CheckResult]:
    """One check per SLO and scenario it addresses.

    A named scenario that is missing from the document, or that has no value for the metric
    (e.g. ``ws.http_requests``), fails: the gate can not vouch for what was not measured. ``*``
    checks every scenario that has the metric, and fails only when none has.

    Raises:
        GateInputError: A transport selector matches several scenarios.
    """
    checks: list[CheckResult] = []
    for slo in slos:
        limit = slo.limit_text
        scenarios = _select(document, slo.scenario)
        if scenarios is None:
            have = ", ".join(s.name for s in document.scenarios) or "none"
            detail = f"no scenario {slo.scenario!r} in the results (scenarios: {have})"
            checks.append(
                CheckResult(CheckKind.SLO, slo.text, "missing", limit, Verdict.FAIL, detail)
            )
            continue
        found = False
        for scenario in scenarios:
            value = METRICS[slo.metric](scenario)
            name = f"{scenario.name}.{slo.metric} {limit}"
            if value is None:
                if not _is_wildcard(slo.scenario):
                    detail = (
                        f"{scenario.name} has no {slo.metric} (not measured for this transport)"
                    )
                    checks.append(
                        CheckResult(CheckKind.SLO, name, "n/a", limit, Verdict.FAIL, detail)
                    )
                continue
            found = True
            verdict = Verdict.PASS if _OPS[slo.op](float(value), slo.limit) else Verdict.FAIL
            checks.append(CheckResult(CheckKind.SLO, name, _number(value), limit, verdict))
        if _is_wildcard(slo.scenario) and not found:
            detail = f"no scenario has {slo.metric}"
            checks.append(CheckResult(CheckKind.SLO, slo.text, "n/a", limit, Verdict.FAIL, detail))
    return checks


@dataclass(frozen=True, slots=True)
class RegressionMetric:
    """A metric compared with the baseline by ratio."""

    metric: str
    higher_is_worse: bool
    noise_floor: float
    """Values below this count as this (same unit as the metric)."""


#: What baseline comparison checks, and the noise floor of each.
REGRESSION_METRICS: Final = (
    RegressionMetric("latency_us.p50", higher_is_worse=True, noise_floor=1000.0),
    RegressionMetric("latency_us.p99", higher_is_worse=True, noise_floor=1000.0),
    RegressionMetric("server.cpu_us_per_delivered_msg", higher_is_worse=True, noise_floor=5.0),
    RegressionMetric("http_requests_per_delivered_msg", higher_is_worse=True, noise_floor=0.01),
    RegressionMetric("throughput_msgs_per_s", higher_is_worse=False, noise_floor=10.0),
)


def describe_regression_method(
    max_regression_pct: float, metrics: Sequence[RegressionMetric] = REGRESSION_METRICS
) -> str:
    """One paragraph that says what the baseline comparison compares and how."""
    worse = [m for m in metrics if m.higher_is_worse]
    better = [m for m in metrics if not m.higher_is_worse]
    parts = []
    if worse:
        names = ", ".join(m.metric for m in worse)
        parts.append(f"{names} must not grow by more than {max_regression_pct:g} %")
    if better:
        names = ", ".join(m.metric for m in better)
        parts.append(f"{names} must not drop by more than {max_regression_pct:g} %")
    floors = ", ".join(f"{m.metric} {_number(m.noise_floor)}" for m in metrics)
    return (
        f"Baseline: ratio current / baseline per scenario; {'; '.join(parts)}. "
        f"Values below a noise floor count as the floor ({floors})."
    )


def _ratio_check(
    name: str, metric: RegressionMetric, base: float, current: float, max_pct: float
) -> CheckResult:
    check = f"{name} {metric.metric} vs baseline"
    floor = metric.noise_floor
    detail = f"baseline {_number(base)}, current {_number(current)}"
    if base < floor and current < floor:
        measured = f"{_number(base)} → {_number(current)}"
        detail += f"; both below the noise floor {_number(floor)}"
        return CheckResult(
            CheckKind.REGRESSION, check, measured, "noise floor", Verdict.SKIP, detail
        )
    ratio = max(current, floor) / max(base, floor)
    if metric.higher_is_worse:
        bound = 1 + max_pct / 100
        limit, ok = f"<= {bound:.2f}×", ratio <= bound
    else:
        bound = max(0.0, 1 - max_pct / 100)
        limit, ok = f">= {bound:.2f}×", ratio >= bound
    if base < floor or current < floor:
        detail += f"; values below {_number(floor)} count as {_number(floor)}"
    verdict = Verdict.PASS if ok else Verdict.FAIL
    measured = f"{ratio:.2f}× ({_number(base)} → {_number(current)})"
    return CheckResult(CheckKind.REGRESSION, check, measured, limit, verdict, detail)


def compare_to_baseline(
    document: ResultsDocument,
    baseline: ResultsDocument,
    *,
    max_regression_pct: float = DEFAULT_MAX_REGRESSION_PCT,
    metrics: Sequence[RegressionMetric] = REGRESSION_METRICS,
) -> tuple[list[CheckResult], list[str]]:
    """Ratio checks of every scenario present in both documents, matched by name.

    A baseline scenario missing from ``document`` fails (coverage was lost); a scenario new in
    ``document`` is noted. Scenarios whose ``params`` differ are still compared, with a note:
    a changed rate or fan-out moves every figure.

    Returns:
        The checks and the notes.
    """
    if max_regression_pct < 0:
        raise GateInputError(f"max regression must be >= 0 %, got {max_regression_pct:g}")
    current = {s.name: s for s in document.scenarios}
    checks: list[CheckResult] = []
    notes: list[str] = []
    matched: set[str] = set()
    for base in baseline.scenarios:
        now, ignored = current.get(base.name), set()
        if now is None and flavor_of(base) is None:
            # Written before flavors: the server then ran what is now the default flavor.
            now = current.get(flavored_name(base.name, DEFAULT_FLAVOR))
            if now is not None:
                ignored = {"flavor"}
                notes.append(
                    f"{base.name}: the baseline records no flavor; compared with {now.name}"
                )
        if now is None:
            check = f"{base.name} present"
            detail = f"scenario {base.name!r} is in the baseline but not in the results"
            checks.append(
                CheckResult(CheckKind.REGRESSION, check, "missing", "present", Verdict.FAIL, detail)
            )
            continue
        matched.add(now.name)
        changed = sorted(
            k
            for k in (base.params.keys() | now.params.keys()) - ignored - MEASURED_PARAMS
            if base.params.get(k) != now.params.get(k)
        )
        if changed:
            notes.append(
                f"{base.name}: params differ from the baseline ({', '.join(changed)}); "
                "the ratios compare unlike loads"
            )
        for metric in metrics:
            get = METRICS[metric.metric]
            before, after = get(base), get(now)
            if before is None or after is None:
                continue  # not measured for this transport, or not sampled in one run
            checks.append(
                _ratio_check(base.name, metric, float(before), float(after), max_regression_pct)
            )
    notes += [
        f"{s.name}: new scenario, no baseline to compare with"
        for s in document.scenarios
        if s.name not in matched
    ]
    if baseline.interrupted:
        notes.append("the baseline run was interrupted: its numbers are partial")
    return checks, notes


def run_gate(
    document: ResultsDocument,
    *,
    slos: Sequence[Slo] = (),
    baseline: ResultsDocument | None = None,
    max_regression_pct: float = DEFAULT_MAX_REGRESSION_PCT,
    metrics: Sequence[RegressionMetric] = REGRESSION_METRICS,
) -> GateReport:
    """Every check on ``document``: the run completed, the SLOs, and the baseline ratios.

    Raises:
        GateInputError: Unusable input (see :func:`evaluate_slos`, :func:`compare_to_baseline`).
    """
    checks = [completeness_check(document)]
    checks += evaluate_slos(document, slos)
    notes: list[str] = []
    if baseline is not None:
        found, notes = compare_to_baseline(
            document, baseline, max_regression_pct=max_regression_pct, metrics=metrics
        )
        checks += found
        notes.insert(0, describe_regression_method(max_regression_pct, metrics))
    if not slos and baseline is None:
        notes.append("no SLOs and no baseline: only the run's completeness was checked")
    warning = (
        None
        if baseline is None
        else environment_warning(document.environment, baseline.environment)
    )
    return GateReport(tuple(checks), tuple(notes), () if warning is None else (warning,))


def completeness_check(document: ResultsDocument) -> CheckResult:
    """``run complete``: fails when the run was interrupted, recorded an error (run-level or in
    any scenario) or failed to send publishes it attempted (:mod:`pushbench.core.completeness`)."""
    reasons = incomplete_reasons(document)
    if not reasons:
        return CheckResult(CheckKind.RUN, "run complete", "yes", "complete", Verdict.PASS)
    detail = "; ".join(reasons[:_MAX_REASONS_LISTED])
    if len(reasons) > _MAX_REASONS_LISTED:
        detail += f"; and {len(reasons) - _MAX_REASONS_LISTED} more (see results.json)"
    return CheckResult(CheckKind.RUN, "run complete", "no", "complete", Verdict.FAIL, detail)


def gate_rows(report: GateReport) -> list[list[str]]:
    """The gate's table: check, measured value, limit, verdict (upper case), one row a check."""
    return [[c.check, c.measured, c.limit, c.verdict.value.upper()] for c in report.checks]
