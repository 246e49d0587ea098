"""Score a run's milestones under the DQN paper's protocol into the Experiments page's tables.

    .venv/bin/python notebooks/data/protocol_scores.py RUN STEP [STEP ...]
    .venv/bin/python notebooks/data/protocol_scores.py RUN FIRST-LAST [FIRST-LAST ...] --mean
    .venv/bin/python notebooks/data/protocol_scores.py --pretrained Breakout[/NAME]

Each STEP, a milestone of run RUN in ~/rlbook-runs, is scored alone into
breakout_milestones.csv, under the recipe ``breakout_runs.RECIPES`` or the table's earlier rows
give the run. With ``--mean``, each FIRST-LAST is one agent, the mean of the weights
of the run's milestones from FIRST to LAST steps, ``--every`` steps apart
(``rlbook.weight_average``), scored into breakout_weight_average.csv: the candidates a run's
agent to ship is chosen among. With ``--pretrained``, an agent rlbook ships, as it ships (float16
weights), under its run's name with ``-float16`` and the milestones it holds. 30 games of
evaluation seed 1 at epsilon 0.05, of up to 30 minutes (108,000 frames), unless told
(``--max-frames 18000``: the 2015 paper's 5 minutes); a row of the same run, steps (and number
of checkpoints), games, seed, epsilon and cap replaces the one there. Run from the repository's
root.
"""

import argparse
import csv
import re
from pathlib import Path

from breakout_runs import RECIPES, RUN_ROOT

from rlbook import pretrained
from rlbook.atari import MAX_FRAMES
from rlbook.checkpoints import restore_agent
from rlbook.evaluate import evaluate, summary
from rlbook.files import RunError
from rlbook.run_folder import MILESTONE_PREFIX, checkpoint_step
from rlbook.runs import RunFolder
from rlbook.weight_average import restore_averaged

HERE = Path(__file__).parent
MILESTONES = HERE / "breakout_milestones.csv"
MILESTONE_FIELDS = [
    "run", "recipe", "agent_steps", "games", "eval_seed", "epsilon", "max_frames", "mean", "std"
]  # fmt: skip
AVERAGES = HERE / "breakout_weight_average.csv"
AVERAGE_FIELDS = [
    "run", "first_step", "last_step", "checkpoints", "games", "eval_seed", "epsilon", "max_frames",
    "mean", "std",
]  # fmt: skip
KEY = ("run", "agent_steps", "first_step", "last_step", "checkpoints", "games", "eval_seed",
       "epsilon", "max_frames")  # fmt: skip


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
    parser.add_argument("run", nargs="?", help="a run folder in ~/rlbook-runs")
    parser.add_argument("steps", nargs="*", help="milestones: STEP, or FIRST-LAST with --mean")
    parser.add_argument("--mean", action="store_true", help="score the mean of each window")
    parser.add_argument("--pretrained", metavar="GAME[/NAME]", help="score a shipped agent")
    parser.add_argument("--every", type=int, default=50_000, help="steps between milestones")
    parser.add_argument("--games", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1, help="evaluation seed")
    parser.add_argument("--epsilon", type=float, default=0.05)
    parser.add_argument("--max-frames", type=int, default=MAX_FRAMES, help="cap of each game")
    args = parser.parse_args()
    if args.every < 1:
        parser.error(f"--every must be a positive number of steps, got {args.every}")
    if args.pretrained and (args.run or args.mean):
        parser.error("--pretrained scores the agent as shipped: name no run, milestone or --mean")
    if not args.pretrained and not (args.run and args.steps):
        parser.error("name a run and its milestones, or --pretrained GAME[/NAME]")
    try:  # a missing run folder, milestone or shipped agent, named by rlbook's own checks
        if args.pretrained:
            score_shipped(args)
        else:
            score(args)
    except (RunError, ValueError) as error:
        parser.error(str(error))


def protocol(args: argparse.Namespace) -> dict:
    """How ``args``' games are played: the columns every row of both tables names."""
    return {"games": args.games, "eval_seed": args.seed, "epsilon": args.epsilon,
            "max_frames": args.max_frames}  # fmt: skip


def measure(agent, args: argparse.Namespace, table: Path, fields: list[str], row: dict) -> str:
    """Play ``args``' games with ``agent``, write ``row`` with their mean and spread into
    ``table``, and return their summary."""
    scores = evaluate(
        agent,
        agent.config.game,
        args.games,
        epsilon=args.epsilon,
        seed=args.seed,
        max_frames=args.max_frames,
    )
    measured = {"mean": round(scores.mean(), 1), "std": round(scores.std(), 1)}
    put_row(table, fields, {**row, **measured})
    return summary(scores)


def score(args: argparse.Namespace) -> None:
    """Score each milestone (or window) ``args`` names and write its row."""
    folder = RunFolder(RUN_ROOT / args.run)
    for text in args.steps:
        if args.mean:
            steps = window(text, args.every)
            agent = restore_averaged(folder.path, [folder.milestone(s) for s in steps])
            row = {"run": args.run, "first_step": steps[0], "last_step": steps[-1],
                   "checkpoints": len(steps), **protocol(args)}  # fmt: skip
            table, fields = AVERAGES, AVERAGE_FIELDS
        else:
            if not text.isdigit():
                raise SystemExit(f"a milestone is its agent step, not {text!r} (or use --mean)")
            agent = restore_agent(folder.path, folder.milestone(int(text)))
            row = {"run": args.run, "recipe": recipe(args.run), "agent_steps": int(text),
                   **protocol(args)}  # fmt: skip
            table, fields = MILESTONES, MILESTONE_FIELDS
        print(f"{args.run} {text}: {measure(agent, args, table, fields, row)}")


def score_shipped(args: argparse.Namespace) -> None:
    """Score the agent rlbook ships as ``args.pretrained`` and write its row, named by its run
    (the one that trained its weights, the last ``--run`` of its commands) and its milestones."""
    about = pretrained.about(args.pretrained)
    runs = [m[1] for c in about["commands"] if (m := re.search(r"--run[ =](\S+)", c))]
    if not runs:
        raise ValueError(f"{args.pretrained}'s commands name no --run")
    run = Path(runs[-1]).name
    names = about["checkpoints"]
    if not all(n.startswith(f"{MILESTONE_PREFIX}-") for n in names):
        raise ValueError(f"{args.pretrained} holds {names}, not milestones: score its run's")
    steps = sorted(checkpoint_step(n) for n in names)
    name = f"{run}-float16"  # the precision it ships in
    if len(steps) == 1:
        row = {"run": name, "recipe": recipe(run), "agent_steps": steps[0], **protocol(args)}
        table, fields = MILESTONES, MILESTONE_FIELDS
    else:
        if steps != list(range(steps[0], steps[-1] + 1, args.every)):
            raise ValueError(f"{args.pretrained}'s milestones are not {args.every:,} steps apart")
        row = {"run": name, "first_step": steps[0], "last_step": steps[-1],
               "checkpoints": len(steps), **protocol(args)}  # fmt: skip
        table, fields = AVERAGES, AVERAGE_FIELDS
    agent = pretrained.load(args.pretrained)
    print(f"{args.pretrained} ({name}): {measure(agent, args, table, fields, row)}")


if __name__ == "__main__":
    main()
