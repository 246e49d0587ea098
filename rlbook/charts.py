"""The chapter's figures: one function per figure, and ``save_png`` with the book's file names.

Figures go to the repository's ``charts/`` folder as ``B09124_13_<name>.png``. In quick mode
(``RLBOOK_QUICK=1``) they go to a temporary folder instead, so a test run never overwrites the
committed figures; ``RLBOOK_CHARTS`` names another folder explicitly.
"""

from __future__ import annotations

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


def save_png(name: str, fig: plt.Figure | None = None) -> Path:
    """Save ``fig`` (default: the current figure) as ``charts/B09124_13_<name>.png``."""
    if not name or any(c in name for c in "/\\. "):
        raise ValueError(f"chart name must be a plain word like 'reward', got {name!r}")
    path = chart_dir() / f"{BOOK_PREFIX}{name}.png"
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
    """Success rate of each agent (one dot per seed, bar at the median) against the optimum."""
    ax = ax or plt.figure(figsize=(5.2, 3.6)).gca()
    for i, values in enumerate(rates.values()):
        values = np.atleast_1d(np.asarray(values, dtype=float))
        ax.bar(i, np.median(values), color=f"C{i}", alpha=0.6, width=0.6)
        jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else [0.0]
        ax.scatter(i + np.asarray(jitter), values, color=f"C{i}", s=14, zorder=3)
        ax.text(i, np.median(values) + 0.02, f"{np.median(values):.2f}", ha="center")
    ax.axhline(optimum, color="k", ls="--", lw=1)
    ax.text(-0.45, optimum + 0.015, f"optimum {optimum:.3f}", ha="left", va="bottom")
    ax.set_xticks(range(len(rates)), list(rates))
    ax.set(
        ylabel="success rate (fraction of episodes)",
        ylim=(0, 1),
        title=title or "Greedy policy success rate",
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
