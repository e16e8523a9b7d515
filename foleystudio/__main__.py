"""`python -m foleystudio` is the `foleystudio` command."""

import sys

from foleystudio.cli import main

sys.exit(main())
