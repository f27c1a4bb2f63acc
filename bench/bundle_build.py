"""Bundle figures: cache-hit rebuild time, cold build time, bundle size.

Default: the median of RUNS full `kubesmith bundle build` runs with nothing
changed (cache hits), the build time each component recorded in its
build.json when it was built (which depends on how warm Go's build cache was
then), and the bundle's size.

`--cold`: one full build into empty kubesmith and Go build caches (temporary
directories; Go's module download cache is kept, so this measures compiling
and assembling, not downloading). Takes tens of minutes on two cores.

Usage: python bench/bundle_build.py [RUNS] | --cold
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubesmith.bundle.build import bundle_dir

KUBESMITH = str(Path(sys.executable).parent / "kubesmith")


def timed_build(env: dict[str, str] | None = None) -> float:
    start = time.monotonic()
    subprocess.run([KUBESMITH, "bundle", "build"], check=True, capture_output=True, env=env)
    return time.monotonic() - start


def cold() -> None:
    with tempfile.TemporaryDirectory(prefix="kubesmith-cold-") as tmp:
        env = dict(os.environ, KUBESMITH_CACHE_DIR=f"{tmp}/cache", GOCACHE=f"{tmp}/gocache")
        seconds = timed_build(env)
        for record in sorted(Path(tmp, "cache/bundle/build").glob("*/build.json")):
            data = json.loads(record.read_text())
            print(f"cold {data['component']:<12} {data['version']:<10} {data['seconds']:7.1f}s")
    print(f"cold bundle build (empty caches): {seconds / 60:.1f} min")


def warm(runs: int) -> None:
    timed_build()
    times = []
    for i in range(runs):
        times.append(timed_build())
        print(f"cache-hit run {i + 1}: {times[-1]:.1f}s", flush=True)
    print(f"median cache-hit bundle build over {runs} runs: {statistics.median(times):.1f}s")
    for record in sorted((bundle_dir() / "build").glob("*/build.json")):
        data = json.loads(record.read_text())
        print(
            f"recorded build {data['component']:<12} {data['version']:<10} {data['seconds']:7.1f}s"
        )
    summary = json.loads((bundle_dir() / "bundle.json").read_text())
    print(
        f"bundle size: files {summary['files_bytes'] / 2**20:.0f} MiB, "
        f"images {summary['images_bytes'] / 2**20:.0f} MiB "
        f"({len(summary['images'])} images, {len(summary['files'])} files)"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--cold"]:
        cold()
    else:
        warm(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
