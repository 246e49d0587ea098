"""Write breakout_training_games.csv from the logs of the runs still in training.

The mean of each run's last 100 training games at every 250,000th agent step
(``rlbook.runs.training_scores``), for runs whose folders are in ~/rlbook-runs; rows of runs
whose folders are not on this machine are kept as they are. Run from the repository's root:
``.venv/bin/python notebooks/data/training_games.py``.
"""

import csv
from pathlib import Path

from breakout_runs import RECIPES, RUN_ROOT

from rlbook.runs import RunFolder, read_log, training_scores

FIELDS = ["run", "recipe", "agent_steps", "games", "epsilon", "mean", "std"]
OUT = Path(__file__).with_name("breakout_training_games.csv")

kept = [r for r in csv.DictReader(OUT.open())] if OUT.exists() else []
kept = [r for r in kept if not (RUN_ROOT / r["run"] / "log.csv").exists()]
rows = []
for run, recipe in RECIPES.items():
    log = RUN_ROOT / run / "log.csv"
    if log.exists():
        # a finished run's last game ends before its last step, which progress.json records
        reached = RunFolder(RUN_ROOT / run).read_progress()["step"]
        steps = range(250_000, 10_000_001, 250_000)
        for row in training_scores(read_log(log), steps, reached=reached):
            rounded = {"epsilon": round(row["epsilon"], 3), "mean": round(row["mean"], 1)}
            rows.append(
                {"run": run, "recipe": recipe, **row, **rounded, "std": round(row["std"], 1)}
            )
with OUT.open("w", newline="") as f:
    writer = csv.DictWriter(f, FIELDS)
    writer.writeheader()
    writer.writerows(kept + rows)
print(f"{len(kept) + len(rows)} rows in {OUT}")
