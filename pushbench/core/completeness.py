"""Whether a run measured everything it set out to: the one definition of "run complete".

The gate's first check, the exit codes of ``compare`` and ``sweep``, and the reports' badge and
verdict all read :func:`incomplete_reasons`, so a run can not be complete for one of them and
incomplete for another. A run is incomplete when it was interrupted, when it recorded a
run-level error, when any scenario recorded an error, or when a scenario's publishers attempted
messages they never sent (a target that died mid-run): its numbers then cover less than its
schedule, whatever its ``delivered`` and ``lost`` say about the messages that were sent.

Scenario errors stay in their scenarios (where they happened) and are read from there: they are
not copied into the run's ``errors``, which hold what failed outside any one scenario.
"""

from __future__ import annotations

from pushbench.core.schema import ResultsDocument, Scenario

__all__ = ["incomplete_reasons", "is_complete", "scenario_reasons"]


def incomplete_reasons(document: ResultsDocument) -> list[str]:
    """Why ``document`` is not a complete run, one line each; empty when it is complete.

    Example:
        >>> incomplete_reasons(killed_target_run)  # doctest: +SKIP
        ['ws: 399 of 640 publishes failed', 'ws: publishing failed 1.2 s into the schedule ...']
    """
    reasons: list[str] = []
    if document.interrupted:
        reasons.append("interrupted: the results are partial")
    reasons += [f"run error: {_first_line(error)}" for error in document.errors]
    for scenario in document.scenarios:
        reasons += scenario_reasons(scenario)
    return reasons


def is_complete(document: ResultsDocument) -> bool:
    """Whether ``document`` has no reason to be incomplete (see :func:`incomplete_reasons`)."""
    return not incomplete_reasons(document)


def scenario_reasons(scenario: Scenario) -> list[str]:
    """Why one scenario makes its run incomplete: failed publishes, its first error."""
    reasons = []
    if scenario.publishes_failed:
        failed, attempted = scenario.publishes_failed, scenario.publishes_attempted or 0
        reasons.append(f"{scenario.name}: {failed:,} of {attempted:,} publishes failed")
    if scenario.errors:
        more = len(scenario.errors) - 1
        text = f"{scenario.name}: {_first_line(scenario.errors[0])}"
        if more:
            text += f" (and {more} more error{'s' if more > 1 else ''})"
        reasons.append(text)
    return reasons


def _first_line(text: str) -> str:
    """An error's headline: some carry a server log tail on the lines after it."""
    return text.strip().split("\n", 1)[0]
