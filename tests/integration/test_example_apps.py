"""The example apps of ``examples/`` under uvicorn, started by the launcher like any user's app
(no ``/healthz``), and the payload token surviving whatever text they wrap it in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from pushbench.core.payload_token import Token, find_tokens, make_token
from pushbench.core.server_config import ServerConfig
from pushbench.harness.launcher import ServerProcess, ServerStartError
from tests.conftest import timeout

ROOT = Path(__file__).parents[2]


def _example(name: str, tmp_path: Path) -> ServerProcess:
    config = ServerConfig(app=f"examples.{name}:app", app_dir=str(ROOT), health_path=None)
    return ServerProcess(config, tmp_path / f"{name}.log")


@pytest.fixture
def tutorial(tmp_path: Path) -> Iterator[ServerProcess]:
    with _example("tutorial_app", tmp_path) as server:
        yield server


@pytest.fixture
def docs_chat(tmp_path: Path) -> Iterator[ServerProcess]:
    with _example("docs_chat_app", tmp_path) as server:
        yield server


def test_the_tutorial_echo_carries_the_token_back(tutorial: ServerProcess) -> None:
    async def main() -> str:
        async with connect(tutorial.ws_url + "/ws") as ws:
            await ws.send(make_token("p0", 7, 123))
            return str(await asyncio.wait_for(ws.recv(), timeout(5)))

    reply = asyncio.run(main())
    assert reply.startswith("Your text was: ")
    assert find_tokens(reply) == [Token("p0", 7, 123)]


def test_the_docs_chat_broadcast_reaches_every_client_with_the_token(
    docs_chat: ServerProcess,
) -> None:
    async def main() -> tuple[list[str], list[str]]:
        async with (
            connect(docs_chat.ws_url + "/ws/1") as sender,
            connect(docs_chat.ws_url + "/ws/2") as other,
        ):
            await sender.send("hello")  # both joined: the broadcast of "hello" reaches both
            assert "hello" in str(await asyncio.wait_for(other.recv(), timeout(5)))
            await sender.send(make_token("p1", 0, 5))
            own = [str(await asyncio.wait_for(sender.recv(), timeout(5))) for _ in range(4)]
            seen = [str(await asyncio.wait_for(other.recv(), timeout(5)))]
            return own, seen

    own, seen = asyncio.run(main())
    token = Token("p1", 0, 5)
    # The sender: "You wrote: hello" and its broadcast, not read yet; then the same for the token.
    assert [find_tokens(frame) for frame in own] == [[], [], [token], [token]]
    assert seen == [f"Client #1 says: {make_token(*token)}"]


def test_an_app_that_cannot_be_imported_fails_the_start_with_uvicorn_s_message(
    tmp_path: Path,
) -> None:
    config = ServerConfig(app="examples.no_such_app:app", app_dir=str(ROOT), health_path=None)
    with pytest.raises(ServerStartError, match="Could not import module"):
        ServerProcess(config, tmp_path / "bad.log").start()
