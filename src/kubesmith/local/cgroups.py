"""Giving each node launcher a cgroup of its own in every v1 hierarchy.

nspawn runs with ``--keep-unit`` (there is no host systemd to ask for a scope),
so it builds the node's cgroup tree inside the cgroup it starts in. Two nodes
started from one cgroup would share it; each launcher therefore moves itself
into ``nspawn-NAME`` below its current cgroup before it execs nspawn.
"""

import contextlib
import os
import signal
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _hierarchies() -> list[tuple[Path, str]]:
    """(mount point, current path) for every hierarchy of this process."""
    found = []
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            mount = CGROUP_ROOT / "unified"
        elif controllers.startswith("name="):
            mount = CGROUP_ROOT / controllers.removeprefix("name=")
        else:
            mount = CGROUP_ROOT / controllers.split(",")[0]
        if mount.is_dir() and (mount / "cgroup.procs").exists():
            found.append((mount, path.lstrip("/")))
    return found


def prepare(name: str) -> list[Path]:
    """Create the node's cgroup in each hierarchy; return their directories."""
    dirs = []
    for mount, path in _hierarchies():
        parent = mount / path
        target = parent / f"nspawn-{name}"
        target.mkdir(exist_ok=True)
        for knob in ("cpuset.cpus", "cpuset.mems"):
            if (target / knob).exists() and not (target / knob).read_text().strip():
                (target / knob).write_text((parent / knob).read_text())
        dirs.append(target)
    return dirs


def enter(dirs: list[Path]) -> None:
    """Move the calling process into ``dirs``; runs in the child before exec."""
    pid = str(os.getpid())
    for target in dirs:
        (target / "cgroup.procs").write_text(pid)


def _pids(dirs: list[Path]) -> set[int]:
    found: set[int] = set()
    for top in dirs:
        for procs in top.rglob("cgroup.procs") if top.exists() else ():
            try:
                found |= {int(p) for p in procs.read_text().split()}
            except (FileNotFoundError, ValueError):
                continue
    return found


def _rmdir_tree(dirs: list[Path]) -> list[Path]:
    busy = []
    for top in dirs:
        if not top.exists():
            continue
        for current, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                Path(current).rmdir()
            except OSError:
                busy.append(Path(current))
    return busy


def remove(dirs: list[Path], timeout: float = 15.0) -> list[Path]:
    """Remove the node's cgroups bottom-up; return those still busy.

    Processes left in them after the node stopped (a container runtime's
    processes can take a moment to exit) get SIGKILL first."""
    deadline = time.monotonic() + timeout
    while True:
        for pid in _pids(dirs):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        busy = _rmdir_tree(dirs)
        if not busy or time.monotonic() > deadline:
            return busy
        time.sleep(0.3)
