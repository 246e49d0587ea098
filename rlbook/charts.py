"""The chapter's figures: one function per figure, and ``save_png`` with the book's file names.

Figures go to the repository's ``charts/`` folder as ``B09124_13_<name>.png``. In quick mode
(``RLBOOK_QUICK=1``) they go to a temporary folder instead, so a test run never overwrites the
committed figures; ``RLBOOK_CHARTS`` names another folder explicitly.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter
from scipy.signal import lfilter

from rlbook.quick import QUICK

BOOK_PREFIX = "B09124_13_"
plt.rcParams.update(
    {
        "figure.figsize": (6.4, 3.6),
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "savefig.bbox": "tight",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.titlesize": 11,
        "axes.titleweight": "bold",
        "font.size": 10,
    }
)
ARROWS = "←↓→↑"  # FrozenLake's actions 0..3: left, down, right, up


def chart_dir() -> Path:
    """Where figures are saved (created on first use)."""
    if "RLBOOK_CHARTS" in os.environ:
        folder = Path(os.environ["RLBOOK_CHARTS"])
    elif QUICK:
        folder = Path(tempfile.gettempdir()) / "rlbook-quick-charts"
    else:
        repo = Path(__file__).resolve().parents[1]
        folder = repo / "charts" if (repo / "pyproject.toml").exists() else Path.cwd() / "charts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_png(name: str, fig: plt.Figure | None = None, folder: str | Path | None = None) -> Path:
    """Save ``fig`` (default: the current figure) as ``charts/B09124_13_<name>.png``.

    ``folder`` saves it there instead of ``chart_dir()`` (a sweep keeps its figure beside its
    results).
    """
    if not name or any(c in name for c in "/\\. "):
        raise ValueError(f"chart name must be a plain word like 'reward', got {name!r}")
    path = (Path(folder) if folder is not None else chart_dir()) / f"{BOOK_PREFIX}{name}.png"
    (fig or plt.gcf()).savefig(path)
    return path


def moving_average(values: Sequence[float], window: int = 20) -> np.ndarray:
    """Trailing mean over ``window`` values, as the book computes it with ``lfilter``.

    The first ``window - 1`` values average over fewer points instead of being pulled
    towards zero, which plain ``lfilter`` would do.
    """
    values = np.asarray(values, dtype=float)
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    sums = lfilter(np.ones(window), [1.0], values)
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return sums / counts


def plot_reward(rewards: Sequence[float], window: int = 20, ax=None, label=None, title=None):
    """Per-episode reward, smoothed with a ``window``-episode moving average."""
    ax = ax or plt.figure().gca()
    ax.plot(moving_average(rewards, window), label=label)
    ax.set(
        xlabel="episode",
        ylabel=f"reward ({window}-episode mean)",
        title=title or "Reward per episode",
        ylim=(-0.02, 1.02) if max(rewards, default=0) <= 1 else None,
    )
    return ax


def plot_lengths(lengths: Sequence[int], window: int = 20, ax=None, title=None):
    """Episode lengths, raw and smoothed."""
    ax = ax or plt.figure().gca()
    ax.plot(lengths, lw=0.5, alpha=0.35, color="C0", label="episode")
    ax.plot(moving_average(lengths, window), color="C0", label=f"{window}-episode mean")
    ax.set(xlabel="episode", ylabel="steps", title=title or "Episode length")
    ax.legend(frameon=False)
    return ax


def plot_policy(q_table: np.ndarray, desc: np.ndarray, title: str = "Greedy policy", ax=None):
    """The lake map with each state's best Q-value as colour and its greedy action as an arrow."""
    desc = np.asarray(desc).astype(str)
    rows, cols = desc.shape
    ax = ax or plt.figure(figsize=(3.6, 3.6)).gca()
    best = q_table.max(axis=1).reshape(rows, cols)
    image = ax.imshow(best, cmap="Blues", vmin=0, vmax=max(float(best.max()), 1e-9))
    for s in range(rows * cols):
        r, c = divmod(s, cols)
        tile = desc[r, c]
        if tile in "HG":
            ax.text(
                c,
                r,
                "hole" if tile == "H" else "goal",
                ha="center",
                va="center",
                color="firebrick" if tile == "H" else "darkgreen",
                fontweight="bold",
            )
        else:
            ax.text(c, r, ARROWS[int(q_table[s].argmax())], ha="center", va="center", fontsize=18)
            ax.text(c, r + 0.33, f"{best[r, c]:.2f}", ha="center", va="center", fontsize=7)
    ax.set(xticks=[], yticks=[], title=title)
    ax.grid(False)
    plt.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="max Q")
    return ax


