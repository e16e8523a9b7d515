"""The frozen bundle's entry point: the `foleystudio` command, as ``python -m foleystudio`` runs it.

A separate script (rather than foleystudio/__main__.py) because only a frozen program needs
``multiprocessing.freeze_support()`` first: without it, any worker process torch or the training
commands start would re-run the whole command line instead of the worker. A double-clicked
``.foley`` (macOS open-document event, Windows file association) arrives as the only argument, which
`foleystudio.cli.main` already reads as "open it".
"""

import multiprocessing
import sys

from foleystudio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main(sys.argv[1:]))
