"""The Experiments page's figures: every Breakout run, drawn from the CSV files of its results."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter

from rlbook.charts.book import book_style, thousands


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a CSV file as dicts, with numbers as floats and empty cells as ``None``."""

    def value(text: str):
        if text == "":
            return None
        try:
            return float(text)
        except ValueError:
            return text

    with Path(path).open(newline="") as f:
        return [{key: value(text) for key, text in row.items()} for row in csv.DictReader(f)]


def _protocol_rows(
    milestones: Sequence[Mapping], run: str, games: int | None = 30
) -> list[Mapping]:
    """A run's scores on the DQN paper's protocol (epsilon 0.05) over ``games`` of the seed-1
    games (30 score a milestone, 10 screen a checkpoint; None: both), by step."""
    rows = [
        r
        for r in milestones
        if r["run"] == run
        and r["eval_seed"] == 1
        and r["epsilon"] == 0.05
        and (games is None or r["games"] == games)
    ]
    return sorted(rows, key=lambda r: r["agent_steps"])


_RUN_COLOURS = [0, 1, 2, 3, 4, 5, 6, 8, 9]


def _run_colour(i: int) -> str:
    """The colour of the ``i``-th run: matplotlib's cycle without its grey (C7), which here is
    the colour of a reference curve."""
    return f"C{_RUN_COLOURS[i % len(_RUN_COLOURS)]}"


# A reference's colour says whose it is, its look what was measured: a curve of training games
# is a line, an agent scored under the protocol a marker alone. Keyed by source and measure, so
# that a row added to the references' CSV, or moved, cannot take another reference's look.
_REFERENCE_LOOKS = {
    ("CleanRL dqn_atari", "training games"): ("k", "--", "s"),
    ("CleanRL c51_atari", "training games"): ("0.45", ":", "^"),
    ("CleanRL dqn_atari", "protocol"): ("k", "", "x"),
    ("CleanRL c51_atari", "protocol"): ("0.45", "", "P"),
    ("DQN paper (Mnih et al. 2015)", "protocol"): ("firebrick", "", "*"),
}


def _reference_looks() -> Iterator[tuple[str, str]]:
    """(colour, marker) for each reference the table above does not name, all different for
    the first 25, then again from the first: a new source is drawn, never refused."""
    colours = ("teal", "darkorange", "purple", "olive", "saddlebrown")
    pairs = itertools.product(("D", "v", "o", "<", ">"), colours)
    return itertools.cycle((colour, marker) for marker, colour in pairs)


def _reference_curves(
    references: Sequence[Mapping], measures: Sequence[str]
) -> Iterator[tuple[Mapping, list[Mapping], tuple[str, str, str]]]:
    """Each reference source and measure among ``measures`` with a score at a step count: its
    first row, its rows by step, and its (colour, line, marker), the same in every figure."""
    curves: dict[tuple[str, str], list[Mapping]] = {}
    for row in references:
        if row["agent_steps"]:
            curves.setdefault((row["source"], row["measure"]), []).append(row)
    looks = dict(_REFERENCE_LOOKS)
    unnamed = sorted(key for key in curves if key not in looks)  # sorted: the rows' order is moot
    for key, (colour, marker) in zip(unnamed, _reference_looks(), strict=False):  # looks: endless
        looks[key] = (colour, "-." if key[1] == "training games" else "", marker)
    for key, rows in curves.items():
        if key[1] in measures:
            yield rows[0], sorted(rows, key=lambda r: r["agent_steps"]), looks[key]


def _mean_and_its_error(ax, rows: Sequence[Mapping], i: int, label: str) -> None:
    """Mean score per game against agent steps for the ``i``-th run, with a band of one
    standard error. Runs past the colour cycle are drawn dash-dotted with diamonds, so that two
    runs that share a colour still read apart."""
    steps = np.array([r["agent_steps"] for r in rows])
    mean = np.array([r["mean"] for r in rows])
    error = np.array([r["std"] for r in rows]) / np.sqrt([r["games"] for r in rows])
    style = "o-" if i < len(_RUN_COLOURS) else "D-."
    color = _run_colour(i)
    ax.plot(steps, mean, style, ms=3, lw=1.2, color=color, label=label)
    ax.fill_between(steps, mean - error, mean + error, color=color, alpha=0.15, lw=0)


