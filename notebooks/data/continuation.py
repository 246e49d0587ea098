"""Write breakout_continuation.csv: how runs that went on from the shipped agent played.

Each run below went on from the same shipped weights (``--from-pretrained Breakout``), with a
fresh optimizer and a replay memory its own policy refilled. The run that trained the weights
is the yardstick: its last 100 games before them are the row at step 0, and where it went on
past them, with its memory and optimizer whole, its games after them too. Rows: the mean of
the games that ended in each 50,000 steps after the weights (``rlbook.runs.scores_between``),
and at step 0 the level the weights had reached. Rows of runs
whose folders are not on this machine are kept as they are. Run from the repository's root:
``.venv/bin/python notebooks/data/continuation.py``.
"""

import csv
import json
from pathlib import Path

from breakout_runs import RUN_ROOT

from rlbook.dqn_config import DQNConfig
from rlbook.runs import RunFolder, read_log, scores_between, training_scores

RUNS = {
    "breakout-c51": "the run that trained the weights, its memory and optimizer whole",
    "breakout-c51-pretrained": "from the shipped weights: fresh optimizer, memory refilled",
    "breakout-c51-pretrained-rewarm": "the same, with a larger refill and the step size eased in",
}
STRETCH, STRETCHES = 50_000, 12
FIELDS = ["run", "label", "after_steps", "games", "mean", "std", "learning_from"]
OUT = Path(__file__).with_name("breakout_continuation.csv")


def origin_step(folder: Path) -> int | None:
    """The step of the shipped weights a run went on from; None for a run trained from scratch."""
    origin = folder / "origin.json"
    return int(json.loads(origin.read_text())["agent_steps"]) if origin.exists() else None


origins = {run: origin_step(RUN_ROOT / run) for run in RUNS}
starts = {step for step in origins.values() if step is not None}
if len(starts) > 1:
    raise SystemExit(f"the continued runs went on from different weights: steps {sorted(starts)}")
kept = [r for r in csv.DictReader(OUT.open())] if OUT.exists() else []
kept = [r for r in kept if not (RUN_ROOT / r["run"] / "log.csv").exists()]
rows = []
if starts:
    (start,) = starts
    for run, label in RUNS.items():
        folder = RUN_ROOT / run
        if not (folder / "log.csv").exists():
            continue
        log = read_log(folder / "log.csv")
        config = DQNConfig.from_json(folder / "config.json")
        restarted = origins[run] is not None
        learning_from = config.memory_before_learning(restarted) if restarted else ""
        # a finished run's last game ends before its last step, which progress.json records
        reached = RunFolder(folder).read_progress()["step"]
        edges = [start + k * STRETCH for k in range(STRETCHES + 1)]
        stretches = scores_between(log, edges, reached=reached)
        if run == next(iter(RUNS)):  # the level the weights had reached
            before = training_scores(log, [start], reached=reached)
            stretches = [{**r, "agent_steps": start} for r in before] + stretches
        for r in stretches:
            rows.append(
                {
                    "run": run,
                    "label": label,
                    "after_steps": r["agent_steps"] - start,
                    "games": r["games"],
                    "mean": round(r["mean"], 1),
                    "std": round(r["std"], 1),
                    "learning_from": learning_from,
                }
            )
with OUT.open("w", newline="") as f:
    writer = csv.DictWriter(f, FIELDS)
    writer.writeheader()
    writer.writerows(kept + rows)
print(f"{len(kept) + len(rows)} rows in {OUT}")
