"""``/metrics``: Prometheus text that counts what every transport published, delivered, dropped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from pushbench.harness.launcher import ServerProcess
from tests.conftest import ServerFactory, timeout
from tests.integration.clients import poll, publish, room_name, sse_events

pytestmark = pytest.mark.anyio

#: (metric sample name, sorted label items) -> value
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(base: str) -> Samples:
    """Every sample of ``/metrics`` (fresh connection: any worker may answer)."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/metrics") as response,
    ):
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def per_pid(samples: Samples, name: str, **labels: str) -> dict[str, float]:
    """``name`` by worker pid, for the samples whose labels include ``labels``."""
    wanted = set(labels.items())
    found: dict[str, float] = {}
    for (n, ls), value in samples.items():
        if n == name and wanted <= set(ls):
            pid = dict(ls)["pid"]
            found[pid] = found.get(pid, 0) + value
    return found


async def until(base: str, check: Callable[[Samples], bool]) -> Samples:
    """Scrape until ``check`` holds: counts reach /metrics within ``metrics_flush_s``."""
    async with asyncio.timeout(timeout(10)):
        while True:
            samples = await scrape(base)
            if check(samples):
                return samples
            # Scrape back-off: the condition is re-checked, the sleep only paces it.
            await asyncio.sleep(0.05)


async def test_metrics_count_each_transport_on_one_worker(
    start_flavor_server: ServerFactory,
) -> None:
    server: ServerProcess = start_flavor_server(settings={"history_size": "5"})
    room = room_name()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/healthz") as response:
            pid = str((await response.json())["pid"])
        ws = await connect(f"{server.ws_url}/ws/rooms/{room}")
        sse = await http.get(f"{server.url}/rooms/{room}/events")
        samples = await scrape(server.url)
        assert samples[("pushbench_connections_open", (("pid", pid), ("transport", "ws")))] == 1
        assert total(samples, "pushbench_connections_open", transport="sse") == 1
        assert total(samples, "pushbench_broker_healthy", broker="memory", pid=pid) == 1

        for seq in range(4):
            await publish(http, server.url, room, seq)
        for seq in range(4, 7):
            await ws.send(json.dumps({"publisher": "ws", "seq": seq}))
        assert [json.loads(await ws.recv())["id"] for _ in range(7)] == list(range(1, 8))
        events = sse_events(sse)
        for _ in range(7):
            record = await asyncio.wait_for(anext(events), timeout(5))
            while "id" not in record:
                record = await asyncio.wait_for(anext(events), timeout(5))
        _, page = await poll(http, server.url, room, after=0)  # history holds 3..7: missed 2
        assert page["missed"] == 2
        _, page = await poll(http, server.url, room, after=6, wait=5)
        await ws.close()
        sse.close()

    samples = await until(
        server.url, lambda s: total(s, "pushbench_connections_open", transport="sse") == 0
    )
    assert total(samples, "pushbench_messages_published_total", transport="http") == 4
    assert total(samples, "pushbench_messages_published_total", transport="ws") == 3
    assert total(samples, "pushbench_messages_delivered_total", transport="ws") == 7
    assert total(samples, "pushbench_messages_delivered_total", transport="sse") == 7
    assert total(samples, "pushbench_messages_delivered_total", transport="short_poll") == 5
    assert total(samples, "pushbench_messages_delivered_total", transport="long_poll") == 1
    assert total(samples, "pushbench_messages_dropped_total", reason="history") == 2
    assert total(samples, "pushbench_connections_open", transport="ws") == 0
    assert per_pid(samples, "pushbench_connections_open") == {pid: 0}


async def test_slow_subscriber_drop_is_counted(start_flavor_server: ServerFactory) -> None:
    server = start_flavor_server(settings={"send_queue_size": "10"})
    room = room_name()
    # max_queue=1 stops the client reading: the server's queue for it overflows.
    stalled = await connect(f"{server.ws_url}/ws/rooms/{room}", max_queue=1, max_size=None)
    publisher = await connect(f"{server.ws_url}/ws/rooms/{room}?receive=false")
    payload = "x" * 60_000  # 400 x 60 kB: far more than loopback socket buffers hold
    for seq in range(400):
        await publisher.send(json.dumps({"seq": seq, "payload": payload}))
    samples = await until(
        server.url,
        lambda s: total(s, "pushbench_slow_subscriber_drops_total", transport="ws") == 1,
    )
    assert total(samples, "pushbench_messages_dropped_total", reason="slow_subscriber") >= 1
    await publisher.close()
    stalled.transport.abort()


async def test_metrics_are_documented_in_the_api(server: ServerProcess) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.url}/openapi.json") as response,
    ):
        paths = (await response.json())["paths"]
    assert "/metrics" in paths
    assert "503" in paths["/rooms/{room}/messages"]["post"]["responses"]