def plot_success(rates: Mapping[str, Sequence[float]], optimum: float, title=None, ax=None):
    """Success rate of each agent against the optimum: a dot per seed, a bar at the IQM.

    The whisker is the IQM's 95% stratified-bootstrap interval (``rlbook.stats``), drawn for
    agents measured over more than one seed.
    """
    from rlbook import stats

    ax = ax or plt.figure(figsize=(5.6, 3.8)).gca()
    for i, values in enumerate(rates.values()):
        values = np.atleast_1d(np.asarray(values, dtype=float))
        summary = stats.summarize(values)
        ax.bar(i, summary.iqm, color=f"C{i}", alpha=0.6, width=0.6)
        jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else [0.0]
        ax.scatter(i + np.asarray(jitter), values, color=f"C{i}", s=12, zorder=3, alpha=0.8)
        label = f"{summary.iqm:.3f}"
        if len(values) > 1:
            error = [[summary.iqm - summary.iqm_low], [summary.iqm_high - summary.iqm]]
            ax.errorbar(i + 0.22, summary.iqm, yerr=error, color="k", capsize=3, lw=1, zorder=4)
            label += f"\n[{summary.iqm_low:.3f}, {summary.iqm_high:.3f}]"
        ax.text(i, 0.03, label, ha="center", va="bottom", fontsize=8)
    ax.axhline(optimum, color="k", ls="--", lw=1)
    ax.text(-0.45, optimum + 0.015, f"optimum {optimum:.3f}", ha="left", va="bottom")
    seeds = [len(np.atleast_1d(v)) for v in rates.values()]
    labels = [
        f"{name}\n({n} seeds)" if n > 1 else name for name, n in zip(rates, seeds, strict=True)
    ]
    ax.set_xticks(range(len(rates)), labels)
    ax.set(
        ylabel="success rate (fraction of episodes)",
        ylim=(0, 1),
        title=title or "Greedy policy success rate (IQM, 95% interval)",
    )
    ax.grid(axis="x", visible=False)
    return ax


def plot_training(log: Mapping[str, np.ndarray], title: str = "DQN training", window: int = 20):
    """Game score, average max-Q and loss of a DQN run against agent steps (from its log.csv)."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    steps = log["step"]
    panels = [("score", "game score"), ("avg_max_q", "average max Q"), ("loss", "loss (Huber)")]
    for ax, (key, label) in zip(axes, panels, strict=True):
        values = log[key]
        seen = ~np.isnan(values)
        ax.plot(steps[seen], values[seen], lw=0.5, alpha=0.35, color="C0")
        if seen.sum() >= window:
            ax.plot(
                steps[seen],
                moving_average(values[seen], window),
                color="C0",
                label=f"{window}-game mean",
            )
            ax.legend(frameon=False, fontsize=8)
        ax.set(xlabel="agent steps (4 frames each)", ylabel=label)
        ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig


def _thousands(value: float, _position) -> str:
    """Tick labels 250k and 1.5M instead of 250000 and 1500000."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    return f"{value / 1e3:g}k" if abs(value) >= 1e3 else f"{value:g}"