@book_style()
def plot_milestones(
    milestones: Sequence[Mapping],
    references: Sequence[Mapping],
    runs: Sequence[str],
    title: str = "Breakout: rlbook's runs (one seed each) beside the published curves",
    ax=None,
):
    """Score against agent steps for each recipe (its ``runs`` joined), beside the references.

    rlbook's points are 30 games at each milestone under the DQN paper's protocol (epsilon
    0.05), one training seed per run, with a band of one standard error; the references are
    drawn as their sources measured them (CleanRL's training games at epsilon 0.01 over 3 seeds,
    its agents and the DQN paper under the protocol).
    """
    ax = ax or plt.figure(figsize=(9, 5)).gca()
    by_recipe: dict[str, list[Mapping]] = {}
    for run in runs:
        rows = _protocol_rows(milestones, run)
        if not rows:
            raise ValueError(f"no seed-1 protocol scores for run {run!r} in the milestones")
        by_recipe.setdefault(rows[0]["recipe"], []).extend(rows)
    for i, (recipe, rows) in enumerate(by_recipe.items()):
        _mean_and_its_error(ax, rows, i, recipe)
    for first, rows, (color, line, marker) in _reference_curves(
        references, ("training games", "protocol")
    ):
        epsilon = rows[-1]["epsilon"]  # a curve's early points explore more (see the page)
        ax.plot(
            [r["agent_steps"] for r in rows],
            [r["score"] for r in rows],
            color=color,
            ls=line or "none",
            marker=marker,
            ms=8 if marker == "*" else _marker_size(rows),
            label=f"{first['source']} ({first['measure']}), epsilon {epsilon:g}",
        )
    ax.set(xlabel="agent steps (4 frames each)", ylabel="game score (mean per game)", title=title)
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    return ax


