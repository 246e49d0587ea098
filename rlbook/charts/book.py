"""The book's look and file names: the style every figure is drawn in, and ``save_png``.

Figures go to the repository's ``charts/`` folder as ``B09124_13_<name>.png``. In quick mode
(``RLBOOK_QUICK=1``) they go to a temporary folder instead, so a test run never overwrites the
committed figures; ``RLBOOK_CHARTS`` names another folder explicitly.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

from rlbook.quick import QUICK

BOOK_PREFIX = "B09124_13_"
# Applied only while rlbook draws or saves a figure, so that importing rlbook.charts leaves
# the look of the user's own figures as it was.
BOOK_STYLE = {
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


@contextlib.contextmanager
def book_style() -> Iterator[None]:
    """The book's look, for a figure drawn or saved within it: ``with charts.book_style():``.

    Also a decorator: every figure function of ``rlbook.charts`` draws under it. Only the
    settings of ``BOOK_STYLE`` are put back afterwards; anything else changed meanwhile stays.
    """
    # Chosen before the style, not inside it: a notebook's inline backend turns matplotlib
    # interactive as it starts, and the figures of later cells are shown only if that lasts.
    matplotlib.get_backend()
    before = {key: matplotlib.rcParams[key] for key in BOOK_STYLE}
    matplotlib.rcParams.update(BOOK_STYLE)
    try:
        yield
    finally:
        matplotlib.rcParams.update(before)


def chart_dir() -> Path:
    """Where figures are saved (created on first use)."""
    if "RLBOOK_CHARTS" in os.environ:
        folder = Path(os.environ["RLBOOK_CHARTS"])
    elif QUICK:
        folder = Path(tempfile.gettempdir()) / "rlbook-quick-charts"
    else:
        repo = Path(__file__).resolve().parents[2]
        folder = repo / "charts" if (repo / "pyproject.toml").exists() else Path.cwd() / "charts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@book_style()
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


def thousands(value: float, _position) -> str:
    """Tick labels 250k and 1.5M instead of 250000 and 1500000."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    return f"{value / 1e3:g}k" if abs(value) >= 1e3 else f"{value:g}"
