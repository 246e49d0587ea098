"""Executing the chapter's notebooks, for ``make chapter`` and for the tests."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from rlbook.quick import is_quick

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"


def run_notebook(path: str | Path, quick: bool = False, timeout: int = 1800) -> float:
    """Execute a notebook top to bottom in a fresh kernel; returns the seconds it took.

    Outputs are not written back: notebooks are stored clean, and what a run leaves behind is
    the figures it saves. Raises ``nbclient``'s ``CellExecutionError`` naming the failing cell.
    """
    import nbclient
    import nbformat

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    # The kernel inherits the environment, so the quick switch reaches rlbook.quick there.
    before = os.environ.get("RLBOOK_QUICK")
    os.environ["RLBOOK_QUICK"] = "1" if quick else "0"
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        if before is None:
            del os.environ["RLBOOK_QUICK"]
        else:
            os.environ["RLBOOK_QUICK"] = before
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    """Run every notebook (or those named) and print how long each took."""
    names = argv if argv is not None else sys.argv[1:]
    paths = [Path(n) for n in names] or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    quick = is_quick()
    for path in paths:
        print(f"running {path.name}{' (quick)' if quick else ''} ...", flush=True)
        print(f"  {path.name}: {run_notebook(path, quick=quick):.0f} s", flush=True)


if __name__ == "__main__":
    main()
