"""A throwaway certificate authority and server certificate for a ``--tls`` run (trustme).

A run that measures TLS needs a server certificate its clients verify, without asking the user
for one: a fresh authority per run (``trustme``), a certificate for the loopback names the
launcher binds, and three PEM files in the run directory, so the run can be repeated by hand
(``pushbench serve --ssl-keyfile .../server.key --ssl-certfile .../server.pem`` and
``PUSHBENCH_CA_FILE=.../ca.pem``). The key never leaves the machine and is worthless after the
run: nothing else trusts the authority.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization

from pushbench.core.server_config import ServerConfig
from pushbench.harness.client_tls import trusting

__all__ = ["SERVER_NAMES", "TlsFiles", "make_tls_files", "run_tls"]

#: What the certificate is valid for: every address and name a launched server is reached at.
SERVER_NAMES = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The PEM files of one run: the authority clients trust, the server's key and chain."""

    ca_file: Path
    keyfile: Path
    certfile: Path

    def serving(self, server: ServerConfig) -> ServerConfig:
        """``server`` with this key and certificate (``--ssl-keyfile/--ssl-certfile``)."""
        return replace(server, ssl_keyfile=str(self.keyfile), ssl_certfile=str(self.certfile))


def make_tls_files(folder: Path) -> TlsFiles:
    """A new authority and a server certificate for :data:`SERVER_NAMES`, written to ``folder``
    (created if missing): ``ca.pem``, ``server.key`` (mode 0600) and ``server.pem``."""
    folder.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA(organization_name="pushbench throwaway CA")
    issued = authority.issue_cert(*SERVER_NAMES)
    files = TlsFiles(folder / "ca.pem", folder / "server.key", folder / "server.pem")
    authority.cert_pem.write_to_path(str(files.ca_file))
    files.keyfile.touch(mode=0o600)
    # PKCS#8 ("BEGIN PRIVATE KEY"): the one key format every server reads (granian reads no
    # other; trustme writes the traditional EC form).
    key = serialization.load_pem_private_key(issued.private_key_pem.bytes(), password=None)
    files.keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    # The chain a server presents: its certificate, then any intermediates (none here).
    files.certfile.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    return files


@contextlib.contextmanager
def run_tls(run_dir: Path, enabled: bool) -> Iterator[TlsFiles | None]:
    """A ``--tls`` run's files in ``run_dir / "tls"`` (beside the results, so the run can be
    repeated by hand: docs/tls.md), the authority trusted by this process's clients (and the
    subprocesses they start) while the block runs; None, and nothing done, when not ``enabled``.
    """
    if not enabled:
        yield None
        return
    files = make_tls_files(run_dir / "tls")
    with trusting(files.ca_file):
        yield files
