"""Settings that describe themselves: each config field carries its help and what it accepts.

A config is a dataclass whose fields are made by ``setting(default, help, ...)``. The command
line reads its flags' types and help from them, the sweep reads the values of ``--set`` and
``--grid`` through ``parse``, the book prints them as a table, and ``check`` refuses a bad value
with an error that names the field and what it accepts, for every config alike.
"""

from __future__ import annotations

import dataclasses
from typing import Any

TYPES = {"int": int, "float": float, "bool": bool, "str": str}
WORDS = {int: "a whole number", float: "a number", bool: "true or false", str: "a word"}
_TRUTH = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def setting(
    default: Any,
    help: str,
    *,
    choices: tuple | None = None,
    positive: bool = False,
    at_least: float | None = None,
    within: tuple[float, float] | None = None,
) -> Any:
    """A config field: its default, a line of help (units, the paper's or book's value), and
    what it accepts: one of ``choices``, a ``positive`` number, one ``at_least`` a bound, or one
    ``within`` an interval (ends included)."""
    rules = {"help": help, "choices": choices, "positive": positive}
    rules |= {"at_least": at_least, "within": within}
    return dataclasses.field(default=default, metadata=rules)


def type_of(field: dataclasses.Field) -> type:
    """The Python type of a field (``int``, ``float``, ``bool`` or ``str``)."""
    return TYPES[field.type if isinstance(field.type, str) else field.type.__name__]


def help_of(field: dataclasses.Field) -> str:
    """The field's help line, with what it accepts when that is a list of choices."""
    text = field.metadata.get("help", "")
    choices = field.metadata.get("choices")
    return f"{text}; one of {', '.join(map(str, choices))}" if choices else text


def check(config: Any) -> None:
    """Raise a ValueError naming the first field of ``config`` whose value its setting refuses."""
    for field in dataclasses.fields(config):
        check_value(field, getattr(config, field.name))


def check_value(field: dataclasses.Field, value: Any) -> Any:
    """``value`` as field ``field`` takes it (an int where a float is asked becomes a float)."""
    name, kind, rules = field.name, type_of(field), field.metadata
    fits = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, fits = float(value), True
    if not fits:
        raise ValueError(f"{name} takes {WORDS[kind]}, got {value!r}")
    if rules.get("choices") and value not in rules["choices"]:
        raise ValueError(f"unknown {name} {value!r}; choose one of {list(rules['choices'])}")
    if rules.get("positive") and value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    if rules.get("at_least") is not None and value < rules["at_least"]:
        raise ValueError(f"{name} must be >= {rules['at_least']}, got {value}")
    if rules.get("within") is not None:
        low, high = rules["within"]
        if not low <= value <= high:
            raise ValueError(f"{name} must lie in [{low}, {high}], got {value}")
    return value


def parse(field: dataclasses.Field, text: str) -> Any:
    """The value that ``text`` writes for ``field``, as a command line or a sweep grid gives it.

    Whole numbers may be written ``2_000_000`` or ``2e6``; booleans ``true``/``false``,
    ``yes``/``no`` or ``1``/``0``.
    """
    kind, text = type_of(field), text.strip()
    try:
        if kind is bool:
            return _TRUTH[text.lower()]
        if kind is int:
            number = float(text.replace("_", ""))
            if not number.is_integer():
                raise ValueError
            return int(number)
        return float(text.replace("_", "")) if kind is float else text
    except (KeyError, ValueError):
        raise ValueError(f"{field.name} takes {WORDS[kind]}, got {text!r}") from None


def table(config_class: type) -> list[dict[str, Any]]:
    """One row per setting of ``config_class``: name, type, default and help (for the book)."""
    return [
        {"setting": f.name, "type": type_of(f).__name__, "default": f.default, "help": help_of(f)}
        for f in dataclasses.fields(config_class)
    ]


class Described:
    """A config class's settings as a Markdown table, for a notebook cell to display."""

    def __init__(self, config_class: type):
        self.rows = table(config_class)

    def _repr_markdown_(self) -> str:
        lines = ["| setting | default | what it sets |", "|---|---|---|"]
        for row in self.rows:
            flag = "--" + row["setting"].replace("_", "-")
            lines.append(f"| `{flag}` | `{row['default']}` | {row['help'].replace('|', '/')} |")
        return "\n".join(lines) + "\n"


def describe(config_class: type) -> Described:
    """The settings of ``config_class`` (flag, default, help) as a table a notebook shows."""
    return Described(config_class)
