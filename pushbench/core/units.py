"""Human units for reports: the schema stores integer µs and raw counts; people read ms and 1,234.

Every report format (HTML, Markdown, the terminal table) formats numbers through these functions,
so a value reads the same everywhere.
"""

from __future__ import annotations

import math

__all__ = [
    "NOT_APPLICABLE",
    "format_count",
    "format_duration_us",
    "format_ms",
    "format_percent",
    "format_rate",
    "format_ratio",
    "format_value",
]

#: Shown where a figure does not exist (e.g. HTTP requests of a WebSocket scenario).
NOT_APPLICABLE = "—"


def format_ms(us: float) -> str:
    """A latency in µs as milliseconds with about three significant digits: 0.31, 52.0, 1003."""
    ms = us / 1000
    if ms < 10:
        return f"{ms:.2f}"
    if ms < 100:
        return f"{ms:.1f}"
    return f"{ms:,.0f}"


def format_duration_us(us: float) -> str:
    """A latency in µs in the unit that suits it: ``850 µs``, ``1.2 ms``, ``12.5 s``."""
    if us < 1000:
        return f"{us:.0f} µs"
    if us < 10_000:
        return f"{us / 1000:.1f} ms"
    if us < 10_000_000:
        return f"{us / 1000:,.0f} ms"
    return f"{us / 1_000_000:,.1f} s"


def format_count(n: int) -> str:
    """An integer with thousands separators."""
    return f"{n:,}"


def format_value(value: float | None) -> str:
    """A measured figure with about three significant digits; ``—`` for ``None``.

    Large values get thousands separators and no decimals (``1,999``); small ones keep their
    significant digits (``0.0005``, ``0.711``, ``71.0``).
    """
    if value is None or math.isnan(value):
        return NOT_APPLICABLE
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_rate(per_s: float) -> str:
    """Messages per second: ``1,999``, ``12.5``."""
    return f"{per_s:,.0f}" if per_s >= 100 else f"{per_s:.1f}"


def format_ratio(ratio: float) -> str:
    """A multiplier: ``1.4×``, ``40×``, ``1,200×``."""
    if ratio >= 10:
        return f"{ratio:,.0f}×"
    return f"{ratio:.1f}×"


def format_percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a percentage that never rounds a non-zero part to 0 or 100."""
    if whole <= 0:
        return NOT_APPLICABLE
    share = 100 * part / whole
    if 0 < share < 0.01:
        return "<0.01 %"
    if 99.99 < share < 100:
        return ">99.99 %"
    return f"{share:.2f} %" if share < 10 or share > 90 else f"{share:.1f} %"
