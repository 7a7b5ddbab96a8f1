"""The measurement core: pure data and arithmetic, no event loop, sockets, processes or psutil.

The results schema and its histograms, integrity counting, the kinds of things measured
(transports, workloads), thresholds, units and fits. Every layer above imports it; it imports none
of them (``make lint`` checks it: docs/architecture.md).
"""
