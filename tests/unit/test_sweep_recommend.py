"""The sweep's recommendation on fixture data: pick, reasons, knees, and what it cannot tell."""

from __future__ import annotations

from datetime import UTC, datetime

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.schema import (
    Environment,
    ResultsDocument,
    Scenario,
    ServerCost,
    latency_summary,
)
from pushbench.report import render_markdown, verdict
from pushbench.report.charts import charts
from pushbench.sweep.matrix import SweepConfig
from pushbench.sweep.recommend import (
    Context,
    Measurement,
    measurements_from_document,
    recommend,
    recommend_document,
)
from pushbench.sweep.report import sweep_rows


def measured(
    workers: int,
    loop: str = "uvloop",
    *,
    echo: float,
    fanout: float,
    poll: float,
    p99_ms: float,
    cpu: float = 30.0,
    lost: int = 0,
    ws: str = "websockets-sansio",
) -> Measurement:
    broker = "memory" if workers == 1 else "redis"
    return Measurement(
        SweepConfig(workers, loop, ws, "httptools", broker),
        throughput={"echo": echo, "fanout": fanout, "poll": poll},
        push_p99_us=round(p99_ms * 1000),
        push_lost=lost,
        cpu_us_per_msg=cpu,
    )


#: A machine with enough cores: throughput grows to 4 workers, flat at 8; uvloop is faster.
SCALING = [
    measured(1, "asyncio", echo=10_000, fanout=30_000, poll=2_000, p99_ms=4),
    measured(1, echo=14_000, fanout=45_000, poll=3_000, p99_ms=3),
    measured(2, echo=26_000, fanout=80_000, poll=5_500, p99_ms=4),
    measured(4, echo=45_000, fanout=140_000, poll=9_000, p99_ms=6),
    measured(8, echo=46_000, fanout=142_000, poll=9_200, p99_ms=9, cpu=35),
]


def test_best_throughput_within_the_slo_with_the_simplest_near_tie() -> None:
    result = recommend(SCALING, Context(p99_slo_us=50_000, cpu_count=16, server_cpus=12))
    # 8 workers is within noise of 4: the fewer workers win.
    assert result.config == SweepConfig(4, "uvloop", "websockets-sansio", "httptools", "redis")
    assert result.reasons[0].startswith("within 5% of the best throughput within the SLO")
    assert "fewer workers" in result.reasons[0]
    assert "meets the 50 ms SLO" in result.reasons[1]
    assert result.headline.startswith("Recommended: --workers 4 --loop uvloop")
    assert result.knees == (
        "uvloop websockets-sansio httptools: adding workers stops helping at 4 "
        "(4→8 workers: +2% throughput)",
    )
    assert result.effects == ("loop uvloop vs asyncio: +47% throughput (1 paired configuration)",)
    assert result.scores["w8 uvloop websockets-sansio httptools"] == 1.0


def test_the_slo_and_losses_exclude_configurations() -> None:
    tight = recommend(SCALING, Context(p99_slo_us=5_000))
    assert tight.config is not None
    assert tight.config.workers == 2  # 4 and 8 workers miss a 5 ms p99
    lossy = [*SCALING[:3], measured(4, echo=45_000, fanout=140_000, poll=9_000, p99_ms=6, lost=3)]
    result = recommend(lossy, Context(p99_slo_us=50_000))
    assert result.config is not None
    assert result.config.workers == 2
    none = recommend(SCALING, Context(p99_slo_us=1_000))
    assert none.config is None
    assert none.headline == (
        "No configuration can be recommended: no configuration met the push p99 SLO of 1 ms "
        "without losses or errors"
    )


def test_two_shared_cores_say_worker_scaling_cannot_be_concluded() -> None:
    # This machine: 2 CPUs, server pinned to one, generator to the other; 2 workers lose.
    here = [
        measured(1, echo=18_000, fanout=49_000, poll=3_100, p99_ms=6),
        measured(2, echo=13_000, fanout=22_000, poll=1_100, p99_ms=300),
    ]
    context = Context(cpu_count=2, server_cpus=1, generator_cpus=1, duration_s=3.0)
    result = recommend(here, context)
    assert result.config is not None
    assert result.config.workers == 1
    assert result.reasons[2] == "the lowest server CPU per message (30 µs)"
    assert result.knees[0].endswith("stops helping at 1 (1→2 workers: -51% throughput)")
    notes = "\n".join(result.not_concluded)
    assert "pinned to 1 of 2 CPUs, the generator on 1, so 2 workers time-share 1 CPU" in notes
    assert "needs at least 3 CPUs" in notes
    assert "in-process broker and more workers on Redis" in notes
    assert "one run of 3 s per workload" in notes


