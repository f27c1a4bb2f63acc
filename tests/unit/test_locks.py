"""The lock between kubesmith processes: a second process waits for the first."""

import subprocess
import sys
import time
from pathlib import Path

from kubesmith.locks import exclusive

WAITER = """
import sys, time
from pathlib import Path
from kubesmith.locks import exclusive
start = time.monotonic()
with exclusive(Path(sys.argv[1]), "test"):
    print(f"{time.monotonic() - start:.2f}")
"""


def _waiter(lock: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WAITER, str(lock)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_process_waits_until_the_lock_is_released(tmp_path: Path) -> None:
    lock = tmp_path / "cache" / ".lock"
    with exclusive(lock, "test"):
        waiter = _waiter(lock)
        time.sleep(1.5)
        assert waiter.poll() is None, "the second process went ahead while the lock was held"
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert float(out) >= 1.0
    assert "waiting for another kubesmith process: test" in err


def test_without_a_holder_the_lock_is_taken_at_once(tmp_path: Path) -> None:
    waiter = _waiter(tmp_path / ".lock")
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert float(out) < 1.0
    assert "waiting" not in err
