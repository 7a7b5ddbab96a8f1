"""pushbench's Locust options, parsed as Locust would (its parser takes two extra keywords)."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from pushbench.locust.options import ROOM_PATTERN, LoadOptions, OptionsError, add_arguments
from target_app.settings import ROOM_PATTERN as SERVER_ROOM_PATTERN


class LocustLikeParser(argparse.ArgumentParser):
    """argparse accepting Locust's ``env_var`` and ``include_in_web_ui`` keywords."""

    def __init__(self) -> None:
        super().__init__(prog="locust")
        self.hidden: set[str] = set()
        self.env_vars: dict[str, str] = {}

    def add_argument(self, *names: str, **kwargs: Any) -> Any:
        if not kwargs.pop("include_in_web_ui", True):
            self.hidden.add(names[0])
        if "env_var" in kwargs:
            self.env_vars[names[0]] = kwargs.pop("env_var")
        return super().add_argument(*names, **kwargs)


def parse(*argv: str) -> LoadOptions:
    parser = LocustLikeParser()
    add_arguments(parser)
    return LoadOptions.from_namespace(parser.parse_args(list(argv)))


def test_defaults_match_the_dataclass() -> None:
    assert parse() == LoadOptions()
    assert LoadOptions.from_namespace(None) == LoadOptions()
    assert LoadOptions.from_namespace(argparse.Namespace(unrelated=1)) == LoadOptions()


def test_every_option_parses() -> None:
    options = parse(
        "--room", "r-1", "--payload-bytes", "256", "--publish-rate", "50", "--publishers", "3",
        "--echo-rate", "0",
        "--poll-interval", "0.25", "--long-poll-wait", "5", "--drain-timeout", "7",
        "--publisher-round-trip", "--pushbench-out", "out", "--pushbench-run-dir", "out/x",
        "--pushbench-no-report", "--pushbench-dump-samples", "dump",
    )  # fmt: skip
    assert options == LoadOptions(
        room="r-1",
        payload_bytes=256,
        publish_rate=50.0,
        publishers=3,
        echo_rate=0.0,
        poll_interval=0.25,
        long_poll_wait=5.0,
        drain_timeout=7.0,
        publisher_round_trip=True,
        pushbench_out="out",
        pushbench_run_dir="out/x",
        pushbench_no_report=True,
        pushbench_dump_samples="dump",
    )
    assert options.short_poll_name == "short-poll@0.25"
    assert options.drain_s == 7.0
    assert options.publish_interval_ns == 20_000_000
    assert str(options.run_dir("id")) == "out/x"


def test_derived_values() -> None:
    options = LoadOptions(poll_interval=2.0)
    assert options.drain_s == 6.0
    assert options.run_dir("run-1").as_posix() == "reports/run-1"
    assert options.as_config()["poll_interval_s"] == 2.0


def test_file_and_debug_options_stay_out_of_the_web_ui() -> None:
    parser = LocustLikeParser()
    add_arguments(parser)
    assert "--pushbench-dump-samples" in parser.hidden
    assert "--room" not in parser.hidden
    assert parser.env_vars["--room"] == "PUSHBENCH_ROOM"


def test_strings_from_the_environment_or_web_ui_are_converted() -> None:
    namespace = argparse.Namespace(
        payload_bytes="128", publish_rate="2.5", publisher_round_trip="true", room="x"
    )
    options = LoadOptions.from_namespace(namespace)
    assert (options.payload_bytes, options.publish_rate) == (128, 2.5)
    assert options.publisher_round_trip is True


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"room": "no spaces"}, "--room"),
        ({"room": "x" * 65}, "--room"),
        ({"payload_bytes": -1}, "--payload-bytes"),
        ({"publish_rate": 0}, "--publish-rate"),
        ({"publishers": 0}, "--publishers"),
        ({"echo_rate": -1}, "--echo-rate"),
        ({"poll_interval": 0}, "--poll-interval"),
        ({"long_poll_wait": -1}, "--long-poll-wait"),
        ({"drain_timeout": -1}, "--drain-timeout"),
    ],
)
def test_impossible_values_are_refused_by_name(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        LoadOptions(**fields)


def test_non_numbers_are_refused_by_name() -> None:
    with pytest.raises(OptionsError, match="--payload-bytes"):
        LoadOptions.from_namespace(argparse.Namespace(payload_bytes="1.5"))
    with pytest.raises(OptionsError, match="--publish-rate"):
        LoadOptions.from_namespace(argparse.Namespace(publish_rate="fast"))


def test_room_pattern_is_the_servers() -> None:
    assert ROOM_PATTERN == SERVER_ROOM_PATTERN
