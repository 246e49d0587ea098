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


def pick(full, quick):
    """Return ``quick`` in quick mode, else ``full`` (the book's setting)."""
    return quick if QUICK else full
