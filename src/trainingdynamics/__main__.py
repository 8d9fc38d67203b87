"""Allow ``python -m trainingdynamics``."""

from trainingdynamics.cli import main

raise SystemExit(main())
