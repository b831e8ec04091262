"""The one kind of error a user can fix, and how a stage reports it: one line, exit status 2."""

from __future__ import annotations

import sys
from collections.abc import Callable


class DistilleryError(Exception):
    """A problem the user can fix: the message names the file, column or param and how to fix it."""


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main(); a DistilleryError becomes one clear line on stderr and exit status 2."""
    try:
        main()
    except DistilleryError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
