"""``python -m pushbench.locust``: the parts that decide what runs (no process is started)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pushbench.core.schema import load_results
from pushbench.harness.resources import ProcessUsage, TreeUsage
from pushbench.locust.run import (
    add_flavor,
    add_server_usage,
    build_locust_command,
    cpu_plan,
    parse_args,
    profile_argument,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "results-v1.json"


def test_extra_arguments_after_the_separator_go_to_locust() -> None:
    args, extra = parse_args(["--users", "5", "--", "--publish-rate", "50", "WebSocketEchoUser"])
    assert args.users == 5
    assert args.processes == 0
    assert extra == ["--publish-rate", "50", "WebSocketEchoUser"]


def test_bad_counts_are_refused() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--users", "0"])


def test_workers_is_refused_not_reinterpreted(capsys: pytest.CaptureFixture[str]) -> None:
    """``--workers`` meant Locust processes here once; elsewhere it means uvicorn workers."""
    with pytest.raises(SystemExit) as exited:
        parse_args(["--workers", "2"])
    assert exited.value.code == 2
    assert "--processes 2" in capsys.readouterr().err


def test_locust_command_runs_headless_into_the_run_dir() -> None:
    args, _ = parse_args(
        ["--users", "50", "--spawn-rate", "5", "--duration", "1m", "--processes", "3"]
    )
    command = build_locust_command(args, "http://h:1", Path("reports/r1"), "room-1", ["X"])
    joined = " ".join(command)
    assert "-m locust -f" in joined
    assert "--headless -u 50 -r 5 -t 1m --host http://h:1" in joined
    assert "--csv reports/r1/locust --html reports/r1/locust.html" in joined
    assert "--room room-1 --pushbench-run-dir reports/r1 --pushbench-no-report" in joined
    assert command[-3:] == ["--processes", "3", "X"]


def test_cpu_plan_gives_the_server_one_cpu_and_locust_the_rest() -> None:
    assert cpu_plan({0, 1, 2, 3}, pin=True) == ([0], [1, 2, 3])
    assert cpu_plan({5}, pin=True) == (None, None)
    assert cpu_plan({0, 1}, pin=False) == (None, None)


def test_server_usage_goes_to_the_only_scenario_or_to_the_config() -> None:
    document = load_results(FIXTURE)
    usage = TreeUsage(cpu_s=2.0, rss_peak_bytes=10, wall_s=5.0, processes=[ProcessUsage(1, "x")])
    mixed = add_server_usage(document, usage, {"ws_impl": "auto"})
    assert mixed.config["server"]["usage"]["cpu_s"] == 2.0
    assert [s.server for s in mixed.scenarios] == [s.server for s in document.scenarios]
    single = document.model_copy(update={"scenarios": document.scenarios[:1]})
    alone = add_server_usage(single, usage, {})
    server = alone.scenarios[0].server
    assert server is not None
    delivered = single.scenarios[0].delivered
    assert server.cpu_us_per_delivered_msg == pytest.approx(2e6 / delivered)


def test_pure_modules_never_import_locust_or_gevent() -> None:
    """Importing Locust monkey-patches the process: only the user and plugin modules may."""
    pure = "aggregate envelopes node options recording results run sse_protocol streams"
    code = (
        "import importlib, sys\n"
        f"for name in {pure.split()!r}: importlib.import_module('pushbench.locust.' + name)\n"
        "import pushbench.locust.ws_client, pushbench.drivers.wsframes\n"
        "import pushbench.drivers.wshandshake\n"
        "assert not {'locust', 'gevent'} & sys.modules.keys(), sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_flavor_option_and_every_scenario_records_it() -> None:
    assert parse_args([])[0].flavor is None  # asgi for our server; unknown for a --target
    assert parse_args(["--flavor", "fastapi"])[0].flavor == "fastapi"
    with pytest.raises(SystemExit):
        parse_args(["--flavor", "flask"])
    document = load_results(FIXTURE)
    tagged = add_flavor(document, "fastapi")
    assert {s.params["flavor"] for s in tagged.scenarios} == {"fastapi"}
    assert add_flavor(document, None) == document


def test_the_profile_goes_to_locust_as_its_custom_argument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, _ = parse_args(["--app", "my.app:app", "--profile", "fastapi-docs-chat"])
    command = build_locust_command(args, "http://h:1", Path("r"), "room", ["X"])
    assert command[-3:] == ["--pushbench-profile", "fastapi-docs-chat", "X"]
    # --app alone: the pyproject.toml whose [tool.pushbench.target] describes the app.
    (tmp_path / "pyproject.toml").write_text("[tool.pushbench.target]\n")
    monkeypatch.chdir(tmp_path)
    args, _ = parse_args(["--app", "my.app:app"])
    assert profile_argument(args) == str(tmp_path / "pyproject.toml")
    assert profile_argument(parse_args([])[0]) is None


def test_flavor_with_your_own_app_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["--app", "my.app:app", "--flavor", "asgi"])
    assert exited.value.code == 2
    assert "your app (--app/--profile) serves its own way" in capsys.readouterr().err
