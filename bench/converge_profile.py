"""The slowest tasks of a no-op cluster.yml run (Ansible's profile_tasks callback).

Runs playbooks/cluster.yml against a live cluster RUNS times and prints, from
the median run, the 15 slowest tasks with their times, plus each run's total
and changed count (a no-op run must report changed=0).
Usage: python bench/converge_profile.py [RUNS] [INVENTORY]  (default: 3, inventory/local)
"""

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
INVENTORY = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "inventory" / "local"
TASK_LINE = re.compile(r"^(?P<task>.+?) -+ (?P<seconds>\d+\.\d+)s$")


def profiled_run() -> tuple[float, int, list[tuple[str, float]]]:
    env = {
        **os.environ,
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
        "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "all",
        "ANSIBLE_NOCOLOR": "1",
    }
    start = time.monotonic()
    result = subprocess.run(
        [BIN / "ansible-playbook", "-i", INVENTORY, REPO / "playbooks" / "cluster.yml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    elapsed = time.monotonic() - start
    recap = result.stdout.split("PLAY RECAP", 1)[-1]
    changed = sum(int(n) for n in re.findall(r"changed=(\d+)", recap))
    tasks = [
        (m["task"].strip(), float(m["seconds"]))
        for line in recap.splitlines()
        if (m := TASK_LINE.match(line.strip()))
    ]
    return elapsed, changed, tasks


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    results = []
    for i in range(runs):
        elapsed, changed, tasks = profiled_run()
        results.append((elapsed, changed, tasks))
        print(f"run {i + 1}: {elapsed:.0f}s, changed={changed}", flush=True)
    totals = [r[0] for r in results]
    median = statistics.median(totals)
    _, _, tasks = min(results, key=lambda r: abs(r[0] - median))
    print(f"median no-op cluster.yml: {median:.0f}s")
    print("15 slowest tasks of the median run:")
    for task, seconds in sorted(tasks, key=lambda t: -t[1])[:15]:
        print(f"  {seconds:6.2f}s  {task}")


if __name__ == "__main__":
    main()
