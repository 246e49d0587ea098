"""Measure a sweep on a loopback cluster: time, trials per node, the driver's memory, files.

    python tests/cluster/measure.py --workers 3 --trials 200 --agent tabular --episodes 500

Starts a cluster of ``--workers`` one-CPU worker nodes with `ray start` (token authentication
on), runs one sweep of ``--trials`` seeds from a separate driver process, prints what it measured
and stops the cluster.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from loopback import LoopbackCluster
from sweeps import CATCH_FLAGS, places


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--agent", default="tabular", choices=["tabular", "qnetwork", "dqn"])
    parser.add_argument("--episodes", type=int, default=500, help="FrozenLake agents")
    parser.add_argument("--steps", type=int, default=400, help="DQN on Catch")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rlbook-measure-")) / "sweep"
    command = [sys.executable, "-m", "rlbook", "sweep", "--run", str(folder), "--quiet"]
    command += ["--seeds", f"0-{args.trials - 1}", "--agent", args.agent]
    if args.agent == "dqn":
        command += ["--steps", str(args.steps), *CATCH_FLAGS]
        for name in ("milestone_every", "checkpoint_every"):
            command += ["--set", f"{name}={args.steps}"]
    else:
        command += ["--episodes", str(args.episodes), "--score-every", "100"]
    started = time.perf_counter()
    cluster = LoopbackCluster(workers=args.workers)
    up = time.perf_counter() - started
    try:
        started = time.perf_counter()
        driver = subprocess.Popen(
            [*command, "--address", cluster.address],
            env=cluster.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        peak = 0
        while driver.poll() is None:
            peak = max(peak, _peak_rss_kb(driver.pid))
            time.sleep(0.5)
        seconds = time.perf_counter() - started
        _, err = driver.communicate()
    finally:
        cluster.stop()
    if driver.returncode:
        sys.exit(f"the sweep failed:\n{err}")
    per_node = collections.Counter(rows[0]["node"][:8] for rows in places(folder).values())
    files = sum(1 for p in folder.rglob("*") if p.is_file())
    tune_files = sum(1 for p in (folder / "tune").rglob("*") if p.is_file())
    results = sum(1 for _ in (folder / "results.csv").open()) - 1
    print(f"cluster of {args.workers} worker nodes up in {up:.0f} s")
    each = seconds / args.trials
    print(f"{args.trials} {args.agent} trials in {seconds:.0f} s ({each:.2f} s each)")
    print(f"trials per node: {dict(per_node)}")
    print(f"scores in results.csv: {results}; files in the sweep folder: {files}")
    print(f"of which Ray Tune's records: {tune_files}")
    print(f"the driver's peak resident memory: {peak / 1024:.0f} MB")
    print(f"sweep folder: {folder}")


def _peak_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    main()
