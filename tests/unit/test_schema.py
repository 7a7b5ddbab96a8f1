"""Results schema v1: the golden fixture, version checks, clear errors, round trips."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.schema import (
    SCHEMA_VERSION,
    SUPPORTED_VERSIONS,
    CpuClock,
    CpuClocks,
    Environment,
    FrameworkTax,
    GeneratorCost,
    LatencySummary,
    ProcessCost,
    ResultsDocument,
    Scenario,
    SchemaError,
    ServerCost,
    dump_results,
    latency_summary,
    load_results,
    write_results_atomic,
)
from pushbench.harness.environment import KEY_PACKAGES, environment, package_versions

FIXTURE = Path(__file__).parent.parent / "fixtures" / "results-v1.json"


@pytest.fixture
def fixture_text() -> str:
    return FIXTURE.read_text(encoding="utf-8")


@pytest.fixture
def fixture_data(fixture_text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fixture_text)
    return data


def test_version_constants() -> None:
    assert SCHEMA_VERSION == 2
    assert SUPPORTED_VERSIONS == (1, 2)


def test_v1_field_names_are_pinned() -> None:
    # Adding, renaming or removing a field is a format change: bump the version and its history.
    assert list(ResultsDocument.model_fields) == [
        "schema_version",
        "kind",
        "run_id",
        "started_at",
        "finished_at",
        "environment",
        "config",
        "scenarios",
        "warnings",
        "errors",
        "interrupted",
        "framework_tax",  # optional, later in version 1 (issue 15)
        "tls_cost",  # optional, later in version 2 (issue 20)
        "tls_handshake",  # optional, later in version 2 (issue 20)
    ]
    assert list(Environment.model_fields) == [
        "python",
        "platform",
        "cpu_count",
        "packages",
        "git_commit",
        "cpu_clocks",  # optional, later in version 1 (issue 15)
        "cpu_model",  # optional, later in version 1 (issue 19)
        "lock_sha256",  # optional, later in version 1 (issue 19)
    ]
    assert list(CpuClocks.model_fields) == ["server", "generator"]
    assert list(CpuClock.model_fields) == ["clock", "resolution_ns"]
    assert list(FrameworkTax.model_fields) == [
        "scenario",
        "transport",
        "asgi_scenario",
        "fastapi_scenario",
        "asgi_cpu_us_per_delivered_msg",
        "fastapi_cpu_us_per_delivered_msg",
        "tax_cpu_us_per_delivered_msg",
        "asgi_cpu_us_per_http_request",
        "fastapi_cpu_us_per_http_request",
        "tax_cpu_us_per_http_request",
    ]
    assert list(Scenario.model_fields) == [
        "name",
        "transport",
        "params",
        "latency_us",
        "sent",
        "delivered",
        "lost",
        "duplicated",
        "reordered",
        "unexpected",
        "publishes_attempted",
        "publishes_sent",
        "throughput_msgs_per_s",
        "server",
        "generator",
        "http_requests",
        "http_requests_per_delivered_msg",
        "errors",
        "interval_s",
        "intervals_started_at",
        "intervals",
        "ws_bytes_per_delivery",  # optional, later in version 2 (issue 20)
    ]
    assert list(LatencySummary.model_fields) == [
        "p50",
        "p90",
        "p99",
        "p999",
        "max",
        "mean",
        "count",
        "histogram",
    ]
    assert list(ServerCost.model_fields) == [
        "cpu_s",
        "rss_peak_bytes",
        "cpu_us_per_delivered_msg",
        "processes",
        "busiest_process_cpu_percent",
        "saturated",
    ]
    assert list(ProcessCost.model_fields) == ["pid", "role", "cpu_s", "rss_peak_bytes"]
    assert list(GeneratorCost.model_fields) == ["cpu_s", "cpu_percent", "saturated"]


def test_golden_v1_document_top_level() -> None:
    doc = load_results(FIXTURE)
    assert doc.schema_version == 1
    assert doc.kind == "compare"
    assert doc.run_id == "20261124T130000Z-golden"
    assert doc.started_at == datetime(2026, 11, 24, 13, 0, 0, tzinfo=UTC)
    assert doc.finished_at == datetime(2026, 11, 24, 13, 0, 47, 250000, tzinfo=UTC)
    assert doc.environment == Environment(
        python="CPython 3.11.7",
        platform="Linux-6.1.0-x86_64-with-glibc2.36",
        cpu_count=8,
        packages={
            "pushbench": "0.1.0",
            "fastapi": "0.115.0",
            "uvicorn": "0.34.0",
            "websockets": "14.1",
            "hdrhistogram": "0.10.3",
        },
        git_commit="0123456789abcdef0123456789abcdef01234567",
    )
    assert doc.config == {
        "host": "127.0.0.1",
        "workers": 1,
        "broker": "memory",
        "transports": ["ws", "short-poll", "long-poll", "sse"],
        "warmup_s": 2.0,
    }
    assert doc.warnings == ["cpu frequency scaling is enabled (governor: powersave)"]
    assert doc.errors == []
    assert doc.interrupted is False
    assert [(s.name, s.transport) for s in doc.scenarios] == [
        ("ws", "ws"),
        ("short-poll-100ms", "short-poll"),
        ("long-poll", "long-poll"),
        ("sse", "sse"),
    ]


PARAMS = {"rate": 200, "publishers": 2, "subscribers": 10, "payload_bytes": 256, "duration_s": 10.0}

# name -> (params, (p50, p90, p99, p999, max, mean, count), (sent, delivered, lost, duplicated,
# reordered, unexpected), throughput, server cost, generator cost, http_requests, per msg, errors)
GOLDEN_SCENARIOS: dict[str, tuple[Any, ...]] = {
    "ws": (
        PARAMS,
        (312, 590, 996, 1377, 1794, 352.3571, 20_000),
        (20_000, 20_000, 0, 0, 0, 0),
        1998.7,
        ServerCost(
            cpu_s=1.42,
            rss_peak_bytes=61_341_696,
            cpu_us_per_delivered_msg=71.0,
            processes=[ProcessCost(pid=4242, role="worker", cpu_s=1.42, rss_peak_bytes=61_341_696)],
        ),
        GeneratorCost(cpu_s=2.9, cpu_percent=29.0, saturated=False),
        None,
        None,
        [],
    ),
    "short-poll-100ms": (
        {**PARAMS, "poll_interval_s": 0.1},
        (52031, 91135, 100031, 100991, 101695, 51404.72135, 20_000),
        (20_000, 19_990, 10, 0, 0, 0),
        1997.1,
        ServerCost(cpu_s=3.85, rss_peak_bytes=63_012_864, cpu_us_per_delivered_msg=192.6),
        GeneratorCost(cpu_s=4.1, cpu_percent=41.0, saturated=False),
        1_000,
        0.05,
        [],
    ),
    "long-poll": (
        {**PARAMS, "wait_s": 30.0},
        (1115, 2389, 4463, 7143, 12831, 1325.73205, 20_000),
        (20_000, 20_000, 0, 3, 0, 0),
        1999.4,
        ServerCost(cpu_s=2.6, rss_peak_bytes=62_001_152, cpu_us_per_delivered_msg=130.0),
        GeneratorCost(cpu_s=3.3, cpu_percent=33.0, saturated=False),
        14_210,
        0.7105,
        [],
    ),
    "sse": (
        PARAMS,
        (421, 798, 1334, 1956, 2245, 476.19975, 20_000),
        (20_000, 20_000, 0, 0, 2, 0),
        1999.9,
        ServerCost(cpu_s=1.9, rss_peak_bytes=61_800_448, cpu_us_per_delivered_msg=95.0),
        GeneratorCost(cpu_s=3.0, cpu_percent=30.0, saturated=False),
        10,
        0.0005,
        [],
    ),
}


@pytest.mark.parametrize("name", list(GOLDEN_SCENARIOS))
def test_golden_v1_scenarios(name: str) -> None:
    (params, latency, integrity, throughput, server, generator, requests, per_msg, errors) = (
        GOLDEN_SCENARIOS[name]
    )
    scenario = {s.name: s for s in load_results(FIXTURE).scenarios}[name]
    assert scenario.params == params
    summary = scenario.latency_us
    p50, p90, p99, p999, max_us, mean, count = latency
    assert (summary.p50, summary.p90, summary.p99, summary.p999) == (p50, p90, p99, p999)
    assert (summary.max, summary.count) == (max_us, count)
    assert summary.mean == pytest.approx(mean, abs=1e-9)
    # The stored blob is a real histogram and agrees with the stored numbers.
    histogram = summary.decode_histogram()
    assert latency_summary(histogram) == summary
    sent, delivered, lost, duplicated, reordered, unexpected = integrity
    assert (scenario.sent, scenario.delivered, scenario.lost) == (sent, delivered, lost)
    assert (scenario.duplicated, scenario.reordered, scenario.unexpected) == (
        duplicated,
        reordered,
        unexpected,
    )
    assert scenario.throughput_msgs_per_s == throughput
    assert scenario.server == server
    assert scenario.generator == generator
    assert scenario.http_requests == requests
    assert scenario.http_requests_per_delivered_msg == per_msg
    assert scenario.errors == errors


def test_golden_short_poll_latency_is_half_the_interval_plus_a_round_trip() -> None:
    # The report's sanity anchor, visible in the fixture: p50 ~ 100 ms / 2 + ~1 ms.
    scenario = {s.name: s for s in load_results(FIXTURE).scenarios}["short-poll-100ms"]
    assert 50_000 < scenario.latency_us.p50 < 55_000


def test_dump_of_the_golden_document_is_byte_identical(fixture_text: str) -> None:
    assert dump_results(load_results(fixture_text)) == fixture_text


def test_an_earlier_v1_document_without_server_saturation_still_loads(fixture_text: str) -> None:
    data = json.loads(fixture_text)
    for scenario in data["scenarios"]:
        if scenario["server"] is not None:
            del scenario["server"]["busiest_process_cpu_percent"]
            del scenario["server"]["saturated"]
    doc = load_results(json.dumps(data))
    server = next(s.server for s in doc.scenarios if s.server is not None)
    assert server.busiest_process_cpu_percent is None
    assert server.saturated is False


def test_golden_v1_publish_counts() -> None:
    for scenario in load_results(FIXTURE).scenarios:
        assert (scenario.publishes_attempted, scenario.publishes_sent) == (2000, 2000)
        assert scenario.publishes_failed == 0
        # Deliveries owed are the sent messages times the subscribers meant to get them.
        assert scenario.sent == 2000 * scenario.params["subscribers"]


def test_an_earlier_v1_document_without_publish_counts_still_loads(fixture_text: str) -> None:
    data = json.loads(fixture_text)
    for scenario in data["scenarios"]:
        del scenario["publishes_attempted"]
        del scenario["publishes_sent"]
    scenario = load_results(json.dumps(data)).scenarios[0]
    assert (scenario.publishes_attempted, scenario.publishes_sent) == (None, None)
    assert scenario.publishes_failed == 0


@pytest.mark.parametrize(
    ("attempted", "sent", "message"),
    [
        (100, 101, "publishes_sent 101 exceeds publishes_attempted 100"),
        (100, None, "go together"),
        (None, 100, "go together"),
        (-1, 0, "publishes_attempted"),
    ],
)
def test_publish_counts_must_add_up(
    fixture_data: dict[str, Any], attempted: int | None, sent: int | None, message: str
) -> None:
    fixture_data["scenarios"][0].update(publishes_attempted=attempted, publishes_sent=sent)
    with pytest.raises(SchemaError, match=message):
        load_results(json.dumps(fixture_data))


def test_dump_load_round_trip(fixture_text: str) -> None:
    doc = load_results(fixture_text)
    again = load_results(dump_results(doc))
    assert again == doc
    assert load_results(dump_results(doc).encode("utf-8")) == doc


def test_built_document_round_trips() -> None:
    histogram = LatencyHistogram()
    for ns in (150_000, 250_000, 4_000_000):
        histogram.record_ns(ns)
    doc = ResultsDocument(
        kind="micro",
        run_id="r1",
        started_at=datetime.now(UTC),
        environment=Environment(
            python="CPython 3.11", platform="x", cpu_count=None, packages={}, git_commit=None
        ),
        config={},
        scenarios=[
            Scenario(
                name="echo",
                transport="echo",
                params={"payload_bytes": 16},
                latency_us=latency_summary(histogram),
                sent=3,
                delivered=3,
                lost=0,
                duplicated=0,
                reordered=0,
                unexpected=0,
                throughput_msgs_per_s=100,
                server=None,
                generator=None,
                http_requests=None,
                http_requests_per_delivered_msg=None,
            )
        ],
        interrupted=True,
    )
    assert doc.schema_version == SCHEMA_VERSION
    assert load_results(dump_results(doc)) == doc
    # HdrHistogram p50 of 3 values is the 2nd; 4 ms sits in a 2 µs bucket reported by its top.
    assert doc.scenarios[0].latency_us.p50 == 250
    assert doc.scenarios[0].latency_us.max == 4_001


@pytest.mark.parametrize(
    ("version", "found"),
    [(3, "schema_version 3 is not supported"), (0, "schema_version 0 is not supported")],
)
def test_unknown_version_is_rejected_naming_found_and_supported(
    fixture_data: dict[str, Any], version: int, found: str
) -> None:
    fixture_data["schema_version"] = version
    with pytest.raises(SchemaError, match=found) as info:
        load_results(json.dumps(fixture_data))
    assert "supported versions: 1, 2" in str(info.value)


def test_newer_version_hints_at_a_newer_pushbench(fixture_data: dict[str, Any]) -> None:
    fixture_data["schema_version"] = 3
    with pytest.raises(SchemaError, match="newer pushbench"):
        load_results(json.dumps(fixture_data))


@pytest.mark.parametrize("version", [True, "1", 1.0, None])
def test_version_of_the_wrong_type_is_rejected(fixture_data: dict[str, Any], version: Any) -> None:
    fixture_data["schema_version"] = version
    with pytest.raises(SchemaError, match=r"schema_version .* is not supported"):
        load_results(json.dumps(fixture_data))


def test_missing_version_is_rejected(fixture_data: dict[str, Any]) -> None:
    del fixture_data["schema_version"]
    with pytest.raises(SchemaError, match="no schema_version field; supported versions: 1, 2"):
        load_results(json.dumps(fixture_data))


def test_invalid_json_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"schema_version": 1,', encoding="utf-8")
    with pytest.raises(SchemaError, match=r"broken\.json: not valid JSON"):
        load_results(path)


def test_json_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(SchemaError, match="expected a JSON object, found list"):
        load_results(b"[1, 2]")


def test_wrong_shape_names_the_fields(fixture_data: dict[str, Any]) -> None:
    fixture_data["scenarios"][1]["transport"] = "carrier-pigeon"
    fixture_data["scenarios"][0]["sent"] = "20000"  # strict: no string-to-int coercion
    fixture_data["surprise"] = True  # extra fields are forbidden
    with pytest.raises(SchemaError) as info:
        load_results(json.dumps(fixture_data))
    message = str(info.value)
    assert "not a valid schema_version 1 document (3 errors)" in message
    assert "scenarios.1.transport" in message
    assert "scenarios.0.sent" in message
    assert "surprise" in message


def test_naive_datetimes_are_rejected(fixture_data: dict[str, Any]) -> None:
    fixture_data["started_at"] = "2026-11-24T13:00:00"
    with pytest.raises(SchemaError, match="started_at"):
        load_results(json.dumps(fixture_data))


def test_models_are_frozen() -> None:
    doc = load_results(FIXTURE)
    with pytest.raises(ValueError, match="frozen"):
        doc.run_id = "other"


def test_write_results_atomic(tmp_path: Path, fixture_text: str) -> None:
    doc = load_results(fixture_text)
    target = tmp_path / "results.json"
    target.write_text("old", encoding="utf-8")
    write_results_atomic(doc, target)
    assert target.read_text(encoding="utf-8") == fixture_text
    assert os.listdir(tmp_path) == ["results.json"]  # no temporary file left behind


def test_write_results_atomic_keeps_the_old_file_on_failure(
    tmp_path: Path, fixture_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "results.json"
    target.write_text("old", encoding="utf-8")

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_results_atomic(load_results(fixture_text), target)
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["results.json"]


def test_environment_describes_this_process() -> None:
    env = environment()
    assert env.python.split()[1].startswith("3.")
    assert env.packages["pydantic"]
    assert env.packages["hdrhistogram"]
    assert env.git_commit is None or len(env.git_commit) == 40
    # Every package this process imported (issue 19), not a hand-picked list: the test
    # runner's own distributions are there, and the key ones of the server's process.
    assert env.packages["pytest"]
    assert set(package_versions(KEY_PACKAGES)) <= set(env.packages)


def test_missing_packages_are_left_out() -> None:
    assert package_versions(["pydantic", "no-such-distribution-pushbench"]) == {
        "pydantic": package_versions(["pydantic"])["pydantic"]
    }


def test_a_v1_document_without_cpu_clocks_or_framework_tax_still_loads(fixture_text: str) -> None:
    # Written before issue 15: neither field; both read as "not recorded".
    data = json.loads(fixture_text)
    del data["environment"]["cpu_clocks"]
    del data["framework_tax"]
    document = load_results(json.dumps(data))
    assert document.environment.cpu_clocks is None
    assert document.framework_tax == []


def test_every_run_records_how_cpu_was_read() -> None:
    clocks = environment().cpu_clocks
    assert clocks is not None
    assert clocks.server.resolution_ns >= 1
    assert clocks.generator.clock  # e.g. clock_gettime(CLOCK_PROCESS_CPUTIME_ID)
