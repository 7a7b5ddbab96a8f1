"""The ``pushbench`` command line: the app (``app``), the options every command shares
(``options``), the gate runner the run commands share (``gating``) and the commands over saved
runs (``report``: ``pushbench report`` and ``pushbench gate``).
"""
