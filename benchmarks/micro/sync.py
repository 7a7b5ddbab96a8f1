"""Run a coroutine that never suspends, without an event loop: the cost of the code alone."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_now"]

T = TypeVar("T")


def run_now(coro: Coroutine[Any, Any, T]) -> T:
    """The result of ``coro``, which must complete without awaiting anything that suspends.

    The memory broker's ``publish``/``read`` and a non-empty ``get_batch`` are ``async`` for the
    interface's sake but never suspend; stepping them by hand leaves out the event loop's cost.

    Raises:
        RuntimeError: ``coro`` suspended (it would need a loop).
    """
    try:
        coro.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coro.close()
    raise RuntimeError("the coroutine suspended; run it on an event loop instead")