def plot_score(
    log: Mapping[str, np.ndarray],
    window: int = 100,
    references: Mapping[str, float] | None = None,
    title: str = "Score per game",
    ax=None,
):
    """Game score of a DQN run against agent steps, its ``window``-game mean, and reference levels.

    ``references`` maps a label to a score drawn as a dashed line (``{"random": -0.6}``).
    """
    ax = ax or plt.figure().gca()
    steps, scores = np.asarray(log["step"]), np.asarray(log["score"], dtype=float)
    ax.plot(steps, scores, ".", ms=2, alpha=0.15, color="C0", label="one game")
    ax.plot(steps, moving_average(scores, window), color="C0", label=f"{window}-game mean")
    for i, (label, level) in enumerate((references or {}).items()):
        ax.axhline(level, color=f"C{i + 1}", ls="--", lw=1)
        ax.text(steps[-1] if len(steps) else 0, level, f" {label}", va="center", ha="left")
    ax.set(xlabel="agent steps", ylabel="game score", title=title)
    ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return ax


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


def _protocol_rows(milestones: Sequence[Mapping], run: str) -> list[Mapping]:
    """A run's scores on the DQN paper's protocol (epsilon 0.05) over the 30 seed-1 games."""
    rows = [
        r
        for r in milestones
        if r["run"] == run and r["eval_seed"] == 1 and r["epsilon"] == 0.05 and r["games"] == 30
    ]
    return sorted(rows, key=lambda r: r["agent_steps"])


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
        steps = np.array([r["agent_steps"] for r in rows])
        mean = np.array([r["mean"] for r in rows])
        error = np.array([r["std"] for r in rows]) / np.sqrt([r["games"] for r in rows])
        ax.plot(steps, mean, "o-", ms=3, lw=1.2, color=f"C{i}", label=recipe)
        ax.fill_between(steps, mean - error, mean + error, color=f"C{i}", alpha=0.15, lw=0)
    curves: dict[str, list[Mapping]] = {}
    for row in references:
        if row["agent_steps"]:
            curves.setdefault(f"{row['source']} ({row['measure']})", []).append(row)
    styles = iter([("k", "--", "s"), ("0.45", ":", "^"), ("k", "", "x"), ("firebrick", "", "*")])
    for label, rows in curves.items():
        rows = sorted(rows, key=lambda r: r["agent_steps"])
        color, line, marker = next(styles)
        epsilon = rows[0]["epsilon"]
        ax.plot(
            [r["agent_steps"] for r in rows],
            [r["score"] for r in rows],
            color=color,
            ls=line or "none",
            marker=marker,
            ms=8 if marker == "*" else 5,
            label=f"{label}, epsilon {epsilon:g}",
        )
    ax.set(xlabel="agent steps (4 frames each)", ylabel="game score (mean per game)", title=title)
    ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    return ax


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
            label = f"{_thousands(step, None)} steps" if i == 0 else None
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


def plot_sweep(
    summary: Sequence[Mapping],
    xlabel: str = "agent steps",
    ylabel: str = "score (IQM)",
    title: str = "Sweep",
    ax=None,
):
    """Score against steps of each setting of a sweep: its IQM, and the 95% interval as a band.

    ``summary`` holds rows with ``setting``, ``step``, ``runs``, ``iqm``, ``iqm_low`` and
    ``iqm_high`` (``rlbook.sweep``'s summary.csv).
    """
    ax = ax or plt.figure(figsize=(7, 4)).gca()
    settings = list(dict.fromkeys(row["setting"] for row in summary))
    for i, setting in enumerate(settings):
        rows = sorted((r for r in summary if r["setting"] == setting), key=lambda r: r["step"])
        steps = np.array([r["step"] for r in rows], dtype=float)
        middle = np.array([r["iqm"] for r in rows], dtype=float)
        low = np.array([r["iqm_low"] for r in rows], dtype=float)
        high = np.array([r["iqm_high"] for r in rows], dtype=float)
        runs = max(int(r["runs"]) for r in rows)
        ax.plot(steps, middle, "o-", ms=3, lw=1.4, color=f"C{i}", label=f"{setting} ({runs} runs)")
        ax.fill_between(steps, low, high, color=f"C{i}", alpha=0.2, lw=0)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.legend(frameon=False, fontsize=8, title="IQM, 95% interval", title_fontsize=8)
    return ax
