import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from test_source import PAGES, check_shown_blocks

from rlbook import notebooks
from rlbook.notebooks import NOTEBOOK_DIR, run_notebook, widgets_as_text

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def test_the_chapter_has_notebooks():
    assert any(p.name.startswith("01_frozenlake") for p in NOTEBOOKS)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_in_quick_mode(path, tmp_path, monkeypatch):
    monkeypatch.setenv("RLBOOK_CHARTS", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")  # as a script's caller might: the kernel overrides it
    copy = tmp_path / "executed" / path.name
    run_notebook(path, quick=True, timeout=600, save_to=copy)
    saved = sorted(p.name for p in tmp_path.glob("B09124_13_*.png"))
    assert saved, "the notebook saved no figure"
    assert os.environ["RLBOOK_QUICK"] == "1"
    shown = [
        output
        for cell in nbformat.read(copy, as_version=4).cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(shown) >= len(saved), "figures were saved but not shown in the executed copy"
    # The library code a page shows is the library's source as it runs, block by block.
    blocks = check_shown_blocks(nbformat.read(copy, as_version=4))
    assert blocks > 0 or path.name not in PAGES, f"{path.name} shows none of the library's code"


def test_notebooks_are_stored_without_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(Path(path), as_version=4)
        dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.outputs]
        assert not dirty, f"{path.name} has outputs in cells {dirty}"


def test_every_stored_cell_has_a_unique_id():
    # nbformat 4.5 cells carry an id; one written without it is filled in at random on each read
    import json

    for path in NOTEBOOKS:
        cells = json.loads(Path(path).read_text())["cells"]
        ids = [c.get("id") for c in cells]
        assert None not in ids, f"{path.name}: cells {[i for i, c in enumerate(ids) if c is None]}"
        assert len(set(ids)) == len(ids), f"{path.name} repeats a cell id"


def test_executed_copy_keeps_outputs_and_leaves_the_notebook_clean(tmp_path):
    source = tmp_path / "tiny.ipynb"
    cells = [
        new_markdown_cell("# Tiny"),
        new_code_cell("import os\nprint(os.environ['RLBOOK_QUICK'])"),
    ]
    nbformat.write(new_notebook(cells=cells), source)
    before = source.read_bytes()
    copy = tmp_path / "executed" / "tiny.ipynb"
    run_notebook(source, quick=True, save_to=copy)
    assert source.read_bytes() == before
    executed = nbformat.read(copy, as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "1\n"  # the quick switch reached the kernel
    assert (tmp_path / "executed" / "tiny.kernel.log").exists()  # the kernel's stderr, not ours


def test_kernel_runs_with_tensorflow_logging_quiet(tmp_path):
    source = tmp_path / "env.ipynb"
    code = "import os\nprint(os.environ.get('TF_CPP_MIN_LOG_LEVEL'))"
    nbformat.write(new_notebook(cells=[new_code_cell(code)]), source)
    copy = tmp_path / "env-run.ipynb"
    run_notebook(source, save_to=copy)
    assert nbformat.read(copy, as_version=4).cells[0].outputs[0]["text"] == "3\n"


def _progress_bar_notebook() -> nbformat.NotebookNode:
    """A notebook holding one tqdm.notebook bar, as nbclient stores it (widget view and state)."""
    state = {
        "box": {
            "model_name": "HBoxModel",
            "state": {"children": ["IPY_MODEL_a", "IPY_MODEL_b", "IPY_MODEL_c"]},
        },
        "a": {"state": {"_model_name": "HTMLModel", "value": "training: 100%"}},
        "b": {"state": {"_model_name": "FloatProgressModel", "value": 3.0, "max": 4.0}},
        "c": {"state": {"_model_name": "HTMLModel", "value": " 600/600 [00:05&lt;00:00]"}},
    }
    output = new_output(
        "display_data",
        data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "box", "version_major": 2},
            "text/plain": "  0%|          | 0/600",
        },
    )
    nb = new_notebook(cells=[new_code_cell("train()", outputs=[output])])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": state}}
    return nb


def test_widgets_become_the_text_of_their_last_state():
    nb = widgets_as_text(_progress_bar_notebook())
    data = nb.cells[0].outputs[0]["data"]
    assert list(data) == ["text/plain"]
    assert data["text/plain"] == "training: 100%|" + "█" * 15 + " " * 5 + "| 600/600 [00:05<00:00]"
    assert "widgets" not in nb.metadata  # nothing left for a page to load JavaScript for


def test_chapter_run_is_emptied_each_time_and_refuses_paths(tmp_path, monkeypatch):
    monkeypatch.setattr(notebooks, "BUILD_DIR", tmp_path)
    monkeypatch.chdir(tmp_path)
    run = notebooks.chapter_run("chapter-catch")
    assert run.resolve() == tmp_path / "runs-quick" / "chapter-catch"  # tests run quick
    run.mkdir()
    (run / "log.csv").write_text("old run")
    again = notebooks.chapter_run("chapter-catch")
    assert again == run and not again.exists()
    with pytest.raises(ValueError, match="plain word"):
        notebooks.chapter_run("../elsewhere")


def test_stale_copies_are_the_missing_and_the_older(tmp_path, monkeypatch):
    monkeypatch.setattr(notebooks, "BUILD_DIR", tmp_path / "build")
    source = tmp_path / "a.ipynb"
    source.write_text("{}")
    assert notebooks.stale(source, quick=True)
    copy = notebooks.executed_dir(quick=True) / "a.ipynb"
    copy.parent.mkdir(parents=True)
    copy.write_text("{}")
    os.utime(copy, (source.stat().st_mtime + 10,) * 2)
    assert not notebooks.stale(source, quick=True)
    os.utime(source, (copy.stat().st_mtime + 10,) * 2)
    assert notebooks.stale(source, quick=True)


def test_pages_say_where_figures_go_without_a_path_of_the_building_machine(monkeypatch):
    from rlbook import quick

    monkeypatch.delenv("RLBOOK_CHARTS", raising=False)
    monkeypatch.setattr(quick, "QUICK", False)
    assert quick.where_figures_go() == "charts/"
    monkeypatch.setattr(quick, "QUICK", True)
    assert quick.where_figures_go().startswith("a temporary folder")
    monkeypatch.setenv("RLBOOK_CHARTS", "/tmp/somewhere-private")
    assert "somewhere-private" not in quick.where_figures_go()
    for path in [p for p in NOTEBOOKS if p.name[:2] in ("01", "02")]:
        source = "".join(c.source for c in nbformat.read(path, as_version=4).cells)
        assert "figures go to {where_figures_go()}" in source, f"{path.name} prints a path"
