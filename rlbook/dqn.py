"""The DQN agent: configuration, the Nature-DQN network, acting, and the learning update.

The agent knows nothing of files or environments: it turns a batch of observations into actions
and a batch of transitions into one gradient step. The runner (``train.py``) does the rest.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlbook import c51, update_path
from rlbook._keras import keras, tf
from rlbook.networks import INITS, NETWORKS, build_network
from rlbook.replay import Batch
from rlbook.update_path import COMPILES, PRECISIONS


@dataclass
class DQNConfig:
    """Every setting of a DQN run. Defaults: the DQN paper (Mnih et al. 2015) and the book."""

    game: str = "Breakout"  # Atari game (any ale-py ROM), or "Catch" for the 10x10 test game
    steps: int = 10_000_000  # agent steps to train for (one step = one action = 4 frames)
    num_envs: int = 4  # environments stepped together (paper: 1; see deviation note in README)
    sticky_actions: bool = False  # repeat the last action w.p. 0.25 (Machado et al. 2018)
    noop_max: int = 30  # random no-op actions at the start of each game (paper: 30)
    network: str = "nature"  # "nature" (paper's conv net) or "small" (for the test game)
    buffer_size: int = 400_000  # replay memory in transitions (book: 400k; paper: 1M)
    batch_size: int = 32  # transitions per update (paper: 32)
    discount: float = 0.99  # gamma (paper: 0.99)
    n_step: int = 1  # rewards summed over n steps before bootstrapping (paper: 1; Rainbow: 3)
    learning_rate: float = 0.00025  # step size (paper: 0.00025)
    learning_rate_end: float = 0.0  # step size after --learning-rate-decay-steps
    learning_rate_decay_steps: int = 0  # steps of linear decay after warm-up (paper: 0, none)
    rmsprop_decay: float = 0.95  # squared-gradient decay of RMSProp (paper: 0.95)
    rmsprop_epsilon: float = 0.00001  # under the square root (paper: 0.01 for a summed loss)
    adam: bool = False  # use Adam instead of the paper's RMSProp
    adam_epsilon: float = 0.00015  # Adam's epsilon when --adam (Rainbow: 1.5e-4)
    double: bool = False  # Double DQN target (van Hasselt et al. 2016)
    loss: str = "huber"  # "huber" (the paper's clipped TD error) or "mse" (the squared error)
    init: str = "glorot"  # first weights: "glorot" (Keras) or "torch" (U(+/-1/sqrt(fan_in)))
    distributional: bool = False  # C51: learn the return's distribution (Bellemare et al. 2017)
    atoms: int = 51  # C51's support: returns it can predict (C51 paper: 51)
    v_min: float = -10.0  # C51's lowest return (C51 paper: -10)
    v_max: float = 10.0  # C51's highest return (C51 paper: 10)
    learning_starts: int = 20_000  # random steps that fill the memory before learning (book: 20k)
    train_every: int = 4  # agent steps per gradient update (paper: 4)
    target_update: int = 10_000  # agent steps between target-network syncs (paper: 10k)
    epsilon_start: float = 1.0  # exploration at the first learning step (paper: 1.0)
    epsilon_end: float = 0.1  # exploration after the decay (paper: 0.1)
    epsilon_decay_steps: int = 1_000_000  # steps of linear decay after warm-up (paper: 1M)
    explore_from_start: bool = False  # decay epsilon from step 0; the network acts in warm-up
    checkpoint_every: int = 100_000  # agent steps between checkpoints
    milestone_every: int = 250_000  # agent steps between weights kept for good, to score later
    seed: int = 0
    compile: str = "auto"  # update compilation: "xla", "graph" or "auto" (time both, keep faster)
    precision: str = (
        "float32"  # or "bfloat16" (mixed; only by name: not yet shown to learn as well)
    )

    def __post_init__(self) -> None:
        positive = (
            "steps",
            "num_envs",
            "buffer_size",
            "batch_size",
            "train_every",
            "target_update",
            "checkpoint_every",
            "milestone_every",
            "epsilon_decay_steps",
            "n_step",
            "learning_rate",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("learning_starts", "learning_rate_decay_steps", "learning_rate_end"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.learning_rate_end and not self.learning_rate_decay_steps:
            raise ValueError(
                "learning_rate_end needs learning_rate_decay_steps, the decay's length"
            )
        if self.atoms < 2:
            raise ValueError(f"atoms must be at least 2, got {self.atoms}")
        if self.v_min >= self.v_max:
            raise ValueError(f"v_min ({self.v_min}) must lie below v_max ({self.v_max})")
        if self.distributional and self.loss != "huber":
            raise ValueError(f"loss={self.loss!r} is for Q-values; C51 learns by cross-entropy")
        if not 0.0 <= self.discount <= 1.0:
            raise ValueError(f"discount must lie in [0, 1], got {self.discount}")
        if self.network not in NETWORKS:
            raise ValueError(f"unknown network {self.network!r}; choose one of {sorted(NETWORKS)}")
        if self.buffer_size % self.num_envs:
            raise ValueError(
                f"buffer_size ({self.buffer_size}) must be a multiple of num_envs ({self.num_envs})"
            )
        for name, accepted in (
            ("compile", (*COMPILES, "auto")),
            ("precision", (*PRECISIONS, "auto")),
            ("loss", LOSSES),
            ("init", INITS),
        ):
            if getattr(self, name) not in accepted:
                raise ValueError(
                    f"unknown {name} {getattr(self, name)!r}; choose one of {list(accepted)}"
                )

    def epsilon_at(self, step: int) -> float:
        """Exploration rate at agent step ``step``: 1 during warm-up, then a linear decay.

        With ``explore_from_start`` the decay starts at step 0, warm-up or not.
        """
        if self.acts_at_random(step):
            return 1.0
        since = 0 if self.explore_from_start else self.learning_starts
        return _linear(step - since, self.epsilon_start, self.epsilon_end, self.epsilon_decay_steps)

    def acts_at_random(self, step: int) -> bool:
        """Whether step ``step`` is warm-up that the network takes no part in."""
        return step < self.learning_starts and not self.explore_from_start

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


LOSSES = ("huber", "mse")


def huber_loss(td_error: tf.Tensor) -> tf.Tensor:
    """Quadratic within [-1, 1], linear outside: the paper's clipping of the TD error."""
    abs_error = tf.abs(td_error)
    quadratic = tf.minimum(abs_error, 1.0)
    return 0.5 * tf.square(quadratic) + (abs_error - quadratic)


