"""``python -m pushbench.locust``: see :mod:`pushbench.locust.run`."""

import sys

from pushbench.locust.run import main

sys.exit(main())
