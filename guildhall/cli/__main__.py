"""`python -m guildhall.cli`: the `guildhall` command, as the console script runs it."""

import sys

from guildhall.cli import main

sys.exit(main())
