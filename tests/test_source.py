"""The chapter shows the library's own code: what it shows, and that it points back."""

import ast
import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

from rlbook import source
from rlbook.source import source_of

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PAGES = {"01_frozenlake.ipynb": "FrozenLake", "02_breakout.ipynb": "Breakout"}


def test_a_function_is_shown_with_its_file_and_lines():
    shown = source_of(source.source_of)
    lines, first = inspect.getsourcelines(source.source_of)
    assert shown.path == "rlbook/source.py" and shown.first_line == first
    assert shown.last_line == first + len(lines) - 1
    assert shown.text.startswith("def source_of(")
    markdown = shown._repr_markdown_()
    assert f"lines {first}-{shown.last_line}" in markdown
    assert "```python\ndef source_of(" in markdown


def test_a_method_is_shown_dedented():
    shown = source_of(source.Source.heading)
    assert shown.text.startswith("def heading(self)")
    assert shown.name == "rlbook.source.Source.heading"


def test_code_from_outside_rlbook_is_refused():
    with pytest.raises(ValueError, match="not rlbook's code"):
        source_of(json.dumps)
    with pytest.raises(ValueError, match="no source to show"):
        source_of(len)


def test_code_too_long_for_a_glance_is_refused():
    with pytest.raises(ValueError, match=r"more than a page shows at a glance \(5\)"):
        source_of(source.source_of, most_lines=5)


def _shown_on_pages():
    """(page, section, dotted name) for every object a notebook passes to ``source.show``."""
    found = []
    for notebook, page in PAGES.items():
        section = None
        for cell in json.loads((NOTEBOOKS / notebook).read_text())["cells"]:
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown":
                headings = re.findall(r"^#{2,3} (.+)$", text, re.MULTILINE)
                section = headings[-1] if headings else section
                continue
            for call in ast.walk(ast.parse(text)):
                if isinstance(call, ast.Call) and ast.unparse(call.func).endswith("source.show"):
                    found += [(page, section, ast.unparse(arg)) for arg in call.args]
    return found


def _resolve(dotted: str):
    parts = dotted.split(".")
    assert parts[0] == "rlbook", dotted
    for cut in range(len(parts), 1, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise AssertionError(f"cannot resolve {dotted}")


SHOWN = _shown_on_pages()


def test_both_pages_show_their_algorithms():
    names = {name for _, _, name in SHOWN}
    for expected in (
        "rlbook.dqn.bellman_target",
        "rlbook.replay.ReplayMemory._stacks",
        "rlbook.train.Training.loop",
        "rlbook.c51.project",
        "rlbook.evaluate.play_games",
    ):
        assert expected in names
    assert {page for page, _, _ in SHOWN} == set(PAGES.values())


@pytest.mark.parametrize(("page", "section", "name"), SHOWN, ids=[n for _, _, n in SHOWN])
def test_every_shown_object_fits_a_glance_and_names_where_the_chapter_explains_it(
    page, section, name
):
    obj = _resolve(name)
    source_of(obj)  # refuses code that is too long to take in, or not rlbook's own
    assert f'In the chapter: {page}, "{section}".' in inspect.getdoc(obj), (
        f"{name}'s docstring should say where the chapter shows it"
    )


def check_shown_blocks(executed_notebook: dict) -> int:
    """Assert every code block an executed page shows is its object's current source."""
    count = 0
    for cell in executed_notebook["cells"]:
        for output in cell.get("outputs", []):
            markdown = output.get("data", {}).get("text/markdown", "")
            markdown = "".join(markdown)  # a saved notebook may keep text as a list of lines
            heading = re.match(r"`(rlbook\.[\w.]+)`, from `", markdown)
            if heading:
                assert markdown == source_of(_resolve(heading[1]))._repr_markdown_()
                count += 1
    return count


def test_a_shown_block_that_no_longer_matches_its_source_is_caught():
    block = source_of(source.show)._repr_markdown_()
    page = {"cells": [{"outputs": [{"data": {"text/markdown": block}}]}]}
    assert check_shown_blocks(page) == 1
    stale = block.replace("display(", "print(")
    with pytest.raises(AssertionError):
        check_shown_blocks({"cells": [{"outputs": [{"data": {"text/markdown": stale}}]}]})
