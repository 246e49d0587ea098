"""Executing the chapter's notebooks, for ``make chapter``, ``make book`` and the tests.

``make chapter`` runs every notebook in a fresh kernel and keeps the executed copy, outputs and
all, under ``build/notebooks/`` (``build/notebooks-quick/`` in quick mode), outside git; the
notebooks themselves stay stored clean. ``make book`` renders those copies with Sphinx.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from rlbook.quick import is_quick

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
BUILD_DIR = REPO / "build"

# The kernel inherits this process's environment; these quieten TensorFlow's C++ logging. The
# lines it writes before its logging starts ("All log messages before absl::InitializeLog() is
# called ...", the CUDA probe) obey no setting, so the kernel's own stderr goes to a log file;
# what a cell prints still reaches its outputs.
QUIET_KERNEL = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR", "GLOG_minloglevel": "3"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def executed_dir(quick: bool | None = None) -> Path:
    """Where the executed copies of the notebooks are kept (quick mode has its own folder)."""
    quick = is_quick() if quick is None else quick
    return BUILD_DIR / ("notebooks-quick" if quick else "notebooks")


def book_dir(quick: bool | None = None) -> Path:
    """Where ``make book`` writes the HTML book (quick mode has its own folder)."""
    quick = is_quick() if quick is None else quick
    return BUILD_DIR / ("book-quick" if quick else "book")


def chapter_run(name: str) -> Path:
    """An empty run folder for a notebook's training run: ``build/runs/<name>``.

    The folder of the previous execution is deleted first, so ``make chapter`` keeps one run per
    notebook (for TensorBoard) instead of a new one each time; quick mode uses ``build/runs-quick``.
    """
    if not name or any(c in name for c in "/\\. "):
        raise ValueError(f"run name must be a plain word like 'chapter-breakout', got {name!r}")
    run = BUILD_DIR / ("runs-quick" if is_quick() else "runs") / name
    shutil.rmtree(run, ignore_errors=True)
    run.parent.mkdir(parents=True, exist_ok=True)
    # Relative to the notebook's folder, so the printed path reads the same on every machine.
    return Path(os.path.relpath(run))


def chapter_notebooks() -> list[Path]:
    """The chapter's notebooks in reading order."""
    return sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def run_notebook(
    path: str | Path,
    quick: bool = False,
    timeout: int = 1800,
    save_to: str | Path | None = None,
    progress: bool = False,
) -> float:
    """Execute a notebook top to bottom in a fresh kernel; returns the seconds it took.

    The notebook on disk is never written: notebooks are stored clean. ``save_to`` names a file
    for the executed copy (with progress-bar widgets turned into their final line of text, so
    the copy renders without JavaScript); the kernel's stderr goes beside it, to
    ``<name>.kernel.log`` (without ``save_to``, to the temporary folder). ``progress`` shows a
    bar over the code cells. Raises ``nbclient``'s ``CellExecutionError`` naming the failing cell.
    """
    import nbformat

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}")
    notebook = nbformat.read(path, as_version=4)
    client = _client_class()(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        name=path.name,
        show_progress=progress,
    )
    # The quick switch reaches rlbook.quick in the kernel through its environment.
    env = {**os.environ, **QUIET_KERNEL, "RLBOOK_QUICK": "1" if quick else "0"}
    # Figures show in the cell's output, whatever backend the caller's environment names (a
    # test's MPLBACKEND=Agg would leave the executed copy, and so the book, without images).
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    save_to = Path(save_to) if save_to is not None else None
    log_dir = save_to.parent if save_to else Path(tempfile.gettempdir())
    log_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with (log_dir / f"{path.stem}.kernel.log").open("w") as kernel_log:
        try:
            client.execute(env=env, stderr=kernel_log)
        finally:
            client.close_progress()
    seconds = time.perf_counter() - start
    if save_to is not None:
        nbformat.write(widgets_as_text(notebook), save_to)
    return seconds


