"""``python -m loadtests`` from a checkout: the same as ``python -m pushbench.locust``."""

import sys

from pushbench.locust.run import main

sys.exit(main())
