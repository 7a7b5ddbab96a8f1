"""ServerConfig → uvicorn arguments: each ``--http-impl`` runs its head-bounded protocol."""

from __future__ import annotations

import pytest
from uvicorn.importer import import_from_string
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pushbench.core.server_config import HTTP_IMPLS, HTTP_PROTOCOLS, ServerConfig


def test_every_http_impl_has_a_protocol() -> None:
    assert set(HTTP_PROTOCOLS) == set(HTTP_IMPLS)


@pytest.mark.parametrize(
    ("impl", "base"),
    [("h11", H11Protocol), ("httptools", HttpToolsProtocol), ("auto", HttpToolsProtocol)],
)
def test_the_protocol_is_uvicorns_with_a_head_bound(impl: str, base: type) -> None:
    args = ServerConfig(http_impl=impl).uvicorn_args()
    protocol = import_from_string(args[args.index("--http") + 1])
    assert issubclass(protocol, base)
    assert protocol.__module__ == "target_app.http_head"
