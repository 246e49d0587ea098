import itertools

import numpy as np
import pytest

from rlbook import stats

# 6 runs x 3 tasks, fixed. REFERENCE holds rliable's figures on it: rliable 1.2.0 (with
# arch 7.2.0, pandas 2.3.3, numpy 2.4.6, scipy 1.17.1) in a separate virtualenv, as
#   metrics.aggregate_iqm(TABLE), metrics.aggregate_mean(TABLE) and
#   library.get_interval_estimates({"a": TABLE}, <iqm and mean>, reps=50_000),
# after np.random.seed(0) (rliable's StratifiedBootstrap draws from numpy's global generator).
TABLE = np.array(
    [
        [0.10, 1.20, 3.0],
        [0.40, 0.90, 2.2],
        [0.35, 1.60, 4.1],
        [0.05, 0.70, 1.9],
        [0.60, 1.10, 2.8],
        [0.20, 2.40, 3.6],
    ]
)
REFERENCE = {
    "iqm": (1.2999999999999998, (1.06, 1.64)),
    "mean": (1.511111111111111, (1.2638888888888888, 1.7694444444444446)),
}
# The intervals are bootstrap percentiles, so they move with the random draws. Over rliable's
# own seeds 0-9 their bounds had standard deviations of at most 0.0035 (IQM upper bound); four
# of those allow any seed of ours, while a wrong resampling scheme misses by far more (see
# test_stratified_bootstrap_keeps_every_run_in_its_task).
INTERVAL_TOLERANCE = 0.015


def test_iqm_is_the_mean_of_the_middle_half():
    # 8 scores: the lowest two and the highest two are cut, whatever their size.
    assert stats.iqm([7, 1, 100, 3, 5, -50, 4, 6]) == pytest.approx((3 + 4 + 5 + 6) / 4)
    # Runs and tasks are pooled: 12 scores, 3 cut at each end.
    table = np.arange(12.0).reshape(4, 3)
    assert stats.iqm(table) == pytest.approx(np.mean(np.arange(3, 9)))


def test_point_estimates_match_rliable_exactly():
    for statistic, (point, _) in REFERENCE.items():
        assert stats.aggregate(TABLE, statistic) == pytest.approx(point, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_intervals_match_rliable_within_the_bootstrap_noise(seed):
    summary = stats.summarize(TABLE, seed=seed)
    intervals = {"iqm": (summary.iqm_low, summary.iqm_high)}
    intervals["mean"] = (summary.mean_low, summary.mean_high)
    for statistic, (_, expected) in REFERENCE.items():
        np.testing.assert_allclose(intervals[statistic], expected, atol=INTERVAL_TOLERANCE)
        assert stats.interval(TABLE, statistic, seed=seed) == pytest.approx(intervals[statistic])


def test_interval_matches_the_exactly_enumerated_bootstrap():
    # 5 runs of one task: 5**5 = 3125 equally likely resamples, each with its IQM (the mean of
    # its middle three). The percentile interval estimates the 2.5% and 97.5% points of that law.
    runs = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    resamples = np.sort(np.array(list(itertools.product(runs, repeat=5))), axis=1)
    iqms = np.sort(resamples[:, 1:4].mean(axis=1))
    below = np.arange(len(iqms)) / len(iqms)  # the share of resamples below each one
    low, high = iqms[below <= 0.025].max(), iqms[below <= 0.975].max()
    # The middle three of a resample like (1, 1, 1, 2, 8), and of (2, 8, 16, 16, 16).
    assert (low, high) == pytest.approx((4 / 3, 40 / 3))
    # Neither point sits near a jump of the law, where the sampled percentile could fall
    # either side: 50,000 resamples put the share within 0.0007 (one standard error).
    assert (iqms <= low).mean() - 0.025 > 0.003 and 0.975 - (iqms < high).mean() > 0.003
    assert stats.interval(runs, "iqm") == pytest.approx((low, high))


def test_stratified_bootstrap_keeps_every_run_in_its_task():
    # Task 0 scores 0 or 1, task 1 scores 100 or 101. Were runs pooled across tasks, a
    # resample could hold four runs of task 1 and its mean reach 101; stratified, every
    # resample keeps two runs of each task, so its mean lies in [50, 50.5 + 0.5].
    table = np.array([[0.0, 100.0], [1.0, 101.0]])
    means = stats.bootstrap(table, "mean", reps=20_000)
    assert means.min() == 50.0 and means.max() == 51.0
    # Each task's two draws: 0, 0.5 or 1 above its lower score, with odds 1:2:1.
    values, counts = np.unique(means, return_counts=True)
    np.testing.assert_allclose(values, [50.0, 50.25, 50.5, 50.75, 51.0])
    np.testing.assert_allclose(counts / counts.sum(), np.array([1, 4, 6, 4, 1]) / 16, atol=0.01)
    # By hand: 50 holds 1/16 > 2.5% of the law, and 51 the top 1/16 > 2.5%.
    assert stats.interval(table, "mean") == (50.0, 51.0)


def test_one_run_has_no_spread():
    summary = stats.summarize([0.7])
    assert (summary.runs, summary.iqm, summary.iqm_low, summary.iqm_high) == (1, 0.7, 0.7, 0.7)


def test_the_bootstrap_is_reproducible_by_its_seed():
    assert np.array_equal(stats.bootstrap(TABLE, reps=500), stats.bootstrap(TABLE, reps=500))
    assert not np.array_equal(
        stats.bootstrap(TABLE, reps=500), stats.bootstrap(TABLE, reps=500, seed=1)
    )


def test_bad_input_names_what_is_accepted():
    with pytest.raises(ValueError, match="unknown statistic 'median'; choose one of"):
        stats.interval(TABLE, "median")
    with pytest.raises(ValueError, match="NaN or infinity"):
        stats.iqm([1.0, np.nan])
    with pytest.raises(ValueError, match="non-empty runs x tasks table"):
        stats.iqm([])
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        stats.interval(TABLE, size=95)
    with pytest.raises(ValueError, match="reps must be a positive integer"):
        stats.bootstrap(TABLE, reps=0)