def _client_class():
    """``NotebookClient`` with a tqdm bar over the code cells (imported late: nbclient is big)."""
    import nbclient
    from tqdm import tqdm

    class CellProgressClient(nbclient.NotebookClient):
        """Shows which cell of which notebook is running and for how long."""

        def __init__(self, notebook, name: str, show_progress: bool = False, **kwargs):
            super().__init__(notebook, **kwargs)
            code_cells = sum(cell.cell_type == "code" for cell in notebook.cells)
            self.bar = tqdm(
                total=code_cells,
                desc=name,
                unit="cell",
                disable=not show_progress,
                bar_format="{desc}: cell {n_fmt}/{total_fmt} |{bar:20}| {elapsed}{postfix}",
            )

        async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
            if cell.cell_type != "code":
                return cell
            first_line = next((line for line in cell.source.splitlines() if line.strip()), "")
            self.bar.set_postfix_str(first_line[:50])
            ticking = asyncio.ensure_future(self._tick())
            try:
                return await super().async_execute_cell(cell, cell_index, *args, **kwargs)
            finally:
                ticking.cancel()
                self.bar.update(1)

        async def _tick(self) -> None:
            """Redraw the bar every second, so a long cell's elapsed time keeps counting."""
            while True:
                await asyncio.sleep(1)
                self.bar.refresh()

        def close_progress(self) -> None:
            self.bar.set_postfix_str("")
            self.bar.close()

    return CellProgressClient


def widgets_as_text(notebook):
    """Replace each widget output by the text its HTML parts show at the end (tqdm's last line).

    A static page cannot draw ipywidgets without loading their JavaScript from the internet;
    the finished progress bar ``train: 100%|...| 600/600 [00:05, 110 steps/s]`` says all a
    reader needs. The widget state is dropped from the metadata with them.
    """
    widgets = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is not None:
                output["data"] = {"text/plain": _widget_text(widgets, view["model_id"])}
    notebook.metadata.pop("widgets", None)
    return notebook


def _widget_text(widgets: dict, model_id: str) -> str:
    """The visible text of a widget: its value, or its children's side by side."""
    state = widgets.get(model_id, {}).get("state", {})
    if "children" in state:
        parts = (
            _widget_text(widgets, child.removeprefix("IPY_MODEL_")) for child in state["children"]
        )
        return "".join(parts).strip()
    if state.get("_model_name") == "FloatProgressModel":
        done = state.get("value", 0) / max(state.get("max", 1) or 1, 1e-12)
        filled = round(20 * min(max(done, 0.0), 1.0))
        return "|" + "█" * filled + " " * (20 - filled) + "|"
    return html.unescape(re.sub(r"<[^>]+>", "", str(state.get("value", ""))))


def stale(path: Path, quick: bool) -> bool:
    """Whether ``path``'s executed copy is missing or older than the notebook."""
    copy = executed_dir(quick) / path.name
    return not copy.exists() or copy.stat().st_mtime < path.stat().st_mtime


def build_book(quick: bool | None = None) -> Path:
    """Render the executed notebooks as an HTML book with Sphinx; returns its ``index.html``.

    Any warning (a missing image, a broken link) fails the build.
    """
    from sphinx.cmd.build import build_main

    out = book_dir(quick)
    start = time.perf_counter()
    args = ["-W", "--keep-going", "-q", "-b", "html", "-d", str(out / ".doctrees")]
    status = build_main([*args, str(NOTEBOOK_DIR), str(out)])
    if status:
        raise SystemExit(f"the book did not build (sphinx-build exit status {status})")
    index = out / "index.html"
    print(f"book built in {time.perf_counter() - start:.0f} s: {index}", flush=True)
    return index


def main(argv: list[str] | None = None) -> None:
    """Run every notebook (or those named), keeping the executed copies, and time each."""
    parser = argparse.ArgumentParser(prog="python -m rlbook.notebooks", description=main.__doc__)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: all of notebooks/")
    parser.add_argument(
        "--stale", action="store_true", help="run only those whose executed copy is missing or old"
    )
    parser.add_argument(
        "--book", action="store_true", help="then build the book (implies --stale); see make book"
    )
    args = parser.parse_args(argv)
    quick = is_quick()
    paths = args.notebooks or chapter_notebooks()
    if args.stale or args.book:
        paths = [path for path in paths if stale(path, quick)]
    for path in paths:
        copy = executed_dir(quick) / path.name
        seconds = run_notebook(path, quick=quick, save_to=copy, progress=True)
        where = copy.relative_to(REPO) if copy.is_relative_to(REPO) else copy
        mode = " (quick)" if quick else ""
        print(f"{path.name}{mode}: {seconds:.0f} s; executed copy in {where}", flush=True)
    if args.book:
        build_book(quick)


if __name__ == "__main__":
    main()
