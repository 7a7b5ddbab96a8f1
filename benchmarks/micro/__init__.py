"""pytest-benchmark micro-benchmarks of the reference server's hot paths (``make microbench``).

Not part of ``make test``'s collection (``testpaths = ["tests"]``); a smoke pass there runs each
once with ``--benchmark-disable`` so they cannot rot. What each one isolates: README.
"""
