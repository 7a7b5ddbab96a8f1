"""pushbench inside Locust: options, report shipping, the stop protocol, the results document.

Importing this module registers its listeners on ``locust.events`` (as a locustfile would).

Exact percentiles across workers: every ``report_to_master`` carries each name's *delta*
HdrHistogram (encoded); the master adds bucket counts as reports arrive. Locust's own stats,
rounded into buckets and merged as such, stay untouched next to them.

Ending a test without losing or inventing messages (master, or a local runner, on
``test_stopping``, i.e. before Locust stops any user):

1. ``pushbench:stop-load`` → every worker stops its publishers and echo users and answers
   ``pushbench:sent`` with each publisher's sent count.
2. ``pushbench:drain`` (all sent counts) → every worker waits until its subscribers have each
   publisher's last message (or ``--drain-timeout``), finishes their integrity counts against
   the sent counts, and answers ``pushbench:final`` with its last report. Samples after that
   are not recorded.
3. On ``test_stop`` the master writes ``results.json`` (``kind: locust``) and the report.

Intervals line up across processes: on ``test_start`` the master (or local runner) takes the
test start on ``CLOCK_MONOTONIC`` as the intervals' origin and puts it into
``parsed_options``, which Locust ships to every worker with its spawn message, before the
worker's own ``test_start``; every process buckets against that origin.

Each wait is bounded: a worker that does not answer is named in the document's errors.
"""

from __future__ import annotations

import logging
import sys
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment
from locust.rpc import Message
from locust.runners import STATE_MISSING, LocalRunner, MasterRunner, Runner, WorkerRunner

from pushbench.core.kinds import Transport
from pushbench.core.schema import ResultsDocument
from pushbench.core.target_profile import ProfileError
from pushbench.gate.checks import GateInputError, Slo
from pushbench.harness.environment import environment as host_environment
from pushbench.harness.run_dir import new_run_dir, new_run_id
from pushbench.locust import webui
from pushbench.locust.aggregate import SwarmAggregate
from pushbench.locust.envelopes import clock_id, now_ns
from pushbench.locust.live import Row, live_rows
from pushbench.locust.node import Node
from pushbench.locust.options import ORIGIN_ATTRIBUTE, LoadOptions, OptionsError, add_arguments
from pushbench.locust.results import write_run
from pushbench.locust.slo import EXIT_SLO_FAILED, check_slos, parse_slos, report_lines

__all__ = ["MSG_DRAIN", "MSG_FINAL", "MSG_SENT", "MSG_STOP_LOAD", "REPORT_KEY", "node_of"]

logger = logging.getLogger("pushbench")

REPORT_KEY = "pushbench"
MSG_STOP_LOAD = "pushbench:stop-load"
MSG_SENT = "pushbench:sent"
MSG_DRAIN = "pushbench:drain"
MSG_FINAL = "pushbench:final"

#: How long the master waits for every worker to stop its load and answer.
STOP_LOAD_TIMEOUT_S = 10.0
#: Extra time, past the drain itself, for the final reports to arrive.
FINAL_GRACE_S = 10.0
_POLL_S = 0.02

_nodes: weakref.WeakKeyDictionary[Environment, Node] = weakref.WeakKeyDictionary()


def node_of(environment: Environment) -> Node:
    """This process's :class:`Node` (created on first use, e.g. by a user started early)."""
    node = _nodes.get(environment)
    if node is None:
        node = _nodes[environment] = Node(_options(environment), _role(environment.runner))
    return node


def _options(environment: Environment) -> LoadOptions:
    try:
        return LoadOptions.from_namespace(environment.parsed_options)
    except OptionsError as exc:
        logger.error("pushbench: %s", exc)
        raise


def _role(runner: Runner | None) -> str:
    if isinstance(runner, MasterRunner):
        return "master"
    if isinstance(runner, WorkerRunner):
        return "worker"
    return "local"


