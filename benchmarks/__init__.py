"""Native asyncio drivers that load the reference server, and pytest-benchmark micro-benchmarks."""
