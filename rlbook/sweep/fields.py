"""A setting's type, as the sweep checks values and reads them from the command line.

Each config field describes itself (``rlbook.settings``); the sweep asks it here, in one place.
A value is checked only for its type: what else a field accepts is checked when its config is
built, so that the error names the setting of the grid it came from.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Sequence
from typing import Any

from rlbook import settings
from rlbook.sweep.kinds import kind_named


def _fields(agent: str) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(kind_named(agent).config_class())}


def check_value(agent: str, name: str, value: Any) -> Any:
    """``value`` for field ``name`` of the agent's config, or a ValueError saying what fits."""
    fields = _fields(agent)
    if name == "seed":
        raise ValueError("seeds are set by seeds= (--seeds), not as a setting")
    if name == "game" and kind_named(agent).game_in_config:
        raise ValueError("the game is set by game= (--game), not as a setting")
    if name not in fields:
        close = difflib.get_close_matches(name, list(fields), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        choices = ", ".join(sorted(set(fields) - {"seed", "game"}))
        raise ValueError(f"{agent} has no setting {name!r}{hint} (its settings: {choices})")
    kind = settings.type_of(fields[name])
    fits = (
        (kind is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (kind is int and isinstance(value, int) and not isinstance(value, bool))
        or (kind in (bool, str) and isinstance(value, kind))
    )
    if not fits:
        raise ValueError(f"{name} takes {settings.WORDS[kind]}, got {value!r}")
    return float(value) if kind is float else value


def check_all(agents: Sequence[str], name: str, value: Any) -> Any:
    """``value`` checked for field ``name`` of every agent's config (see ``check_value``)."""
    checked = [check_value(agent, name, value) for agent in agents]
    return checked[0]


def check_positive(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")


def check_seeds(seeds: Sequence[Any]) -> list[int]:
    if not seeds:
        raise ValueError("a sweep needs at least one seed, like --seeds 0-4")
    for seed in seeds:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seeds are whole numbers from 0, got {seed!r}")
    if len(set(seeds)) < len(seeds):
        raise ValueError(f"the seeds {list(seeds)} name a seed twice")
    return list(seeds)


def parse_seeds(text: str) -> list[int]:
    """Seeds written as ``0-4``, ``0,2,7`` or both (``0-4,10``)."""
    seeds = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            span = range(int(low), int(high) + 1) if dash else [int(low)]
        except ValueError:
            raise ValueError(f"bad seeds {text!r}: write them like 0-4 or 0,2,7") from None
        if not span:
            raise ValueError(f"bad seeds {text!r}: a range runs from low to high, like 0-4")
        seeds.extend(span)
    return check_seeds(seeds)


def parse_setting(agent: str, text: str, many: bool) -> tuple[str, Any]:
    """``FIELD=VALUE`` (or ``FIELD=V1,V2`` when ``many``), each value read as the field's type."""
    name, equals, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not equals or not name:
        example = "n_step=1,3" if many else "learning_rate=0.0001"
        form = "FIELD=V1,V2" if many else "FIELD=VALUE"
        raise ValueError(f"bad setting {text!r}: write {form}, like {example}")
    if name == "agent":
        if not many:
            raise ValueError("the agent is set by --agent; --grid agent=A,B compares agents")
        return name, [v.strip() for v in values.split(",")] if values.strip() else []
    fields = _fields(agent)
    if name not in fields or name in ("seed", "game"):
        check_value(agent, name, None)  # raises the error that says what is accepted
    field = fields[name]
    parsed = [settings.parse(field, v) for v in values.split(",")] if values.strip() else []
    if many:
        return name, parsed
    if len(parsed) != 1:
        raise ValueError(f"bad setting {text!r}: --set takes one value; --grid compares several")
    return name, parsed[0]
