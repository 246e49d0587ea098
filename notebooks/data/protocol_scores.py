"""Score a run's milestones under the DQN paper's protocol into the Experiments page's tables.

    .venv/bin/python notebooks/data/protocol_scores.py RUN STEP [STEP ...]
    .venv/bin/python notebooks/data/protocol_scores.py RUN FIRST-LAST [FIRST-LAST ...] --mean

Each STEP, a milestone of run RUN in ~/rlbook-runs, is scored alone into
breakout_milestones.csv, under the recipe ``breakout_runs.RECIPES`` or the table's earlier rows
give the run. With ``--mean``, each FIRST-LAST is one agent, the mean of the weights
of the run's milestones from FIRST to LAST steps, ``--every`` steps apart
(``rlbook.weight_average``), scored into breakout_weight_average.csv: the candidates a run's
agent to ship is chosen among. 30 games of evaluation seed 1 at epsilon 0.05 unless told; a row
of the same run, steps (and number of checkpoints), games, seed and epsilon replaces the one
there. Run from the repository's root.
"""

import argparse
import csv
from pathlib import Path

from breakout_runs import RECIPES, RUN_ROOT

from rlbook.checkpoints import restore_agent
from rlbook.evaluate import evaluate, summary
from rlbook.files import RunError
from rlbook.runs import RunFolder
from rlbook.weight_average import restore_averaged

HERE = Path(__file__).parent
MILESTONES = HERE / "breakout_milestones.csv"
MILESTONE_FIELDS = ["run", "recipe", "agent_steps", "games", "eval_seed", "epsilon", "mean", "std"]
AVERAGES = HERE / "breakout_weight_average.csv"
AVERAGE_FIELDS = [
    "run", "first_step", "last_step", "checkpoints", "games", "eval_seed", "epsilon", "mean", "std"
]  # fmt: skip
KEY = ("run", "agent_steps", "first_step", "last_step", "checkpoints", "games", "eval_seed",
       "epsilon")  # fmt: skip


def recipe(run: str) -> str:
    """How the milestones table names ``run``'s recipe."""
    if run in RECIPES:
        return RECIPES[run]
    earlier = [r["recipe"] for r in read_rows(MILESTONES) if r["run"] == run]
    if not earlier:
        raise SystemExit(f"{run}: name its recipe in notebooks/data/breakout_runs.py (RECIPES)")
    return earlier[0]


def read_rows(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def window(text: str, every: int) -> list[int]:
    """The steps FIRST, FIRST + every, ..., LAST that ``FIRST-LAST`` names."""
    first, dash, last = text.partition("-")
    if not dash or not (first.isdigit() and last.isdigit()) or int(first) > int(last):
        raise SystemExit(f"a window of milestones is FIRST-LAST in agent steps, not {text!r}")
    if (int(last) - int(first)) % every:
        raise SystemExit(f"{text}: its ends are not a whole number of {every:,} steps apart")
    return list(range(int(first), int(last) + 1, every))


def put_row(path: Path, fields: list[str], row: dict) -> None:
    """Write ``row`` into the table at ``path``, in place of the row with the same key."""
    rows = read_rows(path)
    key = [f for f in KEY if f in fields]
    same = [i for i, r in enumerate(rows) if all(str(r[f]) == str(row[f]) for f in key)]
    if same:
        rows[same[0]] = row
    else:
        rows.append(row)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run folder in ~/rlbook-runs")
    parser.add_argument("steps", nargs="+", help="milestones: STEP, or FIRST-LAST with --mean")
    parser.add_argument("--mean", action="store_true", help="score the mean of each window")
    parser.add_argument("--every", type=int, default=50_000, help="steps between milestones")
    parser.add_argument("--games", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1, help="evaluation seed")
    parser.add_argument("--epsilon", type=float, default=0.05)
    args = parser.parse_args()
    if args.every < 1:
        parser.error(f"--every must be a positive number of steps, got {args.every}")
    try:  # a missing run folder or milestone, named by rlbook's own checks
        score(args)
    except RunError as error:
        parser.error(str(error))


def score(args: argparse.Namespace) -> None:
    """Score each milestone (or window) ``args`` names and write its row."""
    folder = RunFolder(RUN_ROOT / args.run)
    protocol = {"games": args.games, "eval_seed": args.seed, "epsilon": args.epsilon}
    for text in args.steps:
        if args.mean:
            steps = window(text, args.every)
            agent = restore_averaged(folder.path, [folder.milestone(s) for s in steps])
            row = {"run": args.run, "first_step": steps[0], "last_step": steps[-1],
                   "checkpoints": len(steps), **protocol}  # fmt: skip
            table, fields = AVERAGES, AVERAGE_FIELDS
        else:
            if not text.isdigit():
                raise SystemExit(f"a milestone is its agent step, not {text!r} (or use --mean)")
            agent = restore_agent(folder.path, folder.milestone(int(text)))
            row = {"run": args.run, "recipe": recipe(args.run), "agent_steps": int(text),
                   **protocol}  # fmt: skip
            table, fields = MILESTONES, MILESTONE_FIELDS
        scores = evaluate(
            agent, agent.config.game, args.games, epsilon=args.epsilon, seed=args.seed
        )
        measured = {"mean": round(scores.mean(), 1), "std": round(scores.std(), 1)}
        put_row(table, fields, {**row, **measured})
        print(f"{args.run} {text}: {summary(scores)}")


if __name__ == "__main__":
    main()
