"""Latency histograms: record integer nanoseconds, report microseconds, merge exactly.

A typed wrapper over the ``hdrhistogram`` package (module ``hdrh``). Every histogram has the same
fixed configuration — 1 µs to 1 hour, 3 significant digits — so any two of them, including ones
decoded from blobs written by other processes or Locust workers, merge *exactly*: merging adds
bucket counts, it never averages percentiles.

Values come in as integer nanoseconds (``time.perf_counter_ns`` differences) and are stored at
microsecond resolution, rounded to the nearest µs. Everything this module reports is in µs.
"""

from __future__ import annotations

import binascii
import zlib
from collections import Counter
from collections.abc import Iterable
from typing import Any, NamedTuple, TypedDict

from hdrh.codec import HdrCookieException, HdrHistogramSettingsException, HdrLengthException
from hdrh.histogram import HdrHistogram

__all__ = [
    "HIGHEST_TRACKABLE_US",
    "LOWEST_TRACKABLE_US",
    "SIGNIFICANT_FIGURES",
    "LatencyHistogram",
    "LatencySummaryDict",
    "PercentilePoint",
]

#: Smallest value distinguished from zero, in µs (the recording resolution).
LOWEST_TRACKABLE_US = 1
#: Largest value recorded as itself, in µs (one hour); larger values are clamped to it.
HIGHEST_TRACKABLE_US = 3_600_000_000
#: Decimal digits of precision kept at every magnitude (0.1 % relative error at most).
SIGNIFICANT_FIGURES = 3

_NS_PER_US = 1_000
_HALF_US_NS = _NS_PER_US // 2

# Everything hdrh raises for a blob that is not a valid HdrHistogram V2 compressed encoding.
_DECODE_ERRORS = (
    binascii.Error,
    zlib.error,
    HdrCookieException,
    HdrHistogramSettingsException,
    HdrLengthException,
    ValueError,
    TypeError,
    AssertionError,
)


class LatencySummaryDict(TypedDict):
    """The headline numbers of a histogram; all values in µs except ``count``."""

    p50: int
    p90: int
    p99: int
    p999: int
    max: int
    mean: float
    count: int


class PercentilePoint(NamedTuple):
    """One point of a percentile distribution curve."""

    percentile: float
    """Percentile in [0, 100]; plot ``1 / (1 - percentile / 100)`` on a log axis."""
    value_us: int
    """Latency in µs at or below which ``percentile`` % of the values fall."""


def _ns_to_us(ns: int) -> int:
    # Round half up; integer arithmetic, no float error for large values.
    return (ns + _HALF_US_NS) // _NS_PER_US


