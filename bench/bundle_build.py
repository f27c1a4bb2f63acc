"""Bundle figures: cache-hit rebuild time, recorded cold build times, bundle size.

The cache-hit time is measured here (median of RUNS full `kubesmith bundle
build` runs with nothing changed). Cold times are those each component's build
recorded in its build.json when it was really built (a cold rebuild of
everything takes tens of minutes; `--cold` forces one by using an empty cache
directory for the bundle while keeping Go's module and build caches).
Usage: python bench/bundle_build.py [RUNS]
"""

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from kubesmith.bundle.build import bundle_dir

KUBESMITH = str(Path(sys.executable).parent / "kubesmith")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    subprocess.run([KUBESMITH, "bundle", "build"], check=True, capture_output=True)
    times = []
    for i in range(runs):
        start = time.monotonic()
        subprocess.run([KUBESMITH, "bundle", "build"], check=True, capture_output=True)
        times.append(time.monotonic() - start)
        print(f"cache-hit run {i + 1}: {times[-1]:.1f}s", flush=True)
    print(f"median cache-hit bundle build over {runs} runs: {statistics.median(times):.1f}s")
    total = 0.0
    for record in sorted((bundle_dir() / "build").glob("*/build.json")):
        data = json.loads(record.read_text())
        total += data["seconds"]
        print(
            f"cold build (recorded) {data['component']:<12} {data['version']:<10} "
            f"{data['seconds']:7.1f}s"
        )
    print(f"cold build (recorded) all components: {total / 60:.1f} min")
    summary = json.loads((bundle_dir() / "bundle.json").read_text())
    print(
        f"bundle size: files {summary['files_bytes'] / 2**20:.0f} MiB, "
        f"images {summary['images_bytes'] / 2**20:.0f} MiB "
        f"({len(summary['images'])} images, {len(summary['files'])} files)"
    )


if __name__ == "__main__":
    main()
