import os
from pathlib import Path

import pytest

from rlbook.notebooks import NOTEBOOK_DIR, run_notebook

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def test_the_chapter_has_notebooks():
    assert any(p.name.startswith("01_frozenlake") for p in NOTEBOOKS)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_in_quick_mode(path, tmp_path, monkeypatch):
    monkeypatch.setenv("RLBOOK_CHARTS", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run_notebook(path, quick=True, timeout=600)
    saved = sorted(p.name for p in tmp_path.glob("B09124_13_*.png"))
    assert saved, "the notebook saved no figure"
    assert os.environ["RLBOOK_QUICK"] == "1"


def test_notebooks_are_stored_without_outputs():
    import nbformat

    for path in NOTEBOOKS:
        nb = nbformat.read(Path(path), as_version=4)
        dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.outputs]
        assert not dirty, f"{path.name} has outputs in cells {dirty}"