def test_differences_within_noise_are_not_concluded() -> None:
    pair = [
        measured(1, echo=10_000, fanout=30_000, poll=2_000, p99_ms=3),
        measured(1, echo=10_100, fanout=30_300, poll=2_010, p99_ms=3, ws="wsproto"),
    ]
    result = recommend(pair, Context(server_cpus=None, cpu_count=2))
    assert result.effects == ()
    assert any("ws impl wsproto vs websockets-sansio: within 5%" in n for n in result.not_concluded)
    # Near tie on one worker: the lower CPU per message (equal here) then the higher score.
    assert result.config is not None
    assert result.config.ws_impl == "wsproto"


def test_saturated_generator_and_skipped_configurations_are_reported() -> None:
    saturated = Measurement(
        SweepConfig(1, "uvloop", "wsproto", "h11", "memory"),
        throughput={"echo": 1.0, "fanout": 1.0, "poll": 1.0},
        push_p99_us=1000,
        saturated=("echo",),
    )
    result = recommend([saturated], Context(skipped=("w4 uvloop wsproto h11: budget",)))
    assert any("generator was saturated in 1 measurement" in n for n in result.not_concluded)
    assert "Not measured: w4 uvloop wsproto h11: budget" in result.not_concluded


# --- from a results document (as `pushbench sweep` writes it) --------------------------------


def scenario(config: SweepConfig, workload: str, rate: float, p99_us: int = 0) -> Scenario:
    histogram = LatencyHistogram()
    if p99_us:
        histogram.record_ns(p99_us * 1000, 100)
    params = {**config.params(), "workload": workload}
    if workload == "push":
        params["connections_per_worker"] = [30, 22][: config.workers]
    return Scenario(
        name=f"{workload}/{config.slug}",
        transport={"echo": "echo", "poll": "short-poll"}.get(workload, "ws"),
        params=params,
        latency_us=latency_summary(histogram),
        sent=1000,
        delivered=1000,
        lost=0,
        duplicated=0,
        reordered=0,
        unexpected=0,
        throughput_msgs_per_s=rate,
        server=ServerCost(cpu_s=0.1, rss_peak_bytes=60 * 2**20, cpu_us_per_delivered_msg=25.0),
        generator=None,
        http_requests=None,
        http_requests_per_delivered_msg=None,
    )


def sweep_document() -> ResultsDocument:
    one = SweepConfig(1, "uvloop", "websockets-sansio", "httptools", "memory")
    two = SweepConfig(2, "uvloop", "websockets-sansio", "httptools", "redis")
    scenarios = []
    for config, factor, p99 in ((one, 1.0, 5_000), (two, 0.6, 200_000)):
        scenarios += [
            scenario(config, "echo", 18_000 * factor),
            scenario(config, "fanout", 50_000 * factor),
            scenario(config, "poll", 3_000 * factor),
            scenario(config, "push", 25_000, p99),
        ]
    return ResultsDocument(
        kind="sweep",
        run_id="20261124-150000-sweep-abcd",
        started_at=datetime(2026, 11, 24, 15, tzinfo=UTC),
        environment=Environment(
            python="CPython 3.11.9", platform="Linux", cpu_count=2, packages={}, git_commit=None
        ),
        config={
            "p99_slo_ms": 50,
            "server_cpus": [0],
            "generator_cpus": [1],
            "duration_s": 3.0,
            "skipped": [{"label": "w4 uvloop websockets-sansio httptools", "reason": "budget"}],
        },
        scenarios=scenarios,
    )


def test_measurements_and_recommendation_from_a_document() -> None:
    document = sweep_document()
    measurements = measurements_from_document(document)
    assert [m.config.workers for m in measurements] == [1, 2]
    assert measurements[1].connections_per_worker == (30, 22)
    assert measurements[0].throughput == {"echo": 18_000, "fanout": 50_000, "poll": 3_000}
    result = recommend_document(document)
    assert result is not None
    assert result.config is not None
    assert result.config.workers == 1
    assert "Not measured: w4 uvloop websockets-sansio httptools: budget" in result.not_concluded
    assert any("time-share 1 CPU" in n for n in result.not_concluded)
    assert recommend_document(document.model_copy(update={"kind": "compare"})) is None


def test_the_report_shows_the_recommendation_and_the_configurations() -> None:
    document = sweep_document()
    assert verdict(document).startswith("Recommended: --workers 1 --loop uvloop")
    headings, rows = sweep_rows(document)
    assert headings[0] == "configuration"
    assert rows[1][0] == "w2 uvloop websockets-sansio httptools"
    assert rows[1][8] == "30/22"
    assert rows[0][-1] == "100%"
    markdown = render_markdown(document)
    for title in ("### Configurations", "### Recommendation", "### What this run could not"):
        assert title in markdown
    assert [chart.id for chart in charts(document)] == ["sweep", "latency", "cost", "delivery"]


