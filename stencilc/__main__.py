"""`python -m stencilc`: the command line of stencilc/cli.py."""
import sys

from .cli import main

sys.exit(main())
