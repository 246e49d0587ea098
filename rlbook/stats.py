"""Claims over several runs: the interquartile mean and stratified-bootstrap intervals.

A deep RL agent's score moves a lot from one seed to the next, so one run says little and a
mean over a few runs is pulled around by the best and worst of them. Agarwal et al. (2021,
"Deep Reinforcement Learning at the Edge of the Statistical Precipice") recommend the
interquartile mean (IQM: the mean of the middle half of all runs' scores) with a 95%
confidence interval from a *stratified* bootstrap: each resample redraws the runs with
replacement within each task, so every task keeps its number of runs. This module computes
both as their ``rliable`` library does (``metrics.aggregate_iqm``, ``aggregate_mean`` and
``library.get_interval_estimates`` with percentile intervals), with numpy and scipy alone.

Scores are a table of ``runs x tasks`` (a task is a game, or one setting of a sweep); a 1-D
array is one task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import trim_mean

REPS = 50_000  # bootstrap resamples, rliable's default
_CHUNK = 2_000_000  # scores resampled at once, so large tables never fill the memory


def _iqm_batch(tables: np.ndarray) -> np.ndarray:
    """IQM of each table in a batch ``[n, runs, tasks]``: all runs and tasks pooled."""
    return trim_mean(tables.reshape(len(tables), -1), 0.25, axis=1)


def _mean_batch(tables: np.ndarray) -> np.ndarray:
    """Mean over runs, then over tasks, of each table in a batch (rliable's aggregate_mean)."""
    return tables.mean(axis=1).mean(axis=1)


STATISTICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "iqm": _iqm_batch,
    "mean": _mean_batch,
}


def score_table(scores) -> np.ndarray:
    """Scores as a float table ``[runs, tasks]``; a 1-D sequence is the runs of one task."""
    table = np.asarray(scores, dtype=float)
    if table.ndim == 1:
        table = table[:, None]
    if table.ndim != 2 or table.size == 0:
        raise ValueError(f"scores must be a non-empty runs x tasks table, got shape {table.shape}")
    if not np.all(np.isfinite(table)):
        raise ValueError("scores hold NaN or infinity; every run needs a score on every task")
    return table


def aggregate(scores, statistic: str = "iqm") -> float:
    """``statistic`` ("iqm" or "mean") of a runs x tasks table."""
    return float(_statistic(statistic)(score_table(scores)[None])[0])


def iqm(scores) -> float:
    """Interquartile mean: the mean of the middle 50% of all scores (25% cut from each end)."""
    return aggregate(scores, "iqm")


def bootstrap(scores, statistic: str = "iqm", reps: int = REPS, seed: int = 0) -> np.ndarray:
    """``statistic`` over ``reps`` stratified resamples: runs redrawn within each task.

    Each resample draws, for every task alone, as many runs as it has, with replacement, as
    rliable's ``StratifiedBootstrap`` does; runs never move from one task to another.
    """
    return _bootstrap(score_table(scores), (statistic,), reps, seed)[:, 0]


def interval(
    scores, statistic: str = "iqm", size: float = 0.95, reps: int = REPS, seed: int = 0
) -> tuple[float, float]:
    """A ``size`` confidence interval of ``statistic``: the stratified bootstrap's percentiles."""
    return _percentiles(bootstrap(scores, statistic, reps, seed), size)


@dataclass(frozen=True)
class Summary:
    """What a claim over several runs reports: mean and IQM, each with its interval."""

    runs: int
    mean: float
    mean_low: float
    mean_high: float
    iqm: float
    iqm_low: float
    iqm_high: float


def summarize(scores, size: float = 0.95, reps: int = REPS, seed: int = 0) -> Summary:
    """Mean and IQM of a runs x tasks table, with intervals from the same resamples."""
    table = score_table(scores)
    resampled = _bootstrap(table, ("mean", "iqm"), reps, seed)
    mean_low, mean_high = _percentiles(resampled[:, 0], size)
    iqm_low, iqm_high = _percentiles(resampled[:, 1], size)
    return Summary(
        len(table), aggregate(table, "mean"), mean_low, mean_high, iqm(table), iqm_low, iqm_high
    )


def _bootstrap(table: np.ndarray, names: tuple[str, ...], reps: int, seed: int) -> np.ndarray:
    computes = [_statistic(name) for name in names]
    if not isinstance(reps, int) or reps < 1:
        raise ValueError(f"reps must be a positive integer, got {reps!r}")
    runs, tasks = table.shape
    rng = np.random.default_rng(seed)
    results = np.empty((reps, len(names)))
    chunk = max(1, _CHUNK // table.size)
    for start in range(0, reps, chunk):
        n = min(chunk, reps - start)
        resampled = table[rng.integers(runs, size=(n, runs, tasks)), np.arange(tasks)]
        for column, compute in enumerate(computes):
            results[start : start + n, column] = compute(resampled)
    return results


def _percentiles(values: np.ndarray, size: float) -> tuple[float, float]:
    """The percentile interval (arch's ``conf_int(method="percentile")``, rliable's default)."""
    if not 0.0 < size < 1.0:
        raise ValueError(f"size must lie strictly between 0 and 1, got {size}")
    tail = 100 * (1.0 - size) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _statistic(name: str) -> Callable[[np.ndarray], np.ndarray]:
    if name not in STATISTICS:
        raise ValueError(f"unknown statistic {name!r}; choose one of {sorted(STATISTICS)}")
    return STATISTICS[name]
