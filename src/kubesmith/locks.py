"""An exclusive lock between kubesmith processes on the same machine.

`make test` runs the unit tests beside the molecule scenarios, so two
processes may want the same cached root filesystem, or the same SSH client key
and known_hosts file, at once. The lock is an flock on a file that stays in
place; the kernel releases it when the holder exits, however it exits.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubesmith import log


@contextmanager
def exclusive(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info(f"waiting for another kubesmith process: {what}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
