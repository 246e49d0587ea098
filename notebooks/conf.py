"""Sphinx configuration of the rlbook book: the chapter's notebooks as ``make chapter`` ran them.

The source folder is ``notebooks/``; the notebooks here are stored without outputs, so each one
is swapped, as Sphinx reads it, for its executed copy under ``build/notebooks/`` (quick mode:
``build/notebooks-quick/``), which ``make book`` has ``make chapter`` write first. Nothing is
executed during the build.
"""

from rlbook.notebooks import chapter_notebooks, executed_dir

project = "rlbook"
author = "rlbook"
copyright = "rlbook contributors, MIT licence"
html_title = "rlbook: reinforcement learning with TensorFlow"

extensions = ["myst_nb", "sphinx-mathjax-offline"]  # the second ships MathJax: no CDN
exclude_patterns = ["_build", "data", ".ipynb_checkpoints", "**/.ipynb_checkpoints"]
root_doc = "index"

nb_execution_mode = "off"  # the outputs are make chapter's; a build never runs a notebook
nb_merge_streams = True
# Markdown a cell displays (the library's code, tables of settings and runs) is read as MyST,
# which knows tables; CommonMark would print a table's pipes as text.
nb_render_markdown_format = "myst"
nb_output_stderr = "remove"  # warnings from libraries are not the chapter's text
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_theme_options = {
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "use_download_button": False,
    "use_fullscreen_button": False,
}
html_static_path = ["_static"]
html_css_files = ["rlbook.css"]
html_context = {"default_mode": "auto"}  # light or dark as the reader's system prefers
html_last_updated_fmt = None
html_show_sourcelink = False


def _use_executed_copy(app, docname: str, source: list[str]) -> None:
    """Give Sphinx the executed copy of a chapter notebook in place of the clean one."""
    if docname not in {path.stem for path in chapter_notebooks()}:
        return
    copy = executed_dir() / f"{docname}.ipynb"
    if not copy.exists():
        raise FileNotFoundError(f"{copy} is missing; run `make chapter` (or `make book`) first")
    source[0] = copy.read_text(encoding="utf-8")


def setup(app) -> None:
    app.connect("source-read", _use_executed_copy)