def _wait_until(done: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() >= deadline:
            return False
        # Re-tests the condition; the (cooperative, monkey-patched) sleep only paces it.
        time.sleep(_POLL_S)
    return True


class _Coordinator:
    """The master's (or local runner's) view of one test: merged results and the stop protocol."""

    def __init__(self, environment: Environment, options: LoadOptions, origin_ns: int) -> None:
        self.environment = environment
        self.options = options
        self.slos = _slos(environment)
        self.aggregate = SwarmAggregate(origin_ns, options.interval_ns, clock_id())
        self.started_at = datetime.now(UTC)
        self.started = time.monotonic()
        self.load_stopped: float | None = None
        self.load_stopped_ns = 0
        """When the load stopped on ``CLOCK_MONOTONIC``: where the intervals end."""
        self.sent_replies: dict[str, dict[str, int]] = {}
        self.finals: set[str] = set()
        self.errors: list[str] = []
        self.written = False
        self.run_dir: Path | None = None
        """Where ``results.json`` (and the report) went, once written."""
        self.interrupted = False
        """Locust began quitting before the test stopped (Ctrl-C): results are partial."""

    @property
    def duration_s(self) -> float:
        """From test start to when the load stopped (or now)."""
        end = self.load_stopped if self.load_stopped is not None else time.monotonic()
        return end - self.started

    def stop_local(self, node: Node) -> None:
        sent = node.stop_load()
        self.load_stopped, self.load_stopped_ns = time.monotonic(), now_ns()
        node.drain(sent, self.options.drain_s)
        self.aggregate.add("local", node.final_report(sent))
        self.aggregate.closed = True

    def stop_distributed(self, runner: MasterRunner) -> None:
        workers = {client.id for client in runner.clients.all if client.state != STATE_MISSING}
        self.load_stopped, self.load_stopped_ns = time.monotonic(), now_ns()
        if not workers:  # every worker is gone: whatever they reported is all there is
            self.errors.append("no worker was connected at the end of the test")
            self.aggregate.closed = True
            return
        runner.send_message(MSG_STOP_LOAD)
        if not _wait_until(lambda: workers <= self.sent_replies.keys(), STOP_LOAD_TIMEOUT_S):
            missing = sorted(workers - self.sent_replies.keys())
            self.errors.append(f"workers did not stop their load in time: {', '.join(missing)}")
        sent: dict[str, int] = {}
        for counts in self.sent_replies.values():
            sent.update(counts)
        drain_s = self.options.drain_s
        runner.send_message(MSG_DRAIN, {"sent": sent, "drain_s": drain_s})
        if not _wait_until(lambda: workers <= self.finals, drain_s + FINAL_GRACE_S):
            missing = sorted(workers - self.finals)
            self.errors.append(
                f"no final report from workers {', '.join(missing)}: their last measurements "
                "are missing"
            )
        self.aggregate.closed = True

    def document(self) -> ResultsDocument:
        environment = self.environment
        parsed = environment.parsed_options
        runner = environment.runner
        config: dict[str, Any] = {
            **self.options.as_config(),
            "host": environment.host,
            "users": getattr(parsed, "num_users", None),
            "spawn_rate": getattr(parsed, "spawn_rate", None),
            "run_time_s": getattr(parsed, "run_time", None),
            "user_classes": dict(getattr(runner, "final_user_classes_count", {}) or {}),
            "latency_clock": "CLOCK_MONOTONIC of the publisher's host",
        }
        skipped = node_of(environment).skipped_users
        if skipped:
            config["skipped"] = dict(skipped)
        run_dir = self.options.pushbench_run_dir
        return self.aggregate.document(
            run_id=Path(run_dir).name if run_dir else new_run_id("locust"),
            started_at=self.started_at,
            finished_at=datetime.now(UTC),
            duration_s=self.duration_s,
            environment=host_environment(),
            config=config,
            errors=self.errors,
            interrupted=self.interrupted,
            end_ns=self.load_stopped_ns,
        )

    def write(self) -> Path | None:
        """Write ``results.json`` (and the report) once; returns its directory."""
        if self.written:
            return None
        self.written = True
        document = self.document()
        options = self.options
        if options.pushbench_run_dir:
            run_dir = Path(options.pushbench_run_dir)
        else:
            run_dir = new_run_dir(Path(options.pushbench_out), document.run_id)
        path = write_run(document, run_dir, report=not options.pushbench_no_report)
        self.run_dir = run_dir
        logger.info("pushbench: results in %s", path)
        self.check_slos(document)
        return run_dir

    def check_slos(self, document: ResultsDocument) -> None:
        """``--pushbench-slo``: a missed SLO sets Locust's exit code (a met one leaves Locust's
        own rule, ``--exit-code-on-error`` on failed requests, in place)."""
        if not self.slos:
            return
        report = check_slos(document, self.slos)
        log = logger.info if report.passed else logger.error
        for line in report_lines(report):
            log("pushbench: %s", line)
        if not report.passed:
            self.environment.process_exit_code = EXIT_SLO_FAILED


_coordinators: weakref.WeakKeyDictionary[Environment, _Coordinator] = weakref.WeakKeyDictionary()


def _on_parser(parser: Any, **_: Any) -> None:
    add_arguments(parser)


def _slos(environment: Environment) -> list[Slo]:
    return parse_slos(getattr(environment.parsed_options, "pushbench_slo", None))


def _live_rows(environment: Environment, report: str | None) -> list[Row]:
    coordinator = _coordinators.get(environment)
    if coordinator is None:  # no test started yet
        return live_rows(SwarmAggregate(), 0.0, None)
    return live_rows(coordinator.aggregate, coordinator.duration_s, report)


def _report_file(environment: Environment) -> Path | None:
    coordinator = _coordinators.get(environment)
    if coordinator is None or coordinator.run_dir is None:
        return None
    path = coordinator.run_dir / "report.html"
    return path if path.is_file() else None


def _on_init(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if environment.web_ui is not None:
        webui.install(
            environment,
            rows=lambda report: _live_rows(environment, report),
            report=lambda: _report_file(environment),
        )
    if not isinstance(runner, WorkerRunner):
        try:  # before any load: a typo in an SLO must not cost a whole run
            _slos(environment)
        except GateInputError as exc:
            logger.error("pushbench: --pushbench-slo: %s", exc)
            # SystemExit passes through Locust's event hook (an Exception would be logged only).
            sys.exit(2)
    try:
        node = node_of(environment)
    except ProfileError as exc:
        logger.error("pushbench: --pushbench-profile: %s", exc)
        sys.exit(2)
    _apply_profile(environment, node)
    _apply_publisher_count(environment, node.options)
    if isinstance(runner, MasterRunner):
        runner.register_message(MSG_SENT, _on_sent)
        runner.register_message(MSG_FINAL, _on_final)
    elif isinstance(runner, WorkerRunner):
        runner.register_message(MSG_STOP_LOAD, _on_stop_load)
        runner.register_message(MSG_DRAIN, _on_drain, concurrent=True)


def _apply_profile(environment: Environment, node: Node) -> None:
    """``--pushbench-profile``: leave out the user classes whose transport the app does not
    offer, each with the reason (logged, and in the results' ``config.skipped``), never faked.
    A class named on the command line that cannot run is refused instead: it was asked for."""
    adapter = node.adapter
    if adapter is None:
        return
    offered = adapter.offered()
    receives = any(transport != Transport.ECHO for transport in offered)
    named = set(getattr(environment.parsed_options, "user_classes", None) or ())
    kept: list[type[Any]] = []
    for user_class in environment.user_classes:
        needs = getattr(user_class, "pushbench_needs", "")
        if not needs or (receives if needs == "publish" else needs in offered):
            kept.append(user_class)
            continue
        what = "receiver (nothing to publish to)" if needs == "publish" else f"{needs} endpoint"
        reason = f"{adapter.name!r} offers no {what}"
        if user_class.__name__ in named:
            logger.error("pushbench: %s cannot run: %s", user_class.__name__, reason)
            sys.exit(2)
        node.skipped_users[user_class.__name__] = reason
        logger.warning("pushbench: %s left out: %s", user_class.__name__, reason)
    if not kept:
        logger.error("pushbench: no user class can run against %r", adapter.name)
        sys.exit(2)
    environment.user_classes[:] = kept


def _apply_publisher_count(environment: Environment, options: LoadOptions) -> None:
    # --publishers is the fixed_count of every user class that says it publishes.
    for user_class in environment.user_classes:
        if getattr(user_class, "pushbench_role", None) == "publisher":
            user_class.fixed_count = options.publishers


def _on_test_start(environment: Environment, **_: Any) -> None:
    options = _options(environment)
    node = node_of(environment)
    parsed = environment.parsed_options
    if isinstance(environment.runner, WorkerRunner):
        # The master's test start, shipped with the spawn message (None: an older master).
        node.start(options, getattr(parsed, ORIGIN_ATTRIBUTE, None))
        return
    origin_ns = now_ns()
    if parsed is not None:  # travels to every worker with each spawn message
        setattr(parsed, ORIGIN_ATTRIBUTE, origin_ns)
    node.start(options, origin_ns)
    _apply_publisher_count(environment, options)
    _coordinators[environment] = _Coordinator(environment, options, origin_ns)


def _on_test_stopping(environment: Environment, **_: Any) -> None:
    coordinator = _coordinators.get(environment)
    runner = environment.runner
    if coordinator is None or coordinator.load_stopped is not None:
        return
    if isinstance(runner, MasterRunner):
        coordinator.stop_distributed(runner)
    elif isinstance(runner, LocalRunner):
        coordinator.stop_local(node_of(environment))


def _on_test_stop(environment: Environment, **_: Any) -> None:
    coordinator = _coordinators.get(environment)
    if coordinator is None or coordinator.written:
        return
    if coordinator.load_stopped is None:  # stopped without test_stopping (should not happen)
        _on_test_stopping(environment)
    coordinator.write()


def _on_quitting(environment: Environment, **_: Any) -> None:
    # In a normal end the results are already written; quitting first means an interruption.
    coordinator = _coordinators.get(environment)
    if coordinator is not None and not coordinator.written:
        coordinator.interrupted = True
        if coordinator.slos:  # Locust takes its exit code now, before the results exist
            logger.error("pushbench: interrupted before the results were written: SLOs not met")
            environment.process_exit_code = EXIT_SLO_FAILED


def _on_report_to_master(client_id: str, data: dict[str, Any], **_: Any) -> None:
    for environment, node in list(_nodes.items()):
        if isinstance(environment.runner, WorkerRunner) and node.recorder.recording:
            data[REPORT_KEY] = node.recorder.take_report()


def _on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    report = data.get(REPORT_KEY)
    if report is None:
        return
    for coordinator in list(_coordinators.values()):
        coordinator.aggregate.add(client_id, report)


def _on_sent(environment: Environment, msg: Message, **_: Any) -> None:
    coordinator = _coordinators.get(environment)
    if coordinator is not None:
        coordinator.sent_replies[msg.node_id] = dict(msg.data["sent"])


def _on_final(environment: Environment, msg: Message, **_: Any) -> None:
    coordinator = _coordinators.get(environment)
    if coordinator is not None and msg.node_id not in coordinator.finals:
        coordinator.aggregate.add(msg.node_id, msg.data)
        coordinator.finals.add(msg.node_id)


def _on_stop_load(environment: Environment, msg: Message, **_: Any) -> None:
    sent = node_of(environment).stop_load()
    assert environment.runner is not None
    environment.runner.send_message(MSG_SENT, {"sent": sent})


def _on_drain(environment: Environment, msg: Message, **_: Any) -> None:
    node = node_of(environment)
    sent: dict[str, int] = msg.data["sent"]
    node.drain(sent, float(msg.data["drain_s"]))
    report = node.final_report(sent)
    assert environment.runner is not None
    environment.runner.send_message(MSG_FINAL, dict(report))


# Registered at import, as a locustfile's own listeners are.
_LISTENERS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("init_command_line_parser", _on_parser),
    ("init", _on_init),
    ("test_start", _on_test_start),
    ("test_stopping", _on_test_stopping),
    ("test_stop", _on_test_stop),
    ("quitting", _on_quitting),
    ("report_to_master", _on_report_to_master),
    ("worker_report", _on_worker_report),
)
for _event, _listener in _LISTENERS:
    _hook: Any = getattr(events, _event)  # EventHook.add_listener is untyped
    _hook.add_listener(_listener)
