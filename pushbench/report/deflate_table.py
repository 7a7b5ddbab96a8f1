"""What permessage-deflate did to the WebSocket scenarios: bytes per delivery, measured.

One row per WebSocket scenario that measured its bytes (``Scenario.ws_bytes_per_delivery``),
with the permessage-deflate setting and payload kind it ran with, next to the server's CPU per
delivered message: a run with ``--ws-per-message-deflate`` beside one without (or runs of each
``--payload``) read side by side, every figure labelled with the flavor it is about.
"""

from __future__ import annotations

from typing import Final

from pushbench.core.kinds import Transport
from pushbench.core.payload_kind import DEFAULT_PAYLOAD_KIND
from pushbench.core.schema import ResultsDocument, Scenario
from pushbench.core.units import format_value

__all__ = ["DEFLATE_COLUMNS", "DEFLATE_NOTE", "deflate_label", "deflate_table"]

DEFLATE_COLUMNS: Final = (
    "scenario",
    "permessage-deflate",
    "payload",
    "ws bytes/delivery",
    "server CPU µs/msg",
    "generator CPU %",
)
DEFLATE_NOTE: Final = (
    "WebSocket bytes per delivered message are measured: the subscribers' clients count the "
    "frames they receive after the handshake (compressed or not; no TCP/IP or TLS overhead). "
    "The envelope around the payload (~120 B of JSON) compresses too (docs/deflate.md)."
)


def deflate_label(scenario: Scenario) -> str:
    """``on``, ``off``, or ``not recorded`` (a document from before the option)."""
    setting = scenario.typed_params.ws_per_message_deflate
    return "not recorded" if setting is None else "on" if setting else "off"


def _row(scenario: Scenario) -> list[str]:
    params = scenario.typed_params
    server = scenario.server
    generator = scenario.generator
    return [
        scenario.name,
        deflate_label(scenario),
        params.payload_kind or DEFAULT_PAYLOAD_KIND,
        format_value(scenario.ws_bytes_per_delivery),
        format_value(server.cpu_us_per_delivered_msg if server else None),
        format_value(generator.cpu_percent if generator else None),
    ]


def deflate_table(document: ResultsDocument) -> list[list[str]]:
    """The rows (headings in :data:`DEFLATE_COLUMNS`); none when no WebSocket scenario
    measured its bytes."""
    return [
        _row(s)
        for s in document.scenarios
        if s.transport == Transport.WS and s.ws_bytes_per_delivery is not None
    ]
