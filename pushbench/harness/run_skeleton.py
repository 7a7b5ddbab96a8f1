"""The run skeleton ``compare``, ``serverbench`` and ``sweep`` share: one results document in a
fresh run directory, rewritten as scenarios come in, written whole however the run ends.

Each command plans and measures in its own way; what they have in common is here, once:
:func:`start_run` (run id, run directory, the document's header, a first ``results.json``),
:class:`RunState` (what the run has gathered; :meth:`RunState.save` after every step, so a
crash loses at most the step under way), :func:`record_run` (Ctrl-C ends the run early and
marks it interrupted; on any ending, failures included, the document is written with its end
time before the exception goes on), :class:`RunOutcome` (the one return convention) and
:class:`RunProgress` (the one set of callbacks a CLI implements to show progress).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pushbench.core.schema import Kind, ResultsDocument, Scenario, write_results_atomic
from pushbench.harness.environment import environment
from pushbench.harness.run_dir import new_run_dir, new_run_id

__all__ = ["RESULTS_NAME", "RunOutcome", "RunProgress", "RunState", "record_run", "start_run"]

#: The results document's file name in the run directory.
RESULTS_NAME = "results.json"


class RunProgress:
    """Callbacks a command's CLI implements to show its run going; all optional.

    A run is a sequence of steps (``compare``: a scenario; ``sweep``: a configuration), each
    perhaps in phases (``sweep``: a workload; ``serverbench``, which has no steps: each round
    of each measurement, in words).
    """

    def step_started(self, index: int, total: int, label: str, eta_s: float | None = None) -> None:
        """A step begins; ``eta_s`` estimates the rest of the run, this step included."""

    def step_progress(self, fraction: float) -> None:
        """Fraction of the current step done (``compare``: of its publishing schedule)."""

    def phase_started(self, what: str) -> None:
        """A phase of the current step begins."""

    def step_finished(
        self, label: str, scenarios: Sequence[Scenario], errors: Sequence[str]
    ) -> None:
        """A step's scenarios are in (``errors``: it failed, perhaps part-way)."""

    def step_skipped(self, label: str, reason: str) -> None:
        """A planned step did not run."""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended: the document as last written, and the directory it is in."""

    document: ResultsDocument
    run_dir: Path

    @property
    def results_path(self) -> Path:
        """``run_dir/results.json``."""
        return self.run_dir / RESULTS_NAME


@dataclass(slots=True)
class RunState:
    """What a run has gathered so far; :meth:`snapshot` is the document it makes."""

    document: ResultsDocument
    """The document as started: kind, run id, start time, environment."""
    run_dir: Path
    config: dict[str, Any]
    """The run's configuration, which the run may complete as it goes (``sweep``: the Redis it
    used, the configurations the budget skipped)."""
    scenarios: list[Scenario] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    derived: Callable[[list[Scenario]], dict[str, Any]] | None = None
    """Document fields computed from the scenarios on every snapshot (``compare``: the
    framework tax)."""

    def snapshot(self, finished: bool = False) -> ResultsDocument:
        """The document as it stands; ``finished``: with its end time."""
        update: dict[str, Any] = {
            "config": dict(self.config),
            "scenarios": list(self.scenarios),
            "warnings": list(self.warnings),
            "errors": list(self.errors),
            "interrupted": self.interrupted,
        }
        if finished:
            update["finished_at"] = datetime.now(UTC)
        if self.derived is not None:
            update |= self.derived(self.scenarios)
        return self.document.model_copy(update=update)

    def save(self, finished: bool = False) -> ResultsDocument:
        """Write :meth:`snapshot` to ``results.json`` (atomically) and return it."""
        document = self.snapshot(finished)
        write_results_atomic(document, self.run_dir / RESULTS_NAME)
        return document


def start_run(
    kind: Kind,
    config: dict[str, Any],
    out: Path,
    *,
    warnings: Sequence[str] = (),
    derived: Callable[[list[Scenario]], dict[str, Any]] | None = None,
) -> RunState:
    """A new run of ``kind`` in a fresh ``out/<run-id>/``, its first ``results.json`` written
    (no scenarios yet), so the run directory always holds a valid document."""
    run_id = new_run_id(kind)
    run_dir = new_run_dir(out, run_id)
    document = ResultsDocument(
        kind=kind,
        run_id=run_id,
        started_at=datetime.now(UTC),
        environment=environment(),
        config=config,
        scenarios=[],
    )
    state = RunState(document, run_dir, config, warnings=list(warnings), derived=derived)
    state.save()
    return state


def record_run(state: RunState, body: Callable[[], object]) -> RunOutcome:
    """Run ``body`` to the end of the run, then write the document with its end time.

    Ctrl-C (``KeyboardInterrupt``) ends the run early: the document says it was interrupted and
    keeps every scenario gathered. Any other exception propagates, after the document as it
    stands is written.
    """
    try:
        body()
    except KeyboardInterrupt:
        state.interrupted = True
    finally:
        document = state.save(finished=True)
    return RunOutcome(document, state.run_dir)
