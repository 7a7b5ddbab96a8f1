"""What a ``pushbench serverbench`` report changes: a saturated server is the point, not a warning.

``serverbench`` drives the server to its ceiling on purpose, so the report does not flag the
saturation every one of its scenarios reaches. Importing this module registers that for
``serverbench`` documents (:mod:`pushbench.report.kinds`): ``pushbench serverbench`` imports it
before it renders its run, :mod:`pushbench.cli.kinds` for ``pushbench report``.
"""

from __future__ import annotations

from typing import Final

from pushbench.report.kinds import ReportParts, register

__all__ = ["SERVERBENCH_PARTS"]

#: What ``serverbench`` documents change in the generic report.
SERVERBENCH_PARTS: Final = ReportParts(saturates_server=True)
register("serverbench", SERVERBENCH_PARTS)
