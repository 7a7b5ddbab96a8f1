"""Locust users for the reference server, with exact merged percentiles (see README.md).

Modules that import Locust (and so monkey-patch the process with gevent): ``locustfile``,
``plugin`` (events, stop protocol, results), ``users`` (WebSocket echo, publisher, subscriber),
``users_http`` (short poll, long poll, SSE). Everything else is plain Python, testable without
Locust: ``ws_client`` (WebSocket client, on the frame codec :mod:`pushbench.drivers.wsframes`),
``sse_protocol``, ``envelopes``, ``streams`` (integrity), ``recording`` (per process),
``aggregate`` (master), ``node``, ``options``, ``results``, and ``run``/``bench``
(``python -m pushbench.locust``, the make targets).
"""
