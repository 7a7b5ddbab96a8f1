"""The worker class ``--server gunicorn`` runs: uvicorn's gunicorn worker, with pushbench's uvicorn
options.

gunicorn's command line has no place for uvicorn's options (event loop, WebSocket and HTTP
implementation, permessage-deflate): its uvicorn worker takes them from the class attribute
``CONFIG_KWARGS``, which deployments set in a subclass. This is that subclass; its options come
from the environment variable the launcher sets (:data:`GUNICORN_WORKER_ENV`, JSON of uvicorn
``Config`` keyword arguments built by :mod:`pushbench.core.server_argv`), read when gunicorn
imports the class in its arbiter, before it forks the workers. It runs in the server's
processes only: ``target_app`` still imports nothing of pushbench.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, ClassVar

import uvicorn_worker

from pushbench.core.server_argv import GUNICORN_WORKER_ENV

__all__ = ["UvicornWorker", "worker_kwargs"]


def worker_kwargs(environ: Mapping[str, str]) -> dict[str, Any]:
    """The uvicorn ``Config`` options in ``environ`` (none when the variable is unset).

    Raises:
        ValueError: The variable holds something other than a JSON object.
    """
    text = environ.get(GUNICORN_WORKER_ENV)
    if not text:
        return {}
    kwargs = json.loads(text)
    if not isinstance(kwargs, dict):
        raise ValueError(f"{GUNICORN_WORKER_ENV} must be a JSON object, not {text!r}")
    return kwargs


class UvicornWorker(uvicorn_worker.UvicornWorker):  # type: ignore[misc]  # untyped base
    """``uvicorn_worker.UvicornWorker`` with the run's uvicorn options."""

    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        **uvicorn_worker.UvicornWorker.CONFIG_KWARGS,
        **worker_kwargs(os.environ),
    }
