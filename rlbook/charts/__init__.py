"""The figures of the chapter and its Experiments page, saved with the book's file names.

``book`` holds the look every figure is drawn in and where figures go; ``chapter`` the
chapter's figures; ``experiments`` those of the Experiments page. Importing them changes none of
matplotlib's settings: each figure function draws under ``book_style()``, which a notebook can
use for a figure of its own.
"""

from rlbook.charts.book import BOOK_PREFIX, BOOK_STYLE, book_style, chart_dir, save_png
from rlbook.charts.chapter import (
    ARROWS,
    moving_average,
    plot_lengths,
    plot_policy,
    plot_return_distributions,
    plot_reward,
    plot_score,
    plot_success,
    plot_sweep,
    plot_training,
)
from rlbook.charts.experiments import (
    plot_ablation,
    plot_checkpoints_averaged,
    plot_continuation,
    plot_dormant_units,
    plot_milestones,
    plot_speed,
    plot_training_games,
    plot_weight_average,
    read_rows,
    runs_table,
)

__all__ = [
    "ARROWS",
    "BOOK_PREFIX",
    "BOOK_STYLE",
    "book_style",
    "chart_dir",
    "moving_average",
    "plot_ablation",
    "plot_checkpoints_averaged",
    "plot_continuation",
    "plot_dormant_units",
    "plot_lengths",
    "plot_milestones",
    "plot_policy",
    "plot_return_distributions",
    "plot_reward",
    "plot_score",
    "plot_speed",
    "plot_success",
    "plot_sweep",
    "plot_training",
    "plot_training_games",
    "plot_weight_average",
    "read_rows",
    "runs_table",
    "save_png",
]
