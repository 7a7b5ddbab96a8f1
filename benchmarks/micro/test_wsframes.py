"""The WebSocket frame codec's hot paths (``pushbench.drivers.wsframes``): what a load
generator spends per message encoding a client frame and reading a server's.

``plain`` is what every client did before permessage-deflate and still does with it off: these
figures must not move when the compressed path changes. ``deflate`` is the same work through a
negotiated permessage-deflate (``pushbench.drivers.wsdeflate``), context takeover on.
"""

from __future__ import annotations

import random

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from pushbench.drivers.wsdeflate import DeflateParams, PerMessageDeflate
from pushbench.drivers.wsframes import FrameReader, Opcode, encode_server_frame, encode_text

#: 100 server text frames of 64 bytes in one read: a fan-out subscriber's typical read.
_BATCH = 100


@pytest.mark.benchmark(group="wsframes-encode")
def test_encode_text_64b(benchmark: BenchmarkFixture) -> None:
    """One masked client text frame of a 64-byte payload (a publisher's or echo's send)."""
    payload = b"x" * 64
    frame = benchmark(encode_text, payload)
    assert len(frame) == 2 + 4 + 64


@pytest.mark.benchmark(group="wsframes-next")
def test_reader_next_64b(benchmark: BenchmarkFixture) -> None:
    """Feed one 64-byte server text frame and read it back as a message (the echo case)."""
    frame = encode_server_frame(Opcode.TEXT, b"x" * 64)
    reader = FrameReader()

    def one() -> tuple[Opcode, bytes] | None:
        reader.feed(frame)
        return reader.next()

    message = benchmark(one)
    assert message == (Opcode.TEXT, b"x" * 64)


@pytest.mark.benchmark(group="wsframes-skip")
def test_reader_skip_data_batch(benchmark: BenchmarkFixture) -> None:
    """Count 100 whole 64-byte server frames of one read without materialising them."""
    data = encode_server_frame(Opcode.TEXT, b"x" * 64) * _BATCH
    reader = FrameReader()
    count = benchmark(reader.skip_data, data)
    assert count == _BATCH


@pytest.mark.benchmark(group="wsframes-deflate")
@pytest.mark.parametrize("kind", ["text", "random"])
def test_deflate_encode_text_64b(benchmark: BenchmarkFixture, kind: str) -> None:
    """One compressed client text frame of 64 bytes, context kept (what a deflate client pays
    on top of :func:`test_encode_text_64b`)."""
    payload = b"x" * 64 if kind == "text" else random.Random(1).randbytes(64)
    deflate = PerMessageDeflate(DeflateParams())
    frame = benchmark(deflate.encode_text, payload)
    assert frame[0] == 0xC1


@pytest.mark.benchmark(group="wsframes-deflate")
@pytest.mark.parametrize("kind", ["text", "random"])
def test_deflate_reader_next_64b(benchmark: BenchmarkFixture, kind: str) -> None:
    """Feed and inflate one compressed 64-byte server text message, context kept."""
    payload = b"x" * 64 if kind == "text" else random.Random(1).randbytes(64)
    server = PerMessageDeflate(DeflateParams(), client=False)
    first = encode_server_frame(Opcode.TEXT, server.compress(payload), rsv1=True)
    repeat = encode_server_frame(Opcode.TEXT, server.compress(payload), rsv1=True)
    reader = FrameReader(deflate=PerMessageDeflate(DeflateParams()))
    reader.feed(first)
    assert reader.next() == (Opcode.TEXT, payload)

    def one() -> tuple[Opcode, bytes] | None:
        # The second message of the context repeated: it refers to a window that keeps
        # holding the payload, so it inflates to the payload every time.
        reader.feed(repeat)
        return reader.next()

    message = benchmark(one)
    assert message == (Opcode.TEXT, payload)
