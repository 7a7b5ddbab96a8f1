"""What each kind of results document adds to the generic report: a registry, kind → parts.

The report itself (:mod:`pushbench.report`) is the same for every run: verdict, comparison
table, framework tax, warnings, charts, metadata. A kind changes it only through the hooks of
its :class:`ReportParts` — its own verdict, charts, sections, and what its numbers mean —
instead of ``if document.kind == ...`` branches spread over the renderers.

Why registration comes from above: a kind's parts live with the command that writes that kind
(``pushbench sweep``'s in :mod:`pushbench.sweep.report`), and the commands sit above the report
in the layers contract, so this package can not import them — not even by name through
``importlib``, which would hide from import-linter a dependency that is real at run time. Each
command's report module calls :func:`register` when imported; the command imports it before it
renders its own document, and :mod:`pushbench.cli.kinds` imports every one of them for the
entry points that render any document (``pushbench report``, the README screenshot script).
The kinds whose parts need nothing above this layer are built in: ``compare`` and ``locust``
(the generic report is theirs) and ``micro`` (:mod:`.micro`: pytest-benchmark runs have no
command package). :func:`parts_for` raises for a kind nobody registered rather than render it
as a comparison, so a forgotten import fails loudly instead of silently dropping a section.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from pushbench.core.schema import Kind, ResultsDocument
from pushbench.report.micro import micro_verdict

if TYPE_CHECKING:  # charts imports matplotlib; only the hooks' types need Chart
    from pushbench.report.charts import Chart

__all__ = ["GENERIC", "ReportParts", "parts_for", "register"]


def _no_headline(_document: ResultsDocument) -> str | None:
    return None


def _no_html(_document: ResultsDocument) -> str:
    return ""


def _no_markdown(_document: ResultsDocument) -> list[str]:
    return []


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportParts:
    """How one kind of document changes the generic report; the defaults change nothing."""

    verdict: Callable[[ResultsDocument], list[str]] | None = None
    """The whole verdict, in place of the comparison and its run-state note (``micro``: time
    per call, with no deliveries to compare); None: the generic verdict."""
    headline: Callable[[ResultsDocument], str | None] = field(default=_no_headline)
    """The kind's own verdict line for a document that delivered something, or None for the
    generic one; the interrupted / incomplete note is added to it (``sweep``: the
    recommendation)."""
    compares_workers: bool = False
    """Every document of the kind compares worker counts, even where the scenarios do not vary
    them: the verdict says where throughput peaks and the throughput-vs-workers chart leads."""
    saturates_server: bool = False
    """The kind saturates the server on purpose (``serverbench``: its ceiling is what it
    measures), so a saturated server is not a warning."""
    cost_charts: bool = True
    """Whether the server-cost, framework-tax and delivery charts apply (not to ``micro``: no
    server sampled, nothing to lose)."""
    workers_chart: Callable[[ResultsDocument], Chart | None] | None = None
    """The chart that leads the page, in place of the generic throughput and p99 vs workers
    (``sweep``: capacity per workload); None: the generic one."""
    html_sections: Callable[[ResultsDocument], str] = field(default=_no_html)
    """HTML sections after the comparison and framework-tax sections."""
    markdown_sections: Callable[[ResultsDocument], list[str]] = field(default=_no_markdown)
    """Markdown lines (a leading blank line included) after the framework tax."""


#: The generic report: what ``compare`` and ``locust`` documents get.
GENERIC: Final = ReportParts()
_MICRO: Final = ReportParts(verdict=lambda document: [micro_verdict(document)], cost_charts=False)

#: The command module that registers each kind not built in, for the error message.
_REGISTERED_BY: Final[dict[str, str]] = {
    "ramp": "pushbench.ramp.report",
    "serverbench": "pushbench.serverbench.report",
    "sweep": "pushbench.sweep.report",
}
_parts: dict[str, ReportParts] = {"compare": GENERIC, "locust": GENERIC, "micro": _MICRO}


def register(kind: Kind, parts: ReportParts) -> None:
    """Make ``parts`` what documents of ``kind`` add to the report.

    Registering the same parts again is a no-op (a module imported twice); other parts for a
    kind already registered raise ``ValueError``: two commands can not both own a kind.
    """
    known = _parts.get(kind)
    if known is not None and known != parts:
        raise ValueError(f"report parts for kind {kind!r} are already registered")
    _parts[kind] = parts


def parts_for(document: ResultsDocument) -> ReportParts:
    """The report parts of ``document``'s kind.

    Raises:
        LookupError: no parts are registered for the kind: the module that registers them
            (see :mod:`pushbench.cli.kinds`) was not imported.
    """
    try:
        return _parts[document.kind]
    except KeyError:
        module = _REGISTERED_BY.get(document.kind, "its command's report module")
        raise LookupError(
            f"no report parts registered for {document.kind!r} documents: import {module} "
            "(pushbench.cli.kinds imports every kind's) before rendering one"
        ) from None
