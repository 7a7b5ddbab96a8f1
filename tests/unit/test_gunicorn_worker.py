"""The gunicorn worker class: uvicorn's, with the uvicorn options the launcher passes."""

from __future__ import annotations

import json

import pytest
import uvicorn_worker

from pushbench.core.server_argv import GUNICORN_WORKER, GUNICORN_WORKER_ENV, Bind, server_command
from pushbench.core.server_config import ServerConfig
from pushbench.harness import gunicorn_worker
from pushbench.harness.gunicorn_worker import worker_kwargs


def test_the_worker_named_on_the_command_line_is_uvicorns() -> None:
    module, _, name = GUNICORN_WORKER.rpartition(".")
    assert module == gunicorn_worker.__name__
    assert issubclass(getattr(gunicorn_worker, name), uvicorn_worker.UvicornWorker)


def test_the_worker_reads_what_the_command_builder_wrote() -> None:
    """What ``server_command`` puts in the environment is what the worker hands uvicorn."""
    config = ServerConfig(server="gunicorn", loop="asyncio", ws_impl="websockets")
    environ = server_command(config, Bind(fd=3)).environ({})
    kwargs = worker_kwargs(environ)
    assert (kwargs["loop"], kwargs["ws"]) == ("asyncio", "websockets")
    assert kwargs["http"].startswith("target_app.http_head:")


def test_no_variable_no_options() -> None:
    assert worker_kwargs({}) == {}


def test_a_variable_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="must be a JSON object"):
        worker_kwargs({GUNICORN_WORKER_ENV: json.dumps(["loop", "uvloop"])})
