"""The TLS tables of a report: what TLS cost per message, per request and per connection.

A ``compare --tls`` document carries ``tls_cost`` (each scenario plain and over TLS) and
``tls_handshake`` (a connection's setup over each); every renderer (console, Markdown, HTML)
shows the same rows from here, headings in :data:`TLS_COLUMNS` and :data:`HANDSHAKE_COLUMNS`.
"""

from __future__ import annotations

from typing import Final

from pushbench.core.schema import ResultsDocument, TlsCost, TlsHandshake
from pushbench.core.units import format_ms, format_value
from pushbench.report.table import format_tax

__all__ = [
    "HANDSHAKE_COLUMNS",
    "HANDSHAKE_NOTE",
    "TLS_COLUMNS",
    "TLS_NOTE",
    "handshake_table",
    "tls_table",
]

TLS_COLUMNS: Final = (
    "scenario",
    "plain CPU µs/msg",
    "TLS CPU µs/msg",
    "TLS extra µs/msg",
    "plain CPU µs/req",
    "TLS CPU µs/req",
    "TLS extra µs/req",
    "p99 ms plain",
    "p99 ms TLS",
)
HANDSHAKE_COLUMNS: Final = (
    "flavor",
    "connections",
    "plain setup p50 ms",
    "TLS setup p50 ms",
    "plain setup p99 ms",
    "TLS setup p99 ms",
    "plain CPU µs/conn",
    "TLS CPU µs/conn",
    "TLS extra µs/conn",
)
TLS_NOTE: Final = (
    "Each scenario ran twice in this run on fresh servers, over plain TCP and over TLS "
    "(a throwaway CA; clients verify the certificate): server CPU per delivered message and "
    "per HTTP request, and TLS minus plain."
)
HANDSHAKE_NOTE: Final = (
    "A connection's setup: connect, one GET, the server closes; client-side time to the "
    "response's end, and the server's CPU per connection. The extra is the TLS handshake."
)


def _cost_row(row: TlsCost) -> list[str]:
    return [
        row.plain_scenario,
        format_value(row.plain_cpu_us_per_delivered_msg),
        format_value(row.tls_cpu_us_per_delivered_msg),
        format_tax(row.extra_cpu_us_per_delivered_msg, row.plain_cpu_us_per_delivered_msg),
        format_value(row.plain_cpu_us_per_http_request),
        format_value(row.tls_cpu_us_per_http_request),
        format_tax(row.extra_cpu_us_per_http_request, row.plain_cpu_us_per_http_request),
        format_ms(row.plain_latency_p99_us),
        format_ms(row.tls_latency_p99_us),
    ]


def _handshake_row(row: TlsHandshake) -> list[str]:
    return [
        row.flavor or "—",
        f"{row.connections:,}",
        format_ms(row.plain_connect_us_p50),
        format_ms(row.tls_connect_us_p50),
        format_ms(row.plain_connect_us_p99),
        format_ms(row.tls_connect_us_p99),
        format_value(row.plain_server_cpu_us_per_connection),
        format_value(row.tls_server_cpu_us_per_connection),
        format_tax(row.extra_server_cpu_us_per_connection, row.plain_server_cpu_us_per_connection),
    ]


def tls_table(document: ResultsDocument) -> list[list[str]]:
    """Per scenario measured plain and over TLS, its row (empty: no such scenario)."""
    return [_cost_row(row) for row in document.tls_cost]


def handshake_table(document: ResultsDocument) -> list[list[str]]:
    """Per flavor, a connection's setup plain and over TLS (empty: not measured)."""
    return [_handshake_row(row) for row in document.tls_handshake]
