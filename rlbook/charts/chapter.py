"""The chapter's figures: FrozenLake's agents, a DQN run's training, a sweep's settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter
from scipy.signal import lfilter

from rlbook.charts.book import book_style, thousands

ARROWS = "←↓→↑"  # FrozenLake's actions 0..3: left, down, right, up


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


@book_style()
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


@book_style()
def plot_lengths(lengths: Sequence[int], window: int = 20, ax=None, title=None):
    """Episode lengths, raw and smoothed."""
    ax = ax or plt.figure().gca()
    ax.plot(lengths, lw=0.5, alpha=0.35, color="C0", label="episode")
    ax.plot(moving_average(lengths, window), color="C0", label=f"{window}-episode mean")
    ax.set(xlabel="episode", ylabel="steps", title=title or "Episode length")
    ax.legend(frameon=False)
    return ax


@book_style()
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


@book_style()
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


@book_style()
def plot_training(
    log: Mapping[str, np.ndarray],
    title: str = "DQN training",
    window: int = 20,
    loss: str = "Huber",
):
    """Game score, average max-Q and loss of a DQN run against agent steps (from its log.csv).

    ``loss`` names what the run minimised (``DQNConfig.loss_name``).
    """
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    steps = log["step"]
    panels = [("score", "game score"), ("avg_max_q", "average max Q"), ("loss", f"loss ({loss})")]
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
        ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig


@book_style()
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
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return ax


@book_style()
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
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.legend(frameon=False, fontsize=8, title="IQM, 95% interval", title_fontsize=8)
    return ax


@book_style()
def plot_return_distributions(
    frames: Sequence[np.ndarray],
    probs: np.ndarray,
    atoms: np.ndarray,
    action_names: Sequence[str],
    titles: Sequence[str],
    title: str = "What C51 expects",
    returns: tuple[float, float] | None = None,
):
    """Frames of a game above the return distribution C51 predicts there for each action.

    ``probs`` is ``[moments, actions, atoms]`` (``DQNAgent.distribution``); each action's
    distribution is drawn as a line over the atoms, its mean (the Q-value) as a dotted line.
    ``returns`` limits the x-axis to the returns a game can have (all the support by default).
    """
    n = len(frames)
    fig, axes = plt.subplots(
        2, n, figsize=(2.6 * n, 5), gridspec_kw={"height_ratios": [1, 1.2]}, squeeze=False
    )
    for k in range(n):
        axes[0, k].imshow(frames[k], cmap="gray", vmin=0, vmax=255)
        axes[0, k].set_title(titles[k], fontsize=9)
        axes[0, k].axis("off")
        ax = axes[1, k]
        for a, name in enumerate(action_names):
            ax.plot(atoms, probs[k, a], color=f"C{a}", lw=1.4, label=name)
            ax.axvline(probs[k, a] @ atoms, color=f"C{a}", ls=":", lw=1)
        ax.set(xlabel="return", xlim=returns, ylim=(0, 1.1 * probs.max()))
        ax.set_ylabel("probability" if k == 0 else "")
    axes[1, 0].legend(frameon=False, fontsize=8, title="action (dotted: mean)", title_fontsize=8)
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig
