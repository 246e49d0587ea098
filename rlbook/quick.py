"""The one switch that shrinks the chapter for tests: ``RLBOOK_QUICK=1``.

Notebooks never read the environment themselves; they ask this module, so quick mode means
the same thing everywhere.
"""

from __future__ import annotations

import os


def is_quick() -> bool:
    """Whether ``RLBOOK_QUICK`` asks for quick mode now (``QUICK`` is its value at import)."""
    return os.environ.get("RLBOOK_QUICK", "0").strip().lower() not in ("", "0", "false", "no")


QUICK: bool = is_quick()


def where_figures_go() -> str:
    """Where the chapter's figures are saved, in words a reader can use on their own machine.

    A printed page keeps what it printed, so it names the folder as the reader knows it
    (``charts/``), never the path of the machine that built the book.
    """
    if "RLBOOK_CHARTS" in os.environ:
        return "the folder RLBOOK_CHARTS names"
    if QUICK:
        return "a temporary folder (quick mode leaves charts/ as it is)"
    return "charts/"


def pick(full, quick):
    """Return ``quick`` in quick mode, else ``full`` (the book's setting)."""
    return quick if QUICK else full
