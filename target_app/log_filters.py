"""Keep client mistakes out of the server's error log.

uvicorn's ``websockets-sansio`` implementation (the default, and the fastest: see README) answers
invalid UTF-8 in a text frame correctly with close 1007, but logs it with ``logger.exception``:
an ERROR and a traceback for what is the client's fault. This filter turns that one record into
a one-line INFO, so a traceback in the log keeps meaning a server fault.
"""

from __future__ import annotations

import logging

__all__ = ["ClientProtocolErrorFilter", "install"]

_CLIENT_ERRORS = frozenset({"Invalid UTF-8 sequence received from client."})


class ClientProtocolErrorFilter(logging.Filter):
    """Demote uvicorn's logs of client protocol errors to INFO without a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.getMessage() in _CLIENT_ERRORS:
            record.exc_info = None
            record.exc_text = None
            record.levelno = logging.INFO
            record.levelname = logging.getLevelName(logging.INFO)
        return True


def install() -> None:
    """Attach the filter to uvicorn's error logger (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, ClientProtocolErrorFilter) for f in logger.filters):
        logger.addFilter(ClientProtocolErrorFilter())
