"""``python -m bench`` from the repository's root: run the benchmarks (``--help`` for the
options)."""

import sys

from bench import main

sys.exit(main())
