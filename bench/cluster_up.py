"""Time from empty nodes to a working cluster, and the no-op re-run.

Each run: delete the local nodes, then create them, serve the mirror, run
playbooks/cluster.yml and playbooks/demo.yml (timed together as "up"), then
run cluster.yml again (the no-op re-run, which must report changed=0).
The bundle must be built (make bundle).

With --before REV the same runs are made from a git worktree of REV as well
(in a temporary directory, removed at the end), alternating with the runs of
this checkout, and both medians are printed. Each checkout runs its own
playbooks, roles, ansible.cfg and kubesmith package, and keeps its own
artifacts (a copy of this checkout's to start from).

Usage: python bench/cluster_up.py [RUNS] [INVENTORY] [--before REV]
(default: 3 runs, inventory/local; molecule/ha/inventory times the highly
available cluster on Debian 13). Exits non-zero when a re-run reports changes.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass
class Checkout:
    """A source tree to measure: its playbooks, inventory and Python package."""

    label: str
    root: Path
    inventory: Path
    up: list[float] = field(default_factory=list)
    rerun: list[float] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)

    def run(self, *argv: str | Path) -> str:
        env = {**os.environ, "PYTHONPATH": str(self.root / "src")}
        result = subprocess.run(
            [str(a) for a in argv],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            sys.exit(
                f"{self.label}: {' '.join(str(a) for a in argv)} failed "
                f"(exit {result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
            )
        return result.stdout

    def playbook(self, name: str) -> str:
        playbook = self.root / "playbooks" / name
        return self.run(BIN / "ansible-playbook", "-i", self.inventory, playbook)

    def measure(self) -> None:
        self.run(BIN / "kubesmith", "-i", self.inventory, "nodes", "delete")
        start = time.monotonic()
        self.run(BIN / "kubesmith", "-i", self.inventory, "nodes", "create")
        self.run(BIN / "kubesmith", "-i", self.inventory, "mirror", "serve")
        self.playbook("cluster.yml")
        self.playbook("demo.yml")
        self.up.append(time.monotonic() - start)
        start = time.monotonic()
        recap = self.playbook("cluster.yml").split("PLAY RECAP")[-1]
        self.rerun.append(time.monotonic() - start)
        self.changed.append(sum(int(n) for n in re.findall(r"changed=(\d+)", recap)))


def inventory_in(root: Path, inventory: Path) -> Path:
    """The inventory at the same place in another checkout (as given if outside this one)."""
    try:
        return root / inventory.resolve().relative_to(REPO)
    except ValueError:
        return inventory


def worktree(rev: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix="kubesmith-before-"))
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), rev],
        check=True,
        capture_output=True,
        text=True,
    )
    if (REPO / "artifacts").is_dir():
        shutil.copytree(REPO / "artifacts", path / "artifacts", dirs_exist_ok=True)
    return path


def remove_worktree(path: Path) -> None:
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)],
        check=False,
        capture_output=True,
    )
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], check=False)


def report(checkout: Checkout, run: int) -> None:
    note = "" if checkout.changed[-1] == 0 else "  <- not a no-op"
    label = f" {checkout.label}" if checkout.label else ""
    print(
        f"run {run}{label}: up {checkout.up[-1]:.0f}s, no-op re-run "
        f"{checkout.rerun[-1]:.0f}s (changed={checkout.changed[-1]}){note}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="?", type=int, default=3)
    parser.add_argument("inventory", nargs="?", type=Path, default=REPO / "inventory" / "local")
    parser.add_argument("--before", metavar="REV", help="also measure REV, alternating runs")
    args = parser.parse_args()

    inventory = args.inventory if args.inventory.is_absolute() else REPO / args.inventory
    after = Checkout("after" if args.before else "", REPO, inventory)
    before_root = worktree(args.before) if args.before else None
    checkouts = [after]
    try:
        if before_root:
            before_inventory = inventory_in(before_root, inventory)
            checkouts.insert(0, Checkout("before", before_root, before_inventory))
            print(f"before: {args.before} in {before_root}; after: {REPO}", flush=True)
        for i in range(args.runs):
            # Alternate which goes first, so that drift on the machine hits both.
            for checkout in checkouts if i % 2 == 0 else checkouts[::-1]:
                checkout.measure()
                report(checkout, i + 1)
    finally:
        if before_root:
            remove_worktree(before_root)

    for checkout in checkouts:
        label = f" ({checkout.label})" if checkout.label else ""
        print(
            f"median empty nodes -> cluster with demo app{label}: "
            f"{statistics.median(checkout.up):.0f}s"
        )
        print(f"median no-op cluster.yml re-run{label}: {statistics.median(checkout.rerun):.0f}s")
    if any(n for checkout in checkouts for n in checkout.changed):
        sys.exit("a no-op re-run reported changes (see the runs above)")


if __name__ == "__main__":
    main()
