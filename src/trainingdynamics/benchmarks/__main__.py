"""``python -m trainingdynamics.benchmarks``: the same as ``trainingdynamics bench``."""

import sys

from trainingdynamics.benchmarks import main

sys.exit(main())
