"""``python -m pushbench``: the ``pushbench`` command, for an environment without its script."""

from pushbench.cli.app import main

main()
