"""Time `kubesmith nodes create` of the 4-node local inventory with a cached image.

Warm-up (builds the image if needed) is not counted. Each run starts from no
nodes and ends when every node answers SSH; the nodes are deleted in between.
Usage: python bench/nodes_create.py [RUNS] (default 5). Prints each run and the median.
"""

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KUBESMITH = [str(Path(sys.executable).parent / "kubesmith"), "-i", str(REPO / "inventory/local")]


def nodes(verb: str) -> None:
    subprocess.run([*KUBESMITH, "nodes", verb], check=True, capture_output=True, text=True)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    nodes("delete")
    nodes("create")
    nodes("delete")
    times = []
    for i in range(runs):
        start = time.monotonic()
        nodes("create")
        times.append(time.monotonic() - start)
        nodes("delete")
        print(f"run {i + 1}: create 4 nodes {times[-1]:.2f}s", flush=True)
    print(f"median create time over {runs} runs: {statistics.median(times):.2f}s")


if __name__ == "__main__":
    main()
