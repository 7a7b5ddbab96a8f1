"""pytest-benchmark micro-benchmarks of the hot paths (``benchmarks/micro``; not installed)."""
