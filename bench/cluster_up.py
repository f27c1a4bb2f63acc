"""Time from empty nodes to a working cluster, and the no-op re-run.

Each run: delete the local nodes, then create them, serve the mirror, run
playbooks/cluster.yml and playbooks/demo.yml (timed together as "up"), then
run cluster.yml again (the no-op re-run, which must report changed=0).
The bundle must be built (make bundle).
Usage: python bench/cluster_up.py [RUNS] [INVENTORY]  (default: 3, inventory/local;
molecule/ha/inventory times the highly available cluster on Debian 13)
"""

import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
INVENTORY = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "inventory" / "local"


def run(*argv: str | Path) -> str:
    result = subprocess.run(
        [str(a) for a in argv], cwd=REPO, capture_output=True, text=True, check=True
    )
    return result.stdout


def playbook(name: str) -> str:
    return run(BIN / "ansible-playbook", "-i", INVENTORY, REPO / "playbooks" / name)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    up_times, rerun_times = [], []
    for i in range(runs):
        run(BIN / "kubesmith", "-i", INVENTORY, "nodes", "delete")
        start = time.monotonic()
        run(BIN / "kubesmith", "-i", INVENTORY, "nodes", "create")
        run(BIN / "kubesmith", "-i", INVENTORY, "mirror", "serve")
        playbook("cluster.yml")
        playbook("demo.yml")
        up_times.append(time.monotonic() - start)
        start = time.monotonic()
        recap = playbook("cluster.yml")
        rerun_times.append(time.monotonic() - start)
        changed = sum(int(n) for n in re.findall(r"changed=(\d+)", recap))
        print(
            f"run {i + 1}: up {up_times[-1]:.0f}s, no-op re-run {rerun_times[-1]:.0f}s "
            f"(changed={changed})",
            flush=True,
        )
    print(f"median empty nodes -> cluster with demo app: {statistics.median(up_times):.0f}s")
    print(f"median no-op cluster.yml re-run: {statistics.median(rerun_times):.0f}s")


if __name__ == "__main__":
    main()
