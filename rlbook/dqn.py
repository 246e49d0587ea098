"""The DQN agent: the Bellman target, the loss, acting, and the learning update.

The agent knows nothing of files or environments: it turns a batch of observations into actions
and a batch of transitions into one gradient step. The runner (``train.py``) does the rest. Its
settings are ``DQNConfig`` (``rlbook.dqn_config``), its networks come from ``rlbook.networks``.
"""

from __future__ import annotations

import numpy as np

from rlbook import c51
from rlbook._keras import keras, tf
from rlbook.dqn_config import DQNConfig
from rlbook.networks import build_network
from rlbook.replay import Batch


def huber_loss(td_error: tf.Tensor) -> tf.Tensor:
    """Quadratic within [-1, 1], linear outside: the paper's clipping of the TD error.

    In the chapter: Breakout, "Training".
    """
    abs_error = tf.abs(td_error)
    quadratic = tf.minimum(abs_error, 1.0)
    return 0.5 * tf.square(quadratic) + (abs_error - quadratic)


def bellman_target(rewards, terminals, next_q_target, discount, next_q_online=None, epsilon=0.0):
    """``r + gamma * (1 - done) * Q_target(s', a*)``.

    ``a*`` is the target network's argmax (DQN), or the online network's when ``next_q_online``
    is given (Double DQN, which decouples choosing the action from evaluating it).

    With ``epsilon`` > 0 the value of ``s'`` is what the epsilon-greedy policy expects there,
    ``(1 - epsilon) Q(s', a*) + epsilon mean_a Q(s', a)`` (expected SARSA): the values of the
    policy that acts with random actions, as the evaluation protocol's does, where Q-learning's
    max assumes that every later action is the best one.

    In the chapter: Breakout, "Training".
    """
    if next_q_online is None:
        next_value = tf.reduce_max(next_q_target, axis=1)
    else:
        best = tf.argmax(next_q_online, axis=1, output_type=tf.int32)
        next_value = tf.gather(next_q_target, best, axis=1, batch_dims=1)
    if epsilon:
        next_value = (1.0 - epsilon) * next_value + epsilon * tf.reduce_mean(next_q_target, axis=1)
    return rewards + discount * (1.0 - terminals) * next_value


class DQNAgent:
    """Online and target networks, an optimizer, and two compiled functions: act and update."""

    def __init__(self, config: DQNConfig, obs_shape: tuple[int, int, int], n_actions: int):
        """Build the networks and the update on the path the config names.

        A training run times the paths first (``rlbook.update_path.resolve``); an agent built
        with compile "auto" runs its update as a plain graph, which every CPU runs well.
        ``self.config`` names the path taken, so a run's saved config says how it was trained.
        """
        config = config.for_acting()
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

    def distribution(
        self, observations: np.ndarray, chunk: int = 256
    ) -> tuple[np.ndarray, np.ndarray]:
        """C51's return distributions ``[n, actions, atoms]`` for a batch, and the atoms.

        A long batch (every screen of a game) goes through the network ``chunk`` at a time.
        """
        if self.atoms is None:
            raise ValueError("only a distributional agent (--distributional) predicts returns")
        observations = self._checked(observations)
        probs = [
            tf.nn.softmax(self.online(observations[i : i + chunk], training=False)).numpy()
            for i in range(0, len(observations), chunk)
        ]
        return np.concatenate(probs), self.atoms.numpy()

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

    def checkpoint_state(self) -> dict[str, object]:
        """Everything a checkpoint keeps, by the names it keeps them under."""
        return {"online": self.online, "target": self.target, "optimizer": self.optimizer}

    def sync_target(self) -> None:
        """Copy the online weights into the target network.

        In the chapter: Breakout, "Training".
        """
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
        """What the taken actions' outputs should move towards: values, or C51 distributions.

        In the chapter: Breakout, "Training".
        """
        next_target = self.target(next_states, training=False)
        next_online = self.online(next_states, training=False) if self.config.double else None
        epsilon = self.config.target_epsilon
        if self.atoms is None:
            return bellman_target(
                rewards, terminals, next_target, self.bootstrap_discount, next_online, epsilon
            )
        return c51.target_distribution(
            rewards,
            terminals,
            next_target,
            self.atoms,
            self.bootstrap_discount,
            next_online,
            epsilon,
        )

    def _loss(self, targets, taken):
        """The loss per transition, between the targets and the taken actions' outputs.

        In the chapter: Breakout, "Training".
        """
        if self.atoms is not None:
            return c51.cross_entropy(targets, taken)
        if self.config.loss == "mse":
            return tf.square(targets - taken)
        return huber_loss(targets - taken)

    def _update_fn(self, states, actions, rewards, next_states, terminals):
        """One gradient step on a batch: the loss between the targets and the actions taken.

        In the chapter: Breakout, "Training".
        """
        targets = tf.stop_gradient(self._targets(rewards, terminals, next_states))
        variables = self.online.trainable_variables
        with tf.GradientTape() as tape:
            outputs = self.online(states, training=True)
            taken = tf.gather(outputs, actions, axis=1, batch_dims=1)
            loss = tf.reduce_mean(self._loss(targets, taken))
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        q = taken if self.atoms is None else c51.expected_q(taken, self.atoms)
        return loss, tf.reduce_mean(q)
