"""Time `kubesmith map --format json` against a running cluster.

Each run reads the inventory, every node over SSH and the API, as an operator's
call does (no warm-up run: the first call is a real one too). The cluster must
be up (make up). Usage: python bench/map.py [RUNS] [INVENTORY]
(default: 5, inventory/local). Prints each run and the median.
"""

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
INVENTORY = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "inventory" / "local"


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    times = []
    for i in range(runs):
        start = time.monotonic()
        result = subprocess.run(
            [BIN / "kubesmith", "-i", INVENTORY, "map", "--format", "json"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(time.monotonic() - start)
        data = json.loads(result.stdout)
        print(
            f"run {i + 1}: {times[-1]:.2f}s ({len(data['nodes'])} nodes, "
            f"{len(data['pods'])} pods, {len(data['problems'])} problems)",
            flush=True,
        )
    print(f"median kubesmith map over {runs} runs: {statistics.median(times):.2f}s")


if __name__ == "__main__":
    main()
