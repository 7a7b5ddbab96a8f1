"""Target profiles: validated descriptions of how to drive an app; bad ones refused in one line."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from pushbench.core.target_profile import (
    BUILTIN_PROFILES,
    ProfileError,
    fill,
    load_profile,
    parse_profile,
    resolve_profile,
)

CHAT = {
    "name": "chat",
    "ws": {"path": "/ws/{client}"},
    "publish": {"http": {"url": "/rooms/{room}/messages", "body": '{"text": "{token}"}'}},
    "short_poll": {"url": "/rooms/{room}?after={cursor}", "messages": "/items", "cursor": "/next"},
}


def test_the_built_ins_are_valid_and_say_what_they_offer() -> None:
    assert set(BUILTIN_PROFILES) == {"reference", "tutorial", "fastapi-docs-chat"}
    assert list(BUILTIN_PROFILES["reference"].offered()) == [
        "echo", "ws", "short-poll", "long-poll", "sse"
    ]  # fmt: skip
    assert list(BUILTIN_PROFILES["tutorial"].offered()) == ["echo"]
    assert list(BUILTIN_PROFILES["fastapi-docs-chat"].offered()) == ["ws"]
    assert BUILTIN_PROFILES["reference"].reference
    assert not BUILTIN_PROFILES["fastapi-docs-chat"].reference


def test_a_transport_the_app_does_not_offer_is_skipped_with_the_reason() -> None:
    skipped = BUILTIN_PROFILES["fastapi-docs-chat"].skipped(("ws", "short-poll", "sse"))
    assert skipped == {
        "short-poll": "profile 'fastapi-docs-chat' offers no short-poll endpoint",
        "sse": "profile 'fastapi-docs-chat' offers no sse endpoint",
    }


def test_a_json_body_template_needs_no_escaping() -> None:
    profile = parse_profile(CHAT, "chat.toml")
    assert profile.publish is not None
    assert profile.publish.http is not None
    body = fill(profile.publish.http.body, {"token": "pb1.p.1.2"})
    assert body == '{"text": "pb1.p.1.2"}'


def test_fill_replaces_each_placeholder_once() -> None:
    assert fill("/r/{room}/{room}", {"room": "{room}x"}) == "/r/{room}x/{room}x"


def _with(table: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """``table`` (deep-copied) with ``dotted`` set to ``value`` (``None``: the key removed)."""
    out = copy.deepcopy(table)
    *parents, last = dotted.split(".")
    node = out
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return out


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (_with(CHAT, "ws.pth", "/x"), "chat.toml: ws.pth: unknown key"),
        (_with(CHAT, "colour", "red"), "chat.toml: colour: unknown key"),
        (_with(CHAT, "ws.path", None), "chat.toml: ws.path: Field required"),
        (
            _with(CHAT, "publish.http.body", '{"text": "hi"}'),
            "chat.toml: publish.http.body: no {token} in '{\"text\": \"hi\"}': receivers would "
            "have nothing to find",
        ),
        (
            _with(CHAT, "ws.path", "/ws/{user}"),
            "chat.toml: ws.path: unknown placeholder(s) user in '/ws/{user}'; a path may use "
            "client, cursor, room, wait",
        ),
        (
            _with(CHAT, "short_poll.cursor", None),
            "chat.toml: short_poll: the url has {cursor}: say where the next one is (cursor = ...)",
        ),
        (
            _with(CHAT, "short_poll.messages", "items"),
            "chat.toml: short_poll.messages: a JSON pointer is empty or starts with '/': 'items'",
        ),
        (
            _with(CHAT, "publish", None),
            "chat.toml: (profile): ws, short_poll need messages to receive: add a [publish] "
            "section",
        ),
        (
            _with(CHAT, "publish.ws", {"path": "/ws/{client}"}),
            "chat.toml: publish: give exactly one of ws and http",
        ),
        (
            {"name": "x", "echo": {"path": "ws"}},
            "chat.toml: echo.path: a path starts with '/': 'ws'",
        ),
        (
            {"name": "x", "publish": {"ws": {"path": "/p"}}, "long_poll": {
                "url": "/p?after={cursor}", "messages": "", "cursor": "/n"}},
            "chat.toml: (profile): long_poll.url has no {wait}: '/p?after={cursor}'",
        ),
        ({"name": "x"}, "chat.toml: (profile): the profile offers no transport: add echo, ws, "
         "polls or sse"),
    ],
)  # fmt: skip
def test_a_bad_profile_is_refused_in_one_line_naming_the_key(
    table: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(table, "chat.toml")
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_a_profile_is_read_from_the_app_s_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "app"\n\n[tool.pushbench.target]\nname = "app"\n\n'
        '[tool.pushbench.target.echo]\npath = "/echo"\nframe = "say {token}"\n'
    )
    profile = load_profile(pyproject)
    assert profile.echo is not None
    assert profile.echo.frame == "say {token}"


def test_a_pyproject_without_a_profile_says_so(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "app"\n')
    with pytest.raises(ProfileError, match=r"no \[tool.pushbench.target\] table"):
        load_profile(pyproject)


def test_a_profile_file_of_its_own_holds_the_keys_at_its_top_level(tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_text('name = "t"\n[echo]\npath = "/ws"\n')
    assert resolve_profile(str(path)).name == "t"


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("tutorail", "unknown profile 'tutorail': a TOML file, or one of reference, tutorial, "),
        ("missing.toml", "cannot read profile missing.toml: No such file or directory"),
    ],
)
def test_an_unknown_profile_name_or_file_is_refused(argument: str, message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        resolve_profile(argument)
    assert str(caught.value).startswith(message)


def test_a_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("name = \n")
    with pytest.raises(ProfileError, match=r"p.toml: not TOML"):
        load_profile(path)
