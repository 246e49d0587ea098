"""The sweep's description of each agent kind: its config, its game, how a trial runs and scores.

Everything the sweep does differently for a DQN and for the FrozenLake agents is said here, once
per kind; the spec, the trial runner and the results ask the kind instead of naming an agent.
"""

from __future__ import annotations

import functools
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


def _check_dqn_config(config: Any) -> None:
    _check_network_fits(config.network, config.game.lower())


@functools.cache
def _check_network_fits(network: str, game: str) -> None:
    """The network's own check of the game's frames (a ValueError), once per pair, before Ray."""
    from rlbook.memory import STACK, frame_shape
    from rlbook.networks import build_network

    build_network(network, (STACK, *frame_shape(game)), n_actions=3)


def _dqn_memory_bytes(config: Mapping[str, Any]) -> int:
    from rlbook.memory import replay_bytes

    return replay_bytes(KINDS["dqn"].build_config(config))


def _dqn_start_step(folder) -> int:
    from rlbook.runs import RunFolder

    return RunFolder(folder).last_complete_step() or 0


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
    config_path: str  # "module:Class", imported when needed
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
    check_config: Callable[[Any], None] = lambda config: None  # what the config leaves unchecked
    # Bytes of memory a trial reserves on its node: (config as a dict) -> bytes.
    memory_bytes: Callable[[Mapping[str, Any]], int] = lambda config: 0
    # The step a trial's folder lets it go on from (0: from the start): (folder) -> step.
    start_step: Callable[[Any], int] = lambda folder: 0

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
        config_path="rlbook.dqn_config:DQNConfig",
        default_game="Breakout",
        plays="pixels",
        length="steps",
        step_label="agent steps (4 frames each)",
        measure="game score (IQM of {seeds} seeds, {games} games each)",
        game_in_config=True,
        check_game=_check_atari_or_catch,
        run=trials.run_dqn,
        scored_every=lambda spec, config: config["milestone_every"],
        check_config=_check_dqn_config,
        memory_bytes=_dqn_memory_bytes,
        start_step=_dqn_start_step,
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
