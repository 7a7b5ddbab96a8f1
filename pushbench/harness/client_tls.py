"""What the harness's clients trust when they speak TLS (``https://``, ``wss://``).

One variable for every client, as for the bearer token (:mod:`pushbench.harness.client_auth`):
``PUSHBENCH_CA_FILE`` names a PEM bundle of certificate authorities. The asyncio drivers, the
raw-socket clients and the Locust users (child processes inherit it) all verify the server's
certificate against it; unset, they trust the system's authorities, as any client would. A
``--tls`` run makes a throwaway authority (:mod:`pushbench.harness.throwaway_ca`) and sets the
variable for the run (:func:`trusting`); ``PUSHBENCH_CA_FILE=my-ca.pem pushbench compare
--target https://...`` measures a server that has a certificate of its own.

The certificate is always verified, hostname included: a client that skips it does less work
than a real one, and the TLS figures would flatter the server.
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["CA_ENV", "TLS_SCHEMES", "client_context", "client_ssl", "is_tls_url", "trusting"]

#: The environment variable holding the CA bundle the clients trust (PEM).
CA_ENV = "PUSHBENCH_CA_FILE"
#: URL schemes that mean TLS.
TLS_SCHEMES = frozenset({"https", "wss"})


def is_tls_url(url: str) -> bool:
    """Whether ``url`` is ``https://`` or ``wss://``."""
    return urlsplit(url).scheme in TLS_SCHEMES


def client_context() -> ssl.SSLContext:
    """A verifying client context trusting ``PUSHBENCH_CA_FILE`` (else the system's CAs).

    Read at each call (one per connection or session, never per message), so a command that
    sets the variable is followed at once; the context itself is built once per bundle.
    """
    return _context(os.environ.get(CA_ENV) or None)


def client_ssl(url: str) -> ssl.SSLContext | None:
    """:func:`client_context` for a TLS URL, None for ``http://`` and ``ws://`` (plain TCP)."""
    return client_context() if is_tls_url(url) else None


@functools.cache
def _context(cafile: str | None) -> ssl.SSLContext:
    # Built from the ssl module at call time: under Locust that is gevent's (monkey-patched),
    # so its sockets cooperate with the other users.
    return ssl.create_default_context(cafile=cafile)


@contextmanager
def trusting(ca_file: Path) -> Iterator[None]:
    """Trust ``ca_file`` in every client of this process and its children, for the block."""
    before = os.environ.get(CA_ENV)
    os.environ[CA_ENV] = str(ca_file)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(CA_ENV, None)
        else:
            os.environ[CA_ENV] = before
