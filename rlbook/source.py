"""Showing the library's own code on the chapter's pages, read from the library as it runs.

A notebook cell ``rlbook.source.show(rlbook.tabular.q_learning_update)`` displays that
function's source, syntax-highlighted, under the file and lines it comes from. The page is
rendered from the code that runs, so the two can never drift apart, and the book and Jupyter
show the same block (a Markdown code fence, which both highlight).
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# What a reader takes in at a glance; longer code is split in the library, not cut on the page.
MOST_LINES = 30


@dataclass(frozen=True)
class Source:
    """A piece of rlbook's code: its name, file (as ``rlbook/...``), first line and text."""

    name: str
    path: str
    first_line: int
    text: str

    @property
    def last_line(self) -> int:
        return self.first_line + self.text.count("\n")

    def heading(self) -> str:
        return f"`{self.name}`, from `{self.path}`, lines {self.first_line}-{self.last_line}"

    def _repr_markdown_(self) -> str:
        return f"{self.heading()}\n\n```python\n{self.text}\n```\n"

    def __str__(self) -> str:
        return f"# {self.heading()}\n{self.text}"


def source_of(obj, most_lines: int = MOST_LINES) -> Source:
    """The source of a function, class or method of rlbook, as the page shows it.

    Refuses objects from outside rlbook and code longer than ``most_lines`` lines.
    """
    target = inspect.unwrap(obj)
    try:
        path = Path(inspect.getsourcefile(target)).resolve()
        lines, first = inspect.getsourcelines(target)
    except (TypeError, OSError) as error:
        raise ValueError(f"{obj!r} has no source to show: {error}") from None
    if not path.is_relative_to(PACKAGE):
        raise ValueError(f"{target.__qualname__} is not rlbook's code ({path}); show rlbook's own")
    text = textwrap.dedent("".join(lines)).rstrip("\n")
    if text.count("\n") + 1 > most_lines:
        raise ValueError(
            f"{target.__qualname__} has {text.count(chr(10)) + 1} lines, more than a page shows "
            f"at a glance ({most_lines}); split it in the library"
        )
    return Source(
        f"{target.__module__}.{target.__qualname__}",
        path.relative_to(PACKAGE.parent).as_posix(),
        first,
        text,
    )


def show(*objs, most_lines: int = MOST_LINES) -> None:
    """Display the source of each of ``objs`` in a notebook."""
    from IPython.display import display

    for obj in objs:
        display(source_of(obj, most_lines))
