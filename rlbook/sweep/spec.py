"""What a sweep runs: its spec (agent, game, settings, grid, seeds), checked, and its trials."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlbook.files import RunError
from rlbook.sweep.fields import check_all, check_positive, check_seeds
from rlbook.sweep.kinds import KINDS, AgentKind, kind_named


@dataclass(frozen=True)
class Trial:
    """One setting of the grid with one seed: its agent and the full config of that agent."""

    setting: str  # "n_step=3,double=True"; the agent's name when the grid is empty
    seed: int
    agent: str
    config: Mapping[str, Any]

    @property
    def name(self) -> str:
        return f"{self.setting}-seed{self.seed}"

    @property
    def kind(self) -> AgentKind:
        return KINDS[self.agent]


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep runs: an agent, fixed settings, the grid of settings compared, the seeds.

    ``settings`` and ``grid`` name fields of the agent's config (``DQNConfig``,
    ``TabularConfig``, ``QNetworkConfig``); every combination of the grid's values is one
    setting, trained once per seed. The grid may also compare agents that play the same game,
    ``grid={"agent": ["tabular", "qnetwork"]}``; ``settings`` then go to each of them.
    """

    agent: str = "dqn"  # "dqn", "tabular" or "qnetwork" (unless the grid compares agents)
    game: str | None = None  # DQN: an Atari game or "Catch"; the others: a FrozenLake id
    settings: Mapping[str, Any] = field(default_factory=dict)  # the same in every trial
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)  # the settings compared
    seeds: Sequence[int] = (0, 1, 2, 3, 4)
    eval_games: int = 30  # DQN: games scored at each milestone (the paper's protocol: 30)
    score_every: int = 100  # FrozenLake agents: training episodes between two scores

    def __post_init__(self) -> None:
        # Plain dicts, lists and a tuple, so a spec compares equal to its JSON round trip.
        set_ = object.__setattr__
        set_(self, "settings", dict(self.settings))
        set_(self, "grid", {name: list(values) for name, values in dict(self.grid).items()})
        set_(self, "seeds", tuple(self.seeds))
        first = self.agents[0] if self.agents else None
        if self.game is None and isinstance(first, str) and first in KINDS:
            set_(self, "game", KINDS[first].default_game)

    @property
    def agents(self) -> list[str]:
        """The agents the sweep trains: the grid's, or ``agent``."""
        return list(self.grid.get("agent", [self.agent]))

    @property
    def kind(self) -> AgentKind:
        """The kind of the sweep's first agent (all its agents play alike)."""
        return kind_named(self.agents[0])

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "seeds": list(self.seeds)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown sweep fields {unknown}; a sweep has {sorted(known)}")
        return cls(**data)

    def trials(self) -> list[Trial]:
        """Every trial of the sweep, each config built and so checked; ValueError otherwise."""
        check_positive("eval_games", self.eval_games)
        check_positive("score_every", self.score_every)
        seeds = check_seeds(self.seeds)
        for name, values in self.grid.items():
            if name in self.settings:
                raise ValueError(f"{name} is both a fixed setting and in the grid; keep one")
            if not values:
                raise ValueError(
                    f"the grid gives {name} no values; give one or more, like --grid {name}=1,3"
                )
            if len({json.dumps(v) for v in values}) < len(values):
                raise ValueError(f"the grid gives {name} the same value twice: {values}")
        agents = self.agents
        kinds = [kind_named(agent) for agent in agents]  # named before any of their settings
        if len({kind.plays for kind in kinds}) > 1:
            plays = "; ".join(f"{kind.name} plays {kind.plays}" for kind in kinds)
            raise ValueError(
                f"the agents {agents} play different games ({plays}); sweep them apart"
            )
        fixed = {name: check_all(agents, name, v) for name, v in self.settings.items()}
        grid = {
            name: values if name == "agent" else [check_all(agents, name, v) for v in values]
            for name, values in self.grid.items()
        }
        kinds[0].check_game(self.game)
        trials = []
        for point in itertools.product(*grid.values()):
            chosen = dict(zip(grid, point, strict=True))
            setting = ",".join(f"{k}={v}" for k, v in chosen.items()) or self.agent
            kind = KINDS[chosen.pop("agent", self.agent)]
            game = {"game": self.game} if kind.game_in_config else {}
            for seed in seeds:
                try:
                    config = kind.build_config({**fixed, **chosen, **game, "seed": seed})
                    kind.check_config(config)
                except ValueError as error:
                    raise ValueError(f"setting {setting}: {error}") from error
                trials.append(Trial(setting, seed, kind.name, dataclasses.asdict(config)))
        return trials

    def score_steps(self, trial: Trial) -> list[int]:
        """The steps (DQN: agent steps; FrozenLake: episodes) at which a trial is scored."""
        every = trial.kind.scored_every(self, trial.config)
        total = trial.config[trial.kind.length]
        return sorted({*range(every, total + 1, every), total})


def load_spec(folder: str | Path) -> SweepSpec:
    """The spec a sweep folder was run with (its ``sweep.json``)."""
    path = Path(folder) / "sweep.json"
    try:
        return SweepSpec.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise RunError(f"{folder} is not a sweep folder: {path} is missing") from None
    except (json.JSONDecodeError, TypeError, ValueError) as error:
        raise RunError(f"{path} does not hold a sweep ({error}); is it damaged?") from error
