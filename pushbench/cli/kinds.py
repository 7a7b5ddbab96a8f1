"""Every kind's report parts, registered: imported by whatever renders a document of any kind.

A kind's parts live with the command that writes it and register themselves when their module
is imported (:mod:`pushbench.report.kinds` says why the report can not import them itself).
``pushbench report`` (:mod:`pushbench.cli.report`) and ``scripts/screenshot_report.py`` render
whatever file they are given, so they import this module, which imports every command's report
module; it sits above the commands in the layers contract, and :mod:`pushbench.cli.report` above
it. A command that renders only its own kind imports only its own parts.
"""

from __future__ import annotations

from typing import Final

from pushbench.ramp.report import RAMP_PARTS
from pushbench.report.kinds import ReportParts
from pushbench.serverbench.report import SERVERBENCH_PARTS
from pushbench.sweep.report import SWEEP_PARTS

__all__ = ["COMMAND_PARTS"]

#: The parts each command registers, by kind; the other kinds' are built into the report.
COMMAND_PARTS: Final[dict[str, ReportParts]] = {
    "ramp": RAMP_PARTS,
    "serverbench": SERVERBENCH_PARTS,
    "sweep": SWEEP_PARTS,
}
