"""Background processes tracked by pid files: start once, stop cleanly."""

import os
import signal
import subprocess
import time
from pathlib import Path

from kubesmith.errors import KubesmithError
from kubesmith.proc import run, tail


def pid_alive(pidfile: Path) -> int | None:
    """The pid in ``pidfile`` if that process still runs (zombies count as gone)."""
    try:
        pid = int(pidfile.read_text().strip())
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ValueError, IndexError):
        return None
    return None if state == "Z" else pid


def start(
    name: str, argv: list[str], pidfile: Path, *, daemonizes: bool, log_path: Path | None = None
) -> None:
    """Start ``argv`` unless ``pidfile`` names a live process.

    A program that daemonizes writes ``pidfile`` itself; any other is started
    in its own session with output to ``log_path`` and its pid recorded.
    """
    if pid_alive(pidfile):
        return
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    if daemonizes:
        run(argv, what=f"start {name}")
    else:
        out = (log_path or pidfile.with_suffix(".log")).open("ab")
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        pidfile.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + 10
    while not pid_alive(pidfile):
        if time.monotonic() > deadline:
            output = log_path.read_text() if log_path and log_path.exists() else ""
            raise KubesmithError(f"{name} did not start\n{tail(output)}")
        time.sleep(0.1)


def stop(pidfile: Path, timeout: float = 10.0) -> None:
    """Stop the process in ``pidfile`` (TERM, then KILL) and remove the file."""
    pid = pid_alive(pidfile)
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(pidfile) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pidfile):
            os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