@book_style()
def plot_ablation(
    milestones: Sequence[Mapping],
    runs: Sequence[str],
    steps: Sequence[int] = (250_000, 500_000),
    title: str = "Which changes made the book's agent learn",
    ax=None,
):
    """Protocol score of each run at each of ``steps``, as bars with the game-to-game spread."""
    ax = ax or plt.figure(figsize=(8, 4)).gca()
    height = 0.8 / len(steps)
    labels = []
    for i, run in enumerate(runs):
        rows = {r["agent_steps"]: r for r in _protocol_rows(milestones, run)}
        labels.append(f"{rows[max(rows)]['recipe']}\n({run})" if rows else run)
        for j, step in enumerate(steps):
            if step not in rows:
                raise ValueError(f"run {run!r} has no milestone at {step:,} steps")
            row = rows[step]
            y = i + (j - (len(steps) - 1) / 2) * height
            label = f"{thousands(step, None)} steps" if i == 0 else None
            ax.barh(
                y,
                row["mean"],
                height,
                xerr=row["std"],
                color=f"C{j}",
                alpha=0.8,
                label=label,
                error_kw={"lw": 0.8, "alpha": 0.6},
            )
            ax.text(row["mean"] + row["std"], y, f" {row['mean']:g}", va="center", fontsize=7)
    ax.set_yticks(range(len(runs)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel="game score (30 games, protocol; bar: mean, line: one std)", title=title)
    ax.grid(axis="y", visible=False)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return ax


@book_style()
def plot_speed(rows: Sequence[Mapping], title: str = "DQN training speed on Breakout", ax=None):
    """Steps per second of each implementation on each machine: bar at the median, dot per run."""
    ax = ax or plt.figure(figsize=(7, 3.2)).gca()
    machines = list(dict.fromkeys(r["machine"] for r in rows))
    implementations = list(dict.fromkeys(r["implementation"] for r in rows))
    height = 0.8 / len(implementations)
    labels = []
    for i, machine in enumerate(machines):
        medians = {}
        for j, name in enumerate(implementations):
            values = [
                r["steps_per_second"]
                for r in rows
                if r["machine"] == machine and r["implementation"] == name
            ]
            medians[name] = float(np.median(values))
            y = i + (j - (len(implementations) - 1) / 2) * height
            label = name if i == 0 else None
            ax.barh(y, medians[name], height, color=f"C{j}", alpha=0.7, label=label)
            ax.scatter(values, [y] * len(values), color=f"C{j}", s=10, zorder=3)
            ax.text(max(values), y, f"  {medians[name]:.1f}", va="center", fontsize=8)
        first, *others = implementations
        ratios = ", ".join(f"{medians[first] / medians[o]:.2f}x" for o in others)
        labels.append(f"{machine}\n(ratio {ratios})")
    ax.set_yticks(range(len(machines)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="agent steps per second (learning on, 2 CPU cores)", title=title)
    ax.set_xlim(0, max(r["steps_per_second"] for r in rows) * 1.15)
    ax.grid(axis="y", visible=False)
    ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1)
    return ax


@book_style()
def plot_training_games(
    rows: Sequence[Mapping],
    references: Sequence[Mapping],
    title: str = "Breakout: each run's training games beside CleanRL's",
    ax=None,
):
    """The mean of each run's last 100 training games against agent steps, beside the reference
    curves measured the same way (CleanRL's training games, 3 seeds, epsilon 0.01 after 1M).

    ``rows`` come from ``breakout_training_games.csv`` (``rlbook.runs.training_scores``); a
    run's games before 1,000,000 steps were played at a higher epsilon than the references'.
    """
    ax = ax or plt.figure(figsize=(8, 5)).gca()
    for i, run in enumerate(dict.fromkeys(r["run"] for r in rows)):
        mine = sorted((r for r in rows if r["run"] == run), key=lambda r: r["agent_steps"])
        _mean_and_its_error(ax, mine, i, f"{mine[0]['recipe']} (rlbook, one seed)")
    for first, curve, (color, line, marker) in _reference_curves(references, ("training games",)):
        seeds = f"{first['seeds']:g} seeds" if first["seeds"] else "seeds not given"
        ax.plot(
            [r["agent_steps"] for r in curve],
            [r["score"] for r in curve],
            color=color,
            ls=line,
            marker=marker,
            ms=_marker_size(curve) - 1,
            label=f"{first['source']} ({seeds})",
        )
    ax.set(
        xlabel="agent steps (4 frames each)",
        ylabel="mean of the last 100 training games",
        title=title,
    )
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    return ax


@book_style()
def plot_continuation(
    rows: Sequence[Mapping],
    title: str = "Breakout: going on from the shipped agent",
    ax=None,
):
    """Training games of runs that went on from the same weights, against the steps since.

    ``rows`` come from ``breakout_continuation.csv``: per run, the mean of the games that
    ended in each stretch after the weights (``rlbook.runs.scores_between``), and at step 0 the
    level the weights had reached: the last 100 games before them. A tick on the axis marks
    where each run learned again (``learning_from``; it gathers its memory first).
    """
    ax = ax or plt.figure(figsize=(8, 4)).gca()
    runs = list(dict.fromkeys(r["run"] for r in rows))
    if not runs:
        raise ValueError("no continuation rows to draw")
    before = [r for r in rows if r["after_steps"] == 0]
    if before:
        level = before[0]["mean"]
        ax.axhline(level, color="C7", ls=":", lw=1)
        ax.annotate(
            f"the weights' last 100 training games: {level:.0f}",
            (0, level),
            xycoords=ax.get_yaxis_transform(),  # x in axes fraction: the left edge
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=7,
            color="C7",
        )
    for i, run in enumerate(runs):
        mine = sorted(
            (r for r in rows if r["run"] == run and r["after_steps"] > 0),
            key=lambda r: r["after_steps"],
        )
        if not mine:
            continue
        steps = [{**r, "agent_steps": r["after_steps"]} for r in mine]
        _mean_and_its_error(ax, steps, i, mine[0]["label"])
        if mine[0].get("learning_from") is not None:
            ax.axvline(mine[0]["learning_from"], ymax=0.04, color=_run_colour(i), lw=2)
    ax.set(
        xlabel="agent steps after the shipped weights (a tick: where a run learns again)",
        ylabel="mean score of the games in each stretch",
        title=title,
    )
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.legend(frameon=False, fontsize=7, loc="lower right")
    return ax


@book_style()
def plot_dormant_units(
    rows: Sequence[Mapping],
    tau: float = 0.0,
    title: str = "Breakout: units of the 512-unit layer that never fire",
    ax=None,
    states: str = "shipped agent's",
):
    """The fraction of ``tau``-dormant units (``rlbook.dormant``) in each network, against the
    agent steps it had trained, probed on ``states`` (the rows' ``states``: the shipped agent's,
    shared by all, or its own); ``rows`` come from ``breakout_dormant_units.csv``.

    A run's milestones are a line; agents from several runs under one label (rlbook's earlier
    agents, of related recipes) are points. Labels take colours in the order of their first
    row. Step 0 is each recipe's network as built.
    """
    rows = [r for r in rows if r["tau"] == tau and r["states"] == states]
    if not rows:
        raise ValueError(f"no dormant-unit rows with tau={tau} on the {states} states")
    ax = ax or plt.figure(figsize=(8, 4)).gca()
    runs_of = {r["label"]: set() for r in rows}  # labels in the order of their first row
    for r in rows:
        runs_of[r["label"]].add(r["run"])
    for i, label in enumerate(runs_of):
        mine = sorted((r for r in rows if r["label"] == label), key=lambda r: r["agent_steps"])
        style = "o-" if len(runs_of[label]) == 1 else "D"
        steps = [r["agent_steps"] for r in mine]
        dormant = [100 * r["dormant"] for r in mine]
        ax.plot(
            steps, dormant, style, ms=4, lw=1.2, color=_run_colour(i), label=label, clip_on=False
        )
    ax.set(
        xlabel="agent steps (4 frames each)",
        ylabel="% of units" + (" that never fire" if tau == 0 else f" at or under {tau:g} x mean"),
        title=title,
        ylim=(0, 100),
    )
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.legend(frameon=False, fontsize=7)
    return ax


def _paper_line(ax) -> None:
    """The DQN paper's Breakout score, the bar a shipped agent is held to, as a dotted line."""
    ax.axhline(401.2, color="C7", ls=":", lw=1)
    ax.annotate(
        "DQN paper, 12,500,000 steps: 401.2",
        (0.01, 401.2),
        xycoords=("axes fraction", "data"),
        xytext=(0, 3),
        textcoords="offset points",
        fontsize=7,
        color="C7",
    )


def _averaged_rows(averaged: Sequence[Mapping], run: str) -> list[Mapping]:
    """The means of ``run``'s checkpoints scored on seed-1 games, by their first step."""
    rows = [r for r in averaged if r["run"] == run and r["eval_seed"] == 1]
    return sorted(rows, key=lambda r: (r["first_step"], r["last_step"]))


@book_style()
def plot_weight_average(
    milestones: Sequence[Mapping],
    averaged: Sequence[Mapping],
    run: str,
    shipped: tuple[int, int] | None = None,
    most: int = 11,
    title: str = "Breakout: one checkpoint, or the mean of several",
    ax=None,
):
    """A run's checkpoints under the protocol, each alone and as the mean of a few's weights.

    ``milestones`` are rows of ``breakout_milestones.csv``: the run's checkpoints scored alone
    on seed-1 games at epsilon 0.05 (10 games: small dots; 30: large, with a standard error).
    ``averaged`` are rows of ``breakout_weight_average.csv``: an agent acting with the mean
    weights of the checkpoints from ``first_step`` to ``last_step``, drawn as a bar over them;
    means of more than ``most`` checkpoints are left to ``plot_checkpoints_averaged``, where they
    do not hide each other, except the ``shipped`` one (its first and last step), drawn in red.
    """
    ax = ax or plt.figure(figsize=(8, 4.5)).gca()
    alone = _protocol_rows(milestones, run, games=None)
    mine = _averaged_rows(averaged, run)
    if not alone or not mine:
        raise ValueError(f"no checkpoints of {run!r} scored alone and averaged to draw")
    if shipped is not None and all((r["first_step"], r["last_step"]) != shipped for r in mine):
        raise ValueError(f"no mean of {run!r}'s checkpoints from {shipped[0]} to {shipped[1]}")
    # the stretch of the run where checkpoints were averaged, and a little before it
    first = min(r["first_step"] for r in mine) - 200_000
    last = max(r["last_step"] for r in mine) + 50_000
    alone = [r for r in alone if first <= r["agent_steps"] <= last]
    for games, size, color in ((10, 3, "C7"), (30, 5, "C0")):
        rows = sorted((r for r in alone if r["games"] == games), key=lambda r: r["agent_steps"])
        if rows:
            ax.errorbar(
                [r["agent_steps"] for r in rows],
                [r["mean"] for r in rows],
                yerr=[r["std"] / np.sqrt(games) for r in rows] if games == 30 else None,
                fmt="o",
                ms=size,
                lw=0.8,
                color=color,
                label=f"one checkpoint, {games} games",
            )
    labelled = set()
    for r in mine:
        span = (r["first_step"], r["last_step"])
        if span == shipped:
            color, label = (
                "C3",
                f"the shipped agent: the mean of {r['checkpoints']:.0f} checkpoints",
            )
        elif r["checkpoints"] <= most:
            color, label = (
                "C1",
                f"the mean of the checkpoints under the bar, {r['games']:.0f} games",
            )
        else:
            continue
        error = r["std"] / np.sqrt(r["games"])
        ax.fill_between(span, r["mean"] - error, r["mean"] + error, color=color, alpha=0.2, lw=0)
        ax.plot(
            span, [r["mean"]] * 2, color=color, lw=2.5, label=None if label in labelled else label
        )
        labelled.add(label)
    _paper_line(ax)
    ax.set(
        xlabel="agent steps",
        ylabel="mean score under the protocol (epsilon 0.05)",
        title=title,
    )
    ax.set_xlim(first, last)
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.legend(frameon=False, fontsize=7, loc="lower left")
    return ax


@book_style()
def plot_checkpoints_averaged(
    milestones: Sequence[Mapping],
    averaged: Sequence[Mapping],
    run: str,
    title: str = "How many checkpoints to average",
    ax=None,
):
    """Each mean of ``run``'s checkpoints by how many it averages, beside the checkpoints alone.

    The means are those of ``plot_weight_average`` scored on the 30 seed-1 games; one checkpoint
    is each of the run's checkpoints in the averaged stretch, every 50,000 steps, each scored
    alone on 10 of those games (all of them, not the few then scored on 30 for looking good).
    Means of more than five checkpoints are labelled with their stretch of the run; the line
    joins the average score at each count. The score axis starts a little under the lowest
    point, not at 0.
    """
    ax = ax or plt.figure(figsize=(5, 4.5)).gca()
    mine = [r for r in _averaged_rows(averaged, run) if r["games"] == 30]
    if not mine:
        raise ValueError(f"no means of {run!r}'s checkpoints scored on 30 games to draw")
    first, last = min(r["first_step"] for r in mine), max(r["last_step"] for r in mine)
    alone = [
        r
        for r in _protocol_rows(milestones, run, games=10)
        if first <= r["agent_steps"] <= last and r["agent_steps"] % 50_000 == 0
    ]
    # (checkpoints averaged, mean, standard error)
    points = [(1, r["mean"], r["std"] / np.sqrt(10)) for r in alone]
    points += [(r["checkpoints"], r["mean"], r["std"] / np.sqrt(30)) for r in mine]
    counts = sorted({n for n, _, _ in points})
    ax.plot(
        counts,
        [np.mean([m for n, m, _ in points if n == c]) for c in counts],
        color="C7",
        lw=1,
        label="the average at each count",
    )
    for color, rows, label in (
        ("C0", [p for p in points if p[0] == 1], "one checkpoint, 10 games"),
        ("C1", [p for p in points if p[0] > 1], "the mean of several, 30 games"),
    ):
        if rows:
            ax.errorbar(
                [n for n, _, _ in rows],
                [m for _, m, _ in rows],
                yerr=[e for _, _, e in rows],
                fmt="o",
                ms=4 if color == "C1" else 3,
                lw=0.8,
                color=color,
                label=label,
            )
    for count in (c for c in counts if c > 5):
        # several means of one count: labels stacked from the highest score down
        same = sorted((r for r in mine if r["checkpoints"] == count), key=lambda r: -r["mean"])
        for i, r in enumerate(same):
            ax.annotate(
                f"{thousands(r['first_step'], None)}-{thousands(r['last_step'], None)}",
                (count, r["mean"]),
                xytext=(5, 2 - 9 * i),
                textcoords="offset points",
                fontsize=6,
                color="C1",
            )
    _paper_line(ax)
    ax.set(
        xlabel="checkpoints averaged (50,000 steps apart)",
        ylabel="mean score on seed-1 games (epsilon 0.05)",
        title=title,
    )
    ax.set_ylim(bottom=max(0, min(m for _, m, _ in points) - 60))
    ax.legend(frameon=False, fontsize=7, loc="lower right")
    return ax


def _marker_size(points: Sequence) -> float:
    """Markers for a curve of a few points; a curve read every 250,000 steps is drawn as a line."""
    return 5 if len(points) <= 4 else 2


class RunsTable:
    """One row per Breakout run: its recipe, how far it went, its best and last protocol score."""

    def __init__(self, milestones: Sequence[Mapping]):
        self.rows = []
        for run in dict.fromkeys(r["run"] for r in milestones):
            scored = _protocol_rows(milestones, run)
            if not scored:
                continue
            best = max(scored, key=lambda r: r["mean"])
            self.rows.append(
                {
                    "run": run,
                    "recipe": scored[0]["recipe"],
                    "milestones": len(scored),
                    "steps": scored[-1]["agent_steps"],
                    "best": (best["mean"], best["agent_steps"]),
                    "last": scored[-1]["mean"],
                }
            )

    def _repr_markdown_(self) -> str:
        lines = [
            "| run | recipe | milestones scored | last step | best score (at step) | last score |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            best, at = r["best"]
            lines.append(
                f"| `{r['run']}` | {r['recipe']} | {r['milestones']} | {r['steps']:,.0f} "
                f"| {best:.1f} ({at:,.0f}) | {r['last']:.1f} |"
            )
        return "\n".join(lines) + "\n"


def runs_table(milestones: Sequence[Mapping]) -> RunsTable:
    """Every run's scores under the protocol (30 seed-1 games, epsilon 0.05) as one table."""
    return RunsTable(milestones)
