"""The settings of a DQN run, each with its help, what it accepts, and the paper's value.

Defaults are the DQN paper's (Mnih et al. 2015) and the book's. Each field is a flag of
``python -m rlbook train`` (``--buffer-size 100000``, ``--double``) and a setting a sweep can
vary; a run saves them as its ``config.json``. This module loads no TensorFlow, so a sweep can
check its settings before anything starts.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlbook.settings import check, setting

NETWORKS = ("nature", "small")
INITS = ("glorot", "torch")
LOSSES = ("huber", "mse")
COMPILES = ("xla", "graph")
PRECISIONS = ("float32", "bfloat16")


@dataclass
class DQNConfig:
    """Every setting of a DQN run. Defaults: the DQN paper (Mnih et al. 2015) and the book."""

    game: str = setting("Breakout", "Atari game (any ale-py ROM), or Catch, the 10x10 test game")
    steps: int = setting(
        10_000_000, "agent steps to train for (one step: one action, 4 frames)", positive=True
    )
    num_envs: int = setting(
        4, "games stepped together (paper: 1; see the README's deviations)", positive=True
    )
    sticky_actions: bool = setting(False, "repeat the last action w.p. 0.25 (Machado et al. 2018)")
    noop_max: int = setting(30, "random no-ops at the start of each game (paper: 30)", at_least=0)
    network: str = setting(
        "auto",
        "nature (the paper's conv net) or small (for Catch); auto: small for Catch, else nature",
        choices=("auto", *NETWORKS),
    )
    buffer_size: int = setting(
        400_000, "replay memory in transitions (book: 400k; paper: 1M)", positive=True
    )
    batch_size: int = setting(32, "transitions per update (paper: 32)", positive=True)
    discount: float = setting(0.99, "gamma (paper: 0.99)", within=(0.0, 1.0))
    n_step: int = setting(
        1, "rewards summed before bootstrapping (paper: 1; Rainbow: 3)", positive=True
    )
    learning_rate: float = setting(0.00025, "step size (paper: 0.00025)", positive=True)
    learning_rate_end: float = setting(
        0.0, "step size after --learning-rate-decay-steps", at_least=0
    )
    learning_rate_decay_steps: int = setting(
        0, "steps of linear decay after warm-up (paper: 0, none)", at_least=0
    )
    rmsprop_decay: float = setting(0.95, "squared-gradient decay of RMSProp (paper: 0.95)")
    rmsprop_epsilon: float = setting(
        0.00001, "RMSProp's epsilon, under the square root (paper: 0.01 for a summed loss)"
    )
    adam: bool = setting(False, "use Adam instead of the paper's RMSProp")
    adam_epsilon: float = setting(0.00015, "Adam's epsilon when --adam (Rainbow: 1.5e-4)")
    double: bool = setting(False, "Double DQN target (van Hasselt et al. 2016)")
    target_epsilon: float = setting(
        0.0,
        "the target values s' by the epsilon-greedy policy with this epsilon (expected SARSA: "
        "0.05 learns the values of the protocol's policy); 0: by the greedy action, as "
        "Q-learning does (paper: 0)",
        within=(0.0, 1.0),
    )
    loss: str = setting(
        "huber", "huber (the paper's clipped TD error) or mse (the squared error)", choices=LOSSES
    )
    init: str = setting(
        "glorot", "first weights: glorot (Keras) or torch (U(+-1/sqrt(fan_in)))", choices=INITS
    )
    distributional: bool = setting(
        False, "C51: learn the return's distribution (Bellemare et al. 2017)"
    )
    atoms: int = setting(51, "C51's support: returns it can predict (C51 paper: 51)", at_least=2)
    v_min: float = setting(-10.0, "C51's lowest return (C51 paper: -10)")
    v_max: float = setting(10.0, "C51's highest return (C51 paper: 10)")
    learning_starts: int = setting(
        20_000, "steps that fill the memory before learning (book: 20k)", at_least=0
    )
    refill: int = setting(
        0,
        "transitions a run that goes on without its replay memory (from a shipped agent, or "
        "with replay.npz lost) gathers with its own policy before it learns again; 0: as many "
        "as learning_starts",
        at_least=0,
    )
    rewarm_steps: int = setting(
        0,
        "agent steps over which such a run's step size rises from 0 as it learns again",
        at_least=0,
    )
    train_every: int = setting(4, "agent steps per gradient update (paper: 4)", positive=True)
    target_update: int = setting(
        10_000, "agent steps between target-network syncs (paper: 10k)", positive=True
    )
    epsilon_start: float = setting(1.0, "exploration when the decay starts (paper: 1.0)")
    epsilon_end: float = setting(0.1, "exploration after the decay (paper: 0.1)")
    epsilon_decay_steps: int = setting(
        1_000_000, "steps of linear decay after warm-up (paper: 1M)", positive=True
    )
    explore_from_start: bool = setting(
        False, "decay epsilon from step 0, the network acting in warm-up (paper: no)"
    )
    checkpoint_every: int = setting(100_000, "agent steps between checkpoints", positive=True)
    milestone_every: int = setting(
        250_000, "agent steps between weights kept for good, to score later", positive=True
    )
    seed: int = setting(0, "seed of the games, the network and the replay memory", at_least=0)
    compile: str = setting(
        "auto",
        "the update's compilation: xla, graph, or auto (time both, keep the faster)",
        choices=(*COMPILES, "auto"),
    )
    precision: str = setting(
        "float32",
        "float32, or bfloat16 (mixed; only by name: not yet shown to learn as well)",
        choices=(*PRECISIONS, "auto"),
    )

    def __post_init__(self) -> None:
        if self.network == "auto":  # the nature network needs frames of at least 36x36
            self.network = "small" if self.game.lower() == "catch" else "nature"
        check(self)
        if self.learning_rate_end and not self.learning_rate_decay_steps:
            raise ValueError(
                "learning_rate_end needs learning_rate_decay_steps, the decay's length"
            )
        if self.v_min >= self.v_max:
            raise ValueError(f"v_min ({self.v_min}) must lie below v_max ({self.v_max})")
        if self.distributional and self.loss != "huber":
            raise ValueError(f"loss={self.loss!r} is for Q-values; C51 learns by cross-entropy")
        if self.buffer_size % self.num_envs:
            raise ValueError(
                f"buffer_size ({self.buffer_size}) must be a multiple of num_envs ({self.num_envs})"
            )

    def epsilon_at(self, step: int) -> float:
        """Exploration rate at agent step ``step``: 1 during warm-up, then a linear decay.

        With ``explore_from_start`` the decay starts at step 0, warm-up or not.

        In the chapter: Breakout, "Training".
        """
        if self.acts_at_random(step):
            return 1.0
        since = 0 if self.explore_from_start else self.learning_starts
        return _linear(step - since, self.epsilon_start, self.epsilon_end, self.epsilon_decay_steps)

    def acts_at_random(self, step: int) -> bool:
        """Whether step ``step`` is warm-up that the network takes no part in."""
        return step < self.learning_starts and not self.explore_from_start

    def memory_before_learning(self, restarted: bool = False) -> int:
        """Transitions the memory holds before the first update: ``learning_starts``, and never
        fewer than the n + 1 entries per lane that sampling needs; for a run that goes on without
        its memory (``restarted``), ``refill`` where that is more."""
        least = max(self.learning_starts, (self.n_step + 1) * self.num_envs)
        return max(least, self.refill) if restarted else least

    def learning_rate_at(self, step: int) -> float:
        """Step size at agent step ``step``: constant, or a linear decay after warm-up."""
        if not self.learning_rate_decay_steps:
            return self.learning_rate
        return _linear(
            step - self.learning_starts,
            self.learning_rate,
            self.learning_rate_end,
            self.learning_rate_decay_steps,
        )

    @property
    def loss_name(self) -> str:
        """What the agent minimises, in words: C51's cross-entropy, or DQN's loss."""
        if self.distributional:
            return "cross-entropy"
        return {"huber": "Huber", "mse": "squared error"}[self.loss]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    def for_acting(self) -> DQNConfig:
        """These settings for an agent that only acts: no update path left to time."""
        return dataclasses.replace(
            self,
            compile="graph" if self.compile == "auto" else self.compile,
            precision="float32" if self.precision == "auto" else self.precision,
        )

    def for_another_machine(self) -> DQNConfig:
        """These settings with the compilation to be chosen afresh where they are used."""
        return dataclasses.replace(self, compile="auto")

    @classmethod
    def from_json(cls, path: str | Path) -> DQNConfig:
        fields = json.loads(Path(path).read_text())
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(f"{path}: unknown config fields {unknown}")
        return cls(**fields)


def _linear(steps: float, start: float, end: float, decay_steps: int) -> float:
    """``start`` before step 0, ``end`` after ``decay_steps``, a straight line in between."""
    progress = np.clip(steps / decay_steps, 0.0, 1.0)
    return float(start + progress * (end - start))
