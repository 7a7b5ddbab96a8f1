"""The publisher's pacer: never early, prompt for a deadline already past, and its thread ends."""

from __future__ import annotations

import asyncio
import threading

from pushbench.drivers.pacer import Pacer
from pushbench.drivers.recorder import now_ns


def test_a_wake_up_is_never_early() -> None:
    """Early would be worse than late: a message sent before its scheduled time would show a
    latency the server never gave it."""

    async def main() -> list[int]:
        pacer = Pacer()
        early = []
        try:
            for delay_us in (0, 50, 300, 1_500, 2_500, 4_000):
                deadline = now_ns() + delay_us * 1_000
                await pacer.sleep_until(deadline)
                early.append(deadline - now_ns())
        finally:
            pacer.close()
        return early

    assert all(gap <= 0 for gap in asyncio.run(main()))


def test_a_deadline_already_past_returns_without_waiting() -> None:
    async def main() -> int:
        pacer = Pacer()
        try:
            before = now_ns()
            await pacer.sleep_until(before - 1_000_000)
            return now_ns() - before
        finally:
            pacer.close()

    assert asyncio.run(main()) < 1_000_000


def test_the_pacer_thread_ends_when_closed() -> None:
    async def main() -> threading.Thread:
        pacer = Pacer()
        await pacer.sleep_until(now_ns() + 100_000)
        pacer.close()
        return pacer._thread

    thread = asyncio.run(main())
    thread.join(timeout=5)
    assert not thread.is_alive()
