"""Progress lines with the time elapsed since the command started."""

import sys
import time

_START = time.monotonic()


def info(message: str) -> None:
    """Print one progress line to stderr, prefixed with elapsed seconds."""
    elapsed = time.monotonic() - _START
    print(f"[{elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)
