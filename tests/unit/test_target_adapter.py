"""Target adapters, pure: a profile and a Python adapter answer the drivers the same way, and an
adapter that cannot be used says so in one line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from examples.binary_relay_adapter import HEAD, RELAYED, BinaryRelayAdapter
from pushbench.core.kinds import Transport
from pushbench.core.payload_token import Token, make_token
from pushbench.core.target_adapter import Adapter, AdapterError, PublishTarget, load_adapter
from pushbench.core.target_profile import BUILTIN_PROFILES, ProfileError, resolve_profile

TOKEN = make_token("pub-0", 7, 123)


def test_the_reference_profile_speaks_through_the_adapter_interface() -> None:
    profile = BUILTIN_PROFILES["reference"]
    assert profile.ws_subscribe_path("r1", 3) == "/ws/rooms/r1"
    assert profile.publish_target("r1", 3) == PublishTarget("ws", "/ws/rooms/r1?receive=false")
    assert profile.encode_publish(TOKEN, "xx", "r1", 3) == f"{TOKEN} xx"  # "{token} {payload}"
    assert profile.sse_path("r1", 3) == "/rooms/r1/events"
    assert profile.initial_cursor(Transport.LONG_POLL) == "0"
    path = profile.poll_path(Transport.LONG_POLL, "r1", 3, "5", None)
    assert path == "/rooms/r1/messages?after=5&wait=30"
    assert profile.poll_path(Transport.LONG_POLL, "r1", 3, "5", 2.5).endswith("&wait=2.5")
    page = profile.parse_poll(
        Transport.SHORT_POLL, b'{"messages": [{"t": "%s"}, "hi"], "next": 9}' % TOKEN.encode()
    )
    assert page.cursor == "9"
    assert [profile.find_tokens(item) for item in page.items] == [[Token("pub-0", 7, 123)], []]
    with pytest.raises(LookupError):
        profile.parse_poll(Transport.SHORT_POLL, b'{"messages": 3, "next": 9}')


def test_the_tutorial_profile_echoes_a_token_frame() -> None:
    tutorial = BUILTIN_PROFILES["tutorial"]
    assert tutorial.echo_path(1) == "/ws"
    assert tutorial.encode_echo(TOKEN, "pad", 1) == f"{TOKEN} pad"


def test_a_python_adapter_round_trips_its_own_binary_frames() -> None:
    adapter = BinaryRelayAdapter()
    assert adapter.name == "binary-relay"
    assert adapter.skipped(["ws", "sse"]) == {
        "sse": "adapter 'binary-relay' offers no sse endpoint"
    }
    sent = adapter.encode_publish(TOKEN, "x" * 10, "r", 1)
    assert isinstance(sent, bytes)
    assert TOKEN.encode() not in sent  # compressed: hidden
    relayed = HEAD.pack(RELAYED, len(sent) - HEAD.size + 8) + b"\0" * 8 + sent[HEAD.size :]
    assert adapter.find_tokens(relayed) == [Token("pub-0", 7, 123)]
    page = adapter.parse_poll(Transport.SHORT_POLL, (12).to_bytes(8, "big") + relayed * 2)
    assert page.cursor == "12"
    assert page.items == [relayed, relayed]
    with pytest.raises(ValueError, match="no cursor"):
        adapter.parse_poll(Transport.SHORT_POLL, b"\0")


def test_what_an_adapter_does_not_override_says_which_method() -> None:
    class Bare(Adapter):
        transports = ("ws",)

    bare = Bare()
    assert bare.name == "Bare"
    assert list(bare.offered()) == [Transport.WS]
    assert bare.find_tokens(f"<{TOKEN}>") == [Token("pub-0", 7, 123)]
    with pytest.raises(NotImplementedError, match="adapter 'Bare': ws_subscribe_path"):
        bare.ws_subscribe_path("r", 1)


@pytest.mark.parametrize(
    ("transports", "message"),
    [((), "adapter 'Bad': transports: it offers none"), (("carrier-pigeon",), "'carrier-pigeon'")],
)
def test_an_adapter_must_offer_known_transports(transports: tuple[str, ...], message: str) -> None:
    class Bad(Adapter):
        pass

    Bad.transports = transports
    with pytest.raises(AdapterError, match=message):
        Bad()


def test_an_adapter_is_imported_from_the_folders_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_adapter_mod.py").write_text(
        "from pushbench.core.target_adapter import Adapter\n"
        "class Chat(Adapter):\n    transports = ('ws',)\n"
        "chat = Chat()\n"
        "class Broken(Adapter):\n    transports = ('ws',)\n"
        "    def __init__(self):\n        raise RuntimeError('no config')\n"
    )
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert load_adapter("my_adapter_mod:Chat", [str(tmp_path)]).name == "Chat"
    assert resolve_profile("my_adapter_mod:chat").name == "Chat"  # an instance
    with pytest.raises(
        ProfileError, match=r"^adapter my_adapter_mod:Broken: RuntimeError: no config$"
    ):
        resolve_profile("my_adapter_mod:Broken")
    with pytest.raises(ProfileError, match='Could not import module "nope_mod"'):
        resolve_profile("nope_mod:X")