def bellman_target(rewards, terminals, next_q_target, discount, next_q_online=None):
    """``r + gamma * (1 - done) * Q_target(s', a*)``.

    ``a*`` is the target network's argmax (DQN), or the online network's when ``next_q_online``
    is given (Double DQN, which decouples choosing the action from evaluating it).
    """
    if next_q_online is None:
        next_value = tf.reduce_max(next_q_target, axis=1)
    else:
        best = tf.argmax(next_q_online, axis=1, output_type=tf.int32)
        next_value = tf.gather(next_q_target, best, axis=1, batch_dims=1)
    return rewards + discount * (1.0 - terminals) * next_value


class DQNAgent:
    """Online and target networks, an optimizer, and two compiled functions: act and update."""

    def __init__(self, config: DQNConfig, obs_shape: tuple[int, int, int], n_actions: int):
        """Build the networks and the update on the path the config names, timing "auto" first.

        ``self.config`` is ``config`` with "auto" resolved to the compilation and precision
        chosen, so a run's saved config says how it was trained.
        """
        if "auto" in (config.compile, config.precision):
            chosen = choose_update_path(config, obs_shape, n_actions).path
            config = dataclasses.replace(config, compile=chosen.compile, precision=chosen.precision)
        self.config = config
        self.obs_shape, self.n_actions = tuple(obs_shape), n_actions
        # An n-step return already holds n discounted rewards; the bootstrap comes n steps on.
        self.bootstrap_discount = config.discount**config.n_step
        # C51's network gives `atoms` logits per action; acting needs only their mean.
        self.atoms = (
            c51.support(config.atoms, config.v_min, config.v_max) if config.distributional else None
        )
        self.online, self.target = (
            build_network(
                config.network,
                self.obs_shape,
                n_actions,
                config.seed,
                config.precision,
                atoms=config.atoms if config.distributional else 1,
                init=config.init,
            )
            for _ in range(2)
        )
        self.sync_target()
        if config.adam:
            self.optimizer = keras.optimizers.Adam(
                config.learning_rate, epsilon=config.adam_epsilon
            )
        else:
            # Centered RMSProp with epsilon under the square root, as in the paper (Graves 2013).
            # Deviation from Mnih et al. 2015: they summed the loss over the batch of 32 and
            # used epsilon 0.01; rlbook averages it, so the same step needs 0.01 / 32**2 ~ 1e-5
            # (Dopamine's value). With 0.01, epsilon would swamp the squared gradients.
            self.optimizer = keras.optimizers.RMSprop(
                config.learning_rate,
                rho=config.rmsprop_decay,
                epsilon=config.rmsprop_epsilon,
                centered=True,
            )
        self.optimizer.build(self.online.trainable_variables)
        frames = tf.TensorSpec([None, *self.obs_shape], tf.uint8)
        self._q_values = tf.function(self._q_values_fn, input_signature=[frames], jit_compile=True)
        # XLA fuses the update's ops, which pays on some CPUs and not on others: the config says
        # which, and "auto" has timed both (see update_path.py).
        self._update = tf.function(
            self._update_fn,
            jit_compile=config.compile == "xla",
            input_signature=[
                frames,
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.float32),
                frames,
                tf.TensorSpec([None], tf.float32),
            ],
        )

    def q_values(self, observations: np.ndarray) -> np.ndarray:
        """Q-values of a batch of observations ``[n, stack, H, W]`` (uint8)."""
        return self._q_values(self._checked(observations)).numpy()

    def distribution(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """C51's return distributions ``[n, actions, atoms]`` for a batch, and the atoms."""
        if self.atoms is None:
            raise ValueError("only a distributional agent (--distributional) predicts returns")
        logits = self.online(self._checked(observations), training=False)
        return tf.nn.softmax(logits).numpy(), self.atoms.numpy()

    def act(self, observations: np.ndarray, epsilon: float, rng: np.random.Generator):
        """Epsilon-greedy actions for a batch, and each observation's max Q-value (for logging)."""
        observations = self._checked(observations)
        n = len(observations)
        explore = rng.random(n) < epsilon
        if explore.all():
            return rng.integers(self.n_actions, size=n), np.full(n, np.nan)
        q = self._q_values(observations).numpy()
        actions = np.where(explore, rng.integers(self.n_actions, size=n), q.argmax(axis=1))
        return actions, q.max(axis=1)

    def update(self, batch: Batch) -> tuple[float, float]:
        """One gradient step on a batch; returns the loss and the mean Q of the taken actions."""
        loss, q = self._update(
            batch.states, batch.actions, batch.rewards, batch.next_states, batch.terminals
        )
        return float(loss), float(q)

    def sync_target(self) -> None:
        """Copy the online weights into the target network."""
        self.target.set_weights(self.online.get_weights())

    def _checked(self, observations: np.ndarray) -> np.ndarray:
        if observations.dtype != np.uint8 or tuple(observations.shape[1:]) != self.obs_shape:
            raise ValueError(
                f"observations must be uint8 of shape [n, {', '.join(map(str, self.obs_shape))}], "
                f"got {observations.dtype} {tuple(observations.shape)}"
            )
        return observations

    def _q_values_fn(self, observations):
        return self._q(self.online(observations, training=False))

    def _q(self, outputs):
        """Q-values from the network's outputs (C51: the mean of each action's distribution)."""
        return outputs if self.atoms is None else c51.expected_q(outputs, self.atoms)

    def _targets(self, rewards, terminals, next_states):
        """What the taken actions' outputs should move towards: values, or C51 distributions."""
        next_target = self.target(next_states, training=False)
        next_online = self.online(next_states, training=False) if self.config.double else None
        if self.atoms is None:
            return bellman_target(
                rewards, terminals, next_target, self.bootstrap_discount, next_online
            )
        return c51.target_distribution(
            rewards, terminals, next_target, self.atoms, self.bootstrap_discount, next_online
        )

    def _loss(self, targets, taken):
        """The loss per transition, between the targets and the taken actions' outputs."""
        if self.atoms is not None:
            return c51.cross_entropy(targets, taken)
        if self.config.loss == "mse":
            return tf.square(targets - taken)
        return huber_loss(targets - taken)

    def _update_fn(self, states, actions, rewards, next_states, terminals):
        targets = tf.stop_gradient(self._targets(rewards, terminals, next_states))
        variables = self.online.trainable_variables
        with tf.GradientTape() as tape:
            outputs = self.online(states, training=True)
            taken = tf.gather(outputs, actions, axis=1, batch_dims=1)
            loss = tf.reduce_mean(self._loss(targets, taken))
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        q = taken if self.atoms is None else c51.expected_q(taken, self.atoms)
        return loss, tf.reduce_mean(q)


def choose_update_path(
    config: DQNConfig,
    obs_shape: tuple[int, int, int],
    n_actions: int,
    cache_file: Path | None = None,
    refresh: bool = False,
    budget: float = 1.0,
) -> update_path.Choice:
    """The fastest update path for this config on this machine, timed or from the cache.

    ``cache_file`` defaults to the user's (``update_path.default_cache_file()``); ``refresh``
    times every candidate again, each for about ``budget`` seconds.
    """
    options = update_path.candidates(config.compile, config.precision)
    if len(options) == 1 and not refresh:
        return update_path.Choice(options[0], {}, cached=True)
    key = update_path.cache_key(
        config.network, tuple(obs_shape), config.batch_size, config.double, config.distributional
    )
    rounds = 3
    runners: dict[update_path.UpdatePath, Callable[[], object]] = {}

    def time_update(path: update_path.UpdatePath) -> float:
        if path not in runners:  # built and compiled once, then timed in each round
            runners[path] = update_runner(config, obs_shape, n_actions, path)
        return update_path.median_seconds(runners[path], budget / rounds, warmup=0)

    return update_path.choose(
        options,
        time_update,
        key,
        cache_file or update_path.default_cache_file(),
        refresh,
        rounds,
    )


def update_runner(
    config: DQNConfig,
    obs_shape: tuple[int, int, int],
    n_actions: int,
    path: update_path.UpdatePath,
) -> Callable[[], object]:
    """A function that runs one update of ``config``'s agent on ``path``, on random frames.

    Its agent is built and its update compiled (by two warm-up calls) before it is returned.
    """
    agent = DQNAgent(
        dataclasses.replace(config, compile=path.compile, precision=path.precision),
        obs_shape,
        n_actions,
    )
    size = config.batch_size
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, size, *obs_shape), dtype=np.uint8)
    batch = Batch(
        frames[0],
        rng.integers(n_actions, size=size, dtype=np.int32),
        rng.standard_normal(size).astype(np.float32),
        frames[1],
        (rng.random(size) < 0.1).astype(np.float32),
    )
    for _ in range(2):
        agent.update(batch)
    return lambda: agent.update(batch)
