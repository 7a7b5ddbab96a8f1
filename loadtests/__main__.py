"""``python -m loadtests``: see :mod:`loadtests.run`."""

import sys

from loadtests.run import main

sys.exit(main())