def test_the_configurations_table_shows_push_publishes_that_failed() -> None:
    document = sweep_document()
    scenarios = [
        s.model_copy(update={"publishes_attempted": 6_000, "publishes_sent": 2_500})
        if s.params.get("workload") == "push" and s.params.get("workers") == 2
        else s
        for s in document.scenarios
    ]
    headings, rows = sweep_rows(document.model_copy(update={"scenarios": scenarios}))
    lost = headings.index("push lost")
    assert [row[lost] for row in rows] == ["0", "0, 3,500 publishes failed"]


def test_the_flavor_is_an_effect_and_named_in_the_pick() -> None:
    """``sweep --flavor asgi,fastapi``: fastapi's polls are dearer, so its throughput is lower;
    the recommendation says so as it says any other dimension's effect."""

    def flavored(flavor: str, poll: float) -> Measurement:
        return Measurement(
            SweepConfig(1, "uvloop", "websockets-sansio", "httptools", "memory", flavor),
            throughput={"echo": 14_000, "fanout": 45_000, "poll": poll},
            push_p99_us=3_000,
            cpu_us_per_msg=30.0,
        )

    pick_fastapi = recommend(
        [flavored("fastapi", 8_000), flavored("asgi", 2_000)], Context(cpu_count=2)
    )
    assert pick_fastapi.headline.startswith(
        "Recommended: --workers 1 --loop uvloop --ws websockets-sansio --http httptools "
        "--flavor fastapi (memory broker)"
    )
    result = recommend([flavored("asgi", 8_000), flavored("fastapi", 2_000)], Context(cpu_count=2))
    assert result.config is not None
    assert result.config.flavor == "asgi"
    assert "--flavor" not in result.headline  # the default is not said
    assert result.effects == ("flavor fastapi vs asgi: -37% throughput (1 paired configuration)",)


def _on(server: str, echo: float, cpu: float, p99_ms: float = 5.0) -> Measurement:
    ws, http = ("websockets-sansio", "httptools") if server == "uvicorn" else ("auto", "auto")
    return Measurement(
        SweepConfig(1, "uvloop", ws, http, "memory", server=server),
        throughput={"echo": echo, "fanout": echo * 3, "poll": echo / 4},
        push_p99_us=round(p99_ms * 1000),
        cpu_us_per_msg=cpu,
    )


def test_a_faster_server_is_recommended_with_the_measured_reason() -> None:
    result = recommend([_on("uvicorn", 10_000, 40.0), _on("granian", 15_000, 25.0)], Context())
    assert result.config is not None
    assert result.config.server == "granian"
    assert result.headline.startswith("Recommended: --server granian --workers 1 --loop uvloop")
    assert (
        "switch server to granian: +50% throughput against uvicorn's best "
        "(w1 uvloop websockets-sansio httptools); server CPU 25 vs 40 µs per message"
    ) in result.reasons


def test_uvicorn_is_kept_when_the_other_server_is_slower_or_breaks_the_slo() -> None:
    slower = recommend([_on("uvicorn", 10_000, 40.0), _on("hypercorn", 5_000, 80.0)], Context())
    assert slower.config is not None
    assert slower.config.server == "uvicorn"
    assert any(
        r.startswith("stay on uvicorn: +100% throughput against hypercorn's best (w1 uvloop")
        for r in slower.reasons
    )
    late = _on("granian", 30_000, 20.0, p99_ms=900.0)
    over_slo = recommend([_on("uvicorn", 10_000, 40.0), late], Context())
    assert over_slo.config is not None
    assert over_slo.config.server == "uvicorn"
    assert not any("server" in r and "granian" in r for r in over_slo.reasons)


def test_deflate_on_and_off_are_two_configurations_and_the_pick_says_which() -> None:
    """A sweep with ``--ws-per-message-deflate off,on``: the two are read back as two
    configurations (they used to collapse into one), and the recommended command line carries
    ``--ws-per-message-deflate`` when the pick has it on."""
    off = SweepConfig(1, "uvloop", "websockets-sansio", "httptools", "memory")
    on = SweepConfig(1, "uvloop", "websockets-sansio", "httptools", "memory", deflate=True)
    scenarios = []
    for config, factor in ((off, 0.5), (on, 1.0)):
        scenarios += [
            scenario(config, "echo", 18_000 * factor),
            scenario(config, "fanout", 50_000 * factor),
            scenario(config, "poll", 3_000 * factor),
            scenario(config, "push", 25_000, 5_000),
        ]
    document = sweep_document().model_copy(update={"scenarios": scenarios})
    measurements = measurements_from_document(document)
    assert [m.config for m in measurements] == [off, on]
    result = recommend_document(document)
    assert result is not None
    assert result.config == on
    assert "--ws-per-message-deflate" in result.headline
