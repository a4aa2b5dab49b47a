"""`python -m monitor` runs the command line."""

import sys

from monitor.cli import main

if __name__ == "__main__":  # worker processes (spawned) import this module too: they must not run the CLI
    sys.exit(main())
