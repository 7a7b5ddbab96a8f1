"""Least squares small enough to read: a few columns, a few rows, pure Python.

The capacity model (:mod:`pushbench.plan.model`) fits at most five costs from a handful of measured
scenarios; numpy would be a large dependency for a 5 × 5 problem. Columns are scaled to unit
length before they are orthogonalised (modified Gram–Schmidt), so costs of very different sizes
(CPU seconds per scenario next to CPU seconds per delivered message) are solved with the same
relative precision.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

__all__ = ["independent_columns", "lstsq", "nnls", "sum_of_squares"]

Column = Sequence[float]


def _norm(values: Sequence[float]) -> float:
    return math.sqrt(sum(v * v for v in values))


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _orthogonal_part(column: Column, basis: list[list[float]]) -> list[float]:
    """``column`` (scaled to unit length) minus its projection on the orthonormal ``basis``."""
    length = _norm(column)
    if length == 0:
        return [0.0] * len(column)
    rest = [v / length for v in column]
    for q in basis:
        weight = _dot(q, rest)
        rest = [r - weight * x for r, x in zip(rest, q, strict=True)]
    return rest


def independent_columns(columns: Sequence[Column], tolerance: float = 0.05) -> list[int]:
    """Indexes of the columns, taken in order, that the ones before them do not explain.

    A column is kept when more than ``tolerance`` of its (unit) length lies outside the span of
    the columns kept before it: 0.05 means "at least 5 % of it varies independently".
    """
    basis: list[list[float]] = []
    kept: list[int] = []
    for index, column in enumerate(columns):
        rest = _orthogonal_part(column, basis)
        length = _norm(rest)
        if length > tolerance:
            basis.append([r / length for r in rest])
            kept.append(index)
    return kept


def lstsq(columns: Sequence[Column], y: Sequence[float]) -> list[float]:
    """The coefficients ``x`` minimising ``|Σ x[j] · columns[j] - y|²``.

    Raises:
        ValueError: No columns, columns of different lengths, or columns that are not
            linearly independent (pick them with :func:`independent_columns` first).
    """
    if not columns:
        raise ValueError("least squares needs at least one column")
    if any(len(c) != len(y) for c in columns):
        raise ValueError("every column needs one value per observation")
    scales = [_norm(c) for c in columns]
    if any(s == 0 for s in scales):
        raise ValueError("a column of zeros has no coefficient")
    # QR by modified Gram–Schmidt on the unit-length columns: A = Q R, then R x = Qᵀ y.
    q: list[list[float]] = []
    r = [[0.0] * len(columns) for _ in columns]
    for j, column in enumerate(columns):
        v = [value / scales[j] for value in column]
        for i, qi in enumerate(q):
            r[i][j] = _dot(qi, v)
            v = [a - r[i][j] * b for a, b in zip(v, qi, strict=True)]
        r[j][j] = _norm(v)
        if r[j][j] < 1e-9:
            raise ValueError("columns are not linearly independent")
        q.append([a / r[j][j] for a in v])
    rhs = [_dot(qi, y) for qi in q]
    x = [0.0] * len(columns)
    for i in reversed(range(len(columns))):
        x[i] = (rhs[i] - sum(r[i][k] * x[k] for k in range(i + 1, len(columns)))) / r[i][i]
    return [value / scale for value, scale in zip(x, scales, strict=True)]


def sum_of_squares(columns: Sequence[Column], x: Sequence[float], y: Sequence[float]) -> float:
    """``|Σ x[j] · columns[j] - y|²``: what :func:`lstsq` minimises."""
    total = 0.0
    for row, observed in enumerate(y):
        predicted = sum(coefficient * c[row] for coefficient, c in zip(x, columns, strict=True))
        total += (predicted - observed) ** 2
    return total


def nnls(columns: Sequence[Column], y: Sequence[float]) -> list[float]:
    """Least squares with every coefficient ≥ 0 (a cost cannot be negative).

    With five columns at most, trying every subset of columns is both exact and obvious: the
    non-negative optimum is the plain least-squares solution on some subset, so the best
    subset whose solution has no negative coefficient is the answer. Ties go to the larger
    subset, then to the earlier columns. The columns must be linearly independent.
    """
    best: tuple[float, int, list[float]] | None = None
    indexes = range(len(columns))
    for size in range(len(columns), 0, -1):
        for subset in itertools.combinations(indexes, size):
            solution = lstsq([columns[i] for i in subset], y)
            if any(value < 0 for value in solution):
                continue
            x = [0.0] * len(columns)
            for i, value in zip(subset, solution, strict=True):
                x[i] = value
            error = sum_of_squares(columns, x, y)
            # Strictly better only: an equal fit keeps the larger, earlier subset found first.
            if best is None or error < best[0] * (1 - 1e-9) - 1e-300:
                best = (error, size, x)
    return best[2] if best is not None else [0.0] * len(columns)