class LatencyHistogram:
    """A mergeable latency histogram at µs resolution over 1 µs .. 1 hour, 3 significant digits.

    Out-of-range values are *clamped and counted*, never dropped silently: a negative latency
    (clock skew, or a publisher timestamp taken on another host) is recorded as 0 and counted in
    :attr:`clamped_low`; a latency above one hour is recorded as one hour and counted in
    :attr:`clamped_high`. Dropping them would hide a broken measurement; raising would abort a
    long run for one bad sample. The two counters travel with :meth:`merge` but are *not* part
    of the encoded blob (the HdrHistogram format has no room for them): callers that ship blobs
    between processes should report them separately, e.g. as a warning.

    Reported values are the *top* of the bucket a value fell in: exact below 2048 µs, and at
    most 0.1 % above the recorded value beyond (4000 µs reads as 4001 µs).

    Not thread-safe; give each thread or task its own histogram and merge them.

    Example:
        >>> h = LatencyHistogram()
        >>> h.record_ns(1_500_000)
        >>> h.percentile_us(50)
        1500
    """

    __slots__ = ("_hdr", "clamped_high", "clamped_low")

    def __init__(self) -> None:
        self._hdr: Any = HdrHistogram(
            LOWEST_TRACKABLE_US, HIGHEST_TRACKABLE_US, SIGNIFICANT_FIGURES
        )
        self.clamped_low = 0
        """Values recorded as 0 because they were negative."""
        self.clamped_high = 0
        """Values recorded as one hour because they were larger."""

    def record_ns(self, ns: int, count: int = 1) -> None:
        """Record a latency given in integer nanoseconds.

        Args:
            ns: The latency, in ns. Rounded to the nearest µs; clamped into range (see class).
            count: How many times to record it.
        """
        us = self._clamp_us(ns, count)
        self._hdr.record_value(us, count)

    def record_all_ns(self, values: Iterable[int]) -> None:
        """Record many latencies (ns) at once: equal µs values become one ``record`` call.

        Drivers keep raw samples in a cheap array while they run and fold them in afterwards;
        a run of millions of samples then costs thousands of calls instead of millions.
        """
        for us, count in Counter((ns + 500) // 1000 for ns in values).items():
            self.record_ns(us * 1000, count)

    def record_ns_corrected(self, ns: int, expected_interval_ns: int) -> None:
        """Record a latency and back-fill the samples a stalled closed-loop client never sent.

        HdrHistogram's coordinated-omission correction: if ``ns`` exceeds the expected interval
        between requests, also record ``ns - k * expected_interval_ns`` for every k while that
        stays positive. Only for *closed-loop* drivers (send the next request when the reply
        arrives). Open-loop drivers that measure from the *scheduled* send time must use
        :meth:`record_ns`: their samples are already uncoordinated, and correcting them again
        double-counts the stall.

        Args:
            ns: The measured latency, in ns.
            expected_interval_ns: The intended time between two requests, in ns; 0 or less
                disables the correction.
        """
        us = self._clamp_us(ns, 1)
        interval_us = _ns_to_us(expected_interval_ns) if expected_interval_ns > 0 else 0
        self._hdr.record_corrected_value(us, interval_us)

    def _clamp_us(self, ns: int, count: int) -> int:
        if ns < 0:
            self.clamped_low += count
            return 0
        us = _ns_to_us(ns)
        if us > HIGHEST_TRACKABLE_US:
            self.clamped_high += count
            return HIGHEST_TRACKABLE_US
        return us

    @property
    def count(self) -> int:
        """Number of recorded values (clamped ones included)."""
        return int(self._hdr.get_total_count())

    @property
    def clamped(self) -> int:
        """Number of values that were out of range and recorded clamped."""
        return self.clamped_low + self.clamped_high

    def merge(self, other: LatencyHistogram) -> None:
        """Add every value recorded in ``other`` to this histogram (exact; ``other`` unchanged)."""
        self._hdr.add(other._hdr)
        self.clamped_low += other.clamped_low
        self.clamped_high += other.clamped_high

    def encode(self) -> str:
        """This histogram as HdrHistogram's standard compressed, base64 (V2) blob.

        Any HdrHistogram implementation (Java, C, Go, Rust, ...) can decode it. The clamping
        counters are not included.
        """
        blob: bytes = self._hdr.encode()
        return blob.decode("ascii")

    @classmethod
    def decode(cls, blob: str) -> LatencyHistogram:
        """Rebuild a histogram from :meth:`encode`'s output.

        Raises:
            ValueError: ``blob`` is not an HdrHistogram blob, or it was recorded with another
                range or precision (merging it would no longer be exact).
        """
        try:
            hdr: Any = HdrHistogram.decode(blob.encode("ascii"))
        except _DECODE_ERRORS as exc:
            raise ValueError(f"not an HdrHistogram V2 compressed blob: {exc!r}") from None
        found = (hdr.lowest_trackable_value, hdr.highest_trackable_value, hdr.significant_figures)
        wanted = (LOWEST_TRACKABLE_US, HIGHEST_TRACKABLE_US, SIGNIFICANT_FIGURES)
        if found != wanted:
            raise ValueError(
                "histogram blob has (lowest, highest, significant figures) = "
                f"{found}, expected {wanted}"
            )
        histogram = cls()
        histogram._hdr = hdr
        return histogram

    def percentile_us(self, percentile: float) -> int:
        """The value at ``percentile`` (0..100), in µs.

        Returns the highest value equivalent to the bucket holding that percentile (so
        ``percentile_us(100)`` is the maximum), except ``percentile_us(0)`` which is the lowest
        value of the first non-empty bucket, i.e. the minimum. An empty histogram returns 0.

        Raises:
            ValueError: ``percentile`` is outside 0..100.
        """
        if not 0.0 <= percentile <= 100.0:
            raise ValueError(f"percentile must be within 0..100, got {percentile}")
        return int(self._hdr.get_value_at_percentile(percentile))

    def summary(self) -> LatencySummaryDict:
        """p50, p90, p99, p99.9 and max as integer µs, mean as float µs, and the count.

        Percentiles and max are integers: the histogram has 1 µs resolution, so decimals would
        only be noise. The mean is a float (HdrHistogram's, from bucket midpoints). An empty
        histogram gives all zeros.
        """
        values = self._hdr.get_percentile_to_value_dict([50.0, 90.0, 99.0, 99.9])
        return LatencySummaryDict(
            p50=int(values.get(50.0, 0)),
            p90=int(values.get(90.0, 0)),
            p99=int(values.get(99.0, 0)),
            p999=int(values.get(99.9, 0)),
            max=int(self._hdr.get_max_value()),
            mean=self._mean_us(),
            count=self.count,
        )

    def _mean_us(self) -> float:
        # hdrh's get_mean_value() walks a pure-Python iterator over all ~23,500 buckets (~50 ms);
        # this is the same formula (bucket midpoint x count) over a C-level slice, ~50x faster.
        hdr = self._hdr
        total = int(hdr.get_total_count())
        if not total:
            return 0.0
        weighted = 0
        last_index = int(hdr.get_counts_array_index(hdr.max_value))
        for index, bucket_count in enumerate(hdr.counts[: last_index + 1]):
            if bucket_count:
                value = hdr.get_value_from_index(index)
                low = int(hdr.get_lowest_equivalent_value(value))
                high = int(hdr.get_highest_equivalent_value(value))
                weighted += bucket_count * (low + ((high - low + 1) >> 1))
        return weighted / total

    def percentile_distribution(self, ticks_per_half_distance: int = 5) -> list[PercentilePoint]:
        """Points for a percentile curve, denser towards the tail (as HdrHistogram's own plots).

        Between 0 % and 100 % the percentile step halves every time the remaining distance to
        100 % halves, with ``ticks_per_half_distance`` points per halving — so the curve reads
        well on a ``1 / (1 - p)`` log axis. The last point is always 100 % (the maximum); it is
        at infinity on such an axis, so charts usually place it at the previous point's x.
        Empty histogram: no points.
        """
        if ticks_per_half_distance < 1:
            raise ValueError("ticks_per_half_distance must be at least 1")
        return [
            PercentilePoint(float(step.percentile_level_iterated_to), int(step.value_iterated_to))
            for step in self._hdr.get_percentile_iterator(ticks_per_half_distance)
        ]

    def __repr__(self) -> str:
        return f"<LatencyHistogram count={self.count} max_us={self._hdr.get_max_value()}>"
