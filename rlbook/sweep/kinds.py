"""The sweep's description of each agent kind: its config, its game, how a trial runs and scores.

Everything the sweep does differently for a DQN and for the FrozenLake agents is said here, once
per kind; the spec, the trial runner and the results ask the kind instead of naming an agent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rlbook.sweep import trials


def _import(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _check_atari_or_catch(game: Any) -> None:
    if not isinstance(game, str):
        raise ValueError(f"game must be an Atari game's name or 'Catch', got {game!r}")
    if game.lower() != "catch":
        from rlbook.atari import rom_id

        rom_id(game)  # a ValueError with the closest names


def _check_lake(game: Any) -> None:
    from rlbook import envs
    from rlbook.planning import transition_arrays

    env = envs.make(game)
    try:
        transition_arrays(env)  # scoring needs the environment's own transition table
    finally:
        env.close()


@dataclass(frozen=True)
class AgentKind:
    """One kind of agent a sweep trains, and everything the sweep must know of it."""

    name: str
    config_path: str  # "module:Class", imported when needed: two of them load TensorFlow
    default_game: str
    plays: str  # what the agent sees; agents a sweep compares must play the same
    length: str  # the config field that says how long a trial trains
    step_label: str  # what a step of the scores counts, for the figure's x axis
    measure: str  # what a score is, for the figure's y axis ({seeds}, {games} filled in)
    game_in_config: bool  # the game is a field of the config (set by --game, not --set)
    check_game: Callable[[Any], None]  # ValueError unless the kind can play and score it
    run: Callable[..., None]  # trains and scores one trial (see ``rlbook.sweep.trials``)
    scored_every: Callable[[Any, Mapping[str, Any]], int]  # (spec, config) -> steps between
    agent_path: str | None = None  # "module:Class" of the agent, for kinds the runner builds

    def config_class(self) -> type:
        return _import(self.config_path)

    def agent_class(self) -> type:
        return _import(self.agent_path)

    def build_config(self, values: Mapping[str, Any]) -> Any:
        return self.config_class()(**values)


def _lake_kind(name: str, config_path: str, agent_path: str) -> AgentKind:
    return AgentKind(
        name=name,
        config_path=config_path,
        agent_path=agent_path,
        default_game="FrozenLake-v1",
        plays="the lake",
        length="episodes",
        step_label="training episodes",
        measure="success rate of the greedy policy (IQM of {seeds} seeds)",
        game_in_config=False,
        check_game=_check_lake,
        run=trials.run_lake_agent,
        scored_every=lambda spec, config: spec.score_every,
    )


KINDS = {
    "dqn": AgentKind(
        name="dqn",
        config_path="rlbook.dqn:DQNConfig",
        default_game="Breakout",
        plays="pixels",
        length="steps",
        step_label="agent steps (4 frames each)",
        measure="game score (IQM of {seeds} seeds, {games} games each)",
        game_in_config=True,
        check_game=_check_atari_or_catch,
        run=trials.run_dqn,
        scored_every=lambda spec, config: config["milestone_every"],
    ),
    "tabular": _lake_kind("tabular", "rlbook.tabular:TabularConfig", "rlbook.tabular:TabularQ"),
    "qnetwork": _lake_kind(
        "qnetwork", "rlbook.qnetwork:QNetworkConfig", "rlbook.qnetwork:QNetworkAgent"
    ),
}


def kind_named(agent: Any) -> AgentKind:
    """The kind called ``agent``, or a ValueError naming the kinds there are."""
    if not isinstance(agent, str) or agent not in KINDS:
        raise ValueError(f"unknown agent {agent!r}; choose one of {sorted(KINDS)}")
    return KINDS[agent]
