"""`python -m broker fetch | run` (see broker/cli.py)."""

import sys

from broker.cli import main

sys.exit(main())
