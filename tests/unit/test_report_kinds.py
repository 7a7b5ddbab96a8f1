"""The report registry by kind: every kind has parts, a missing registration fails loudly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from pushbench.cli.kinds import COMMAND_PARTS
from pushbench.core.schema import Kind, ResultsDocument, load_results
from pushbench.report import kinds, render_markdown
from pushbench.report.kinds import GENERIC, ReportParts, parts_for, register

FIXTURES = Path(__file__).parent.parent / "fixtures"


def golden(kind: str) -> ResultsDocument:
    return load_results(FIXTURES / "results-v1.json").model_copy(update={"kind": kind})


def test_every_kind_has_report_parts_once_the_commands_registered_theirs() -> None:
    for kind in get_args(Kind):
        assert isinstance(parts_for(golden(kind)), ReportParts), kind
    assert parts_for(golden("sweep")) is COMMAND_PARTS["sweep"]
    assert parts_for(golden("serverbench")).saturates_server
    assert parts_for(golden("compare")) is GENERIC


def test_an_unregistered_kind_is_an_error_not_a_comparison(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(kinds._parts, "sweep")
    with pytest.raises(LookupError, match=r"import pushbench\.sweep\.report"):
        render_markdown(golden("sweep"))


def test_two_owners_of_one_kind_are_refused() -> None:
    register("sweep", COMMAND_PARTS["sweep"])  # the same parts again: a no-op
    with pytest.raises(ValueError, match="already registered"):
        register("sweep", ReportParts(compares_workers=True))
    assert parts_for(golden("sweep")) is COMMAND_PARTS["sweep"]


def test_the_cli_registers_every_kind_without_importing_matplotlib() -> None:
    """The app imports every command's report parts; their charts import matplotlib (about a
    second) only when drawn, so ``pushbench --help`` does not pay for it."""
    code = (
        "import sys, pushbench.cli.app\n"
        "from pushbench.report.kinds import _parts\n"
        "assert 'matplotlib' not in sys.modules\n"
        "print(sorted(_parts))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == str(sorted(get_args(Kind)))
