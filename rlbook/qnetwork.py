"""A one-layer Q-network: the Q-table rewritten as the weights of a dense layer.

A one-hot state times a 16x4 weight matrix (no bias) picks one row of weights: the network *is*
a table, but it learns by gradient descent on the squared TD error instead of by assignment.
That is the bridge from tabular Q-learning to DQN, where the one-hot input becomes pixels and
the single layer becomes a convolutional network.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from rlbook._keras import keras, tf
from rlbook.envs import check_episodes, discrete_sizes
from rlbook.episodes import History


@dataclass
class QNetworkConfig:
    """Hyperparameters of the one-layer Q-network; the defaults are the book's."""

    episodes: int = 2000  # training episodes
    learning_rate: float = 0.1  # plain SGD
    discount: float = 0.99  # gamma
    epsilon: float = 0.1  # exploration before the first decay
    epsilon_every: int = 50  # after episode i, epsilon = 1 / (i // epsilon_every + 10)
    init_max: float = 0.0125  # weights start uniform in [0, init_max]
    seed: int = 0

    def epsilon_after(self, episode: int) -> float:
        """Exploration rate once ``episode`` has ended (the book's ``1 / (i // 50 + 10)``)."""
        return 1.0 / (episode // self.epsilon_every + 10)


def build_qnetwork(n_states: int, n_actions: int, init_max: float, seed: int) -> keras.Model:
    """One dense layer from a one-hot state to one Q-value per action, no bias."""
    return keras.Sequential(
        [
            keras.Input(shape=(n_states,)),
            keras.layers.Dense(
                n_actions,
                use_bias=False,
                kernel_initializer=keras.initializers.RandomUniform(0.0, init_max, seed=seed),
                name="q_values",
            ),
        ],
        name="qnetwork",
    )


class QNetworkAgent:
    """Q-learning with a one-layer TensorFlow network on a discrete-state environment.

    Each episode runs as one TensorFlow graph (a ``tf.while_loop`` inside a ``tf.function``) that
    calls back into gymnasium for every environment step. Calling a ``tf.function`` once per step
    from Python costs more than the step itself; one call per episode keeps the whole chapter's
    2000 episodes to seconds.
    """

    def __init__(self, env: gym.Env, config: QNetworkConfig | None = None):
        self.env = env
        self.config = cfg = config or QNetworkConfig()
        self.n_states, self.n_actions = discrete_sizes(env)
        self.model = build_qnetwork(self.n_states, self.n_actions, cfg.init_max, cfg.seed)
        self.rng = tf.random.Generator.from_seed(cfg.seed)
        self._episode = tf.function(
            self._episode_fn,
            input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32)],
        )

    def q_values(self, state: int) -> np.ndarray:
        """The network's Q-values in one state."""
        return self.model(tf.one_hot([state], self.n_states))[0].numpy()

    @property
    def q_table(self) -> np.ndarray:
        """The weights seen as a table: row s holds the Q-values of state s."""
        return self.model.get_layer("q_values").kernel.numpy()

    @property
    def policy(self) -> np.ndarray:
        """The greedy action in every state."""
        return self.q_table.argmax(axis=1)

    def _env_step(self, action: np.ndarray):
        state, reward, terminated, truncated, _ = self.env.step(int(action))
        return np.int32(state), np.float32(reward), np.bool_(terminated), np.bool_(truncated)

    def _q(self, state):
        return self.model(tf.one_hot([state], self.n_states))[0]

    def _learn(self, state, action, reward, next_state, terminated):
        """One plain SGD step, ``w <- w - lr * grad``, on the squared TD error of one step."""
        bootstrap = tf.where(
            terminated, 0.0, self.config.discount * tf.reduce_max(self._q(next_state))
        )
        target = reward + bootstrap
        with tf.GradientTape() as tape:
            loss = tf.square(target - self._q(state)[action])
        weights = self.model.trainable_variables
        for w, g in zip(weights, tape.gradient(loss, weights), strict=True):
            w.assign_sub(self.config.learning_rate * g)

    def _episode_fn(self, state, epsilon):
        """Play and learn one episode from ``state``; returns its total reward and length."""

        def step(state, total, length, done):
            greedy = tf.argmax(self._q(state), output_type=tf.int32)
            explore = self.rng.uniform([]) < epsilon
            action = tf.where(explore, self.rng.uniform([], 0, self.n_actions, tf.int32), greedy)
            next_state, reward, terminated, truncated = tf.numpy_function(
                self._env_step, [action], [tf.int32, tf.float32, tf.bool, tf.bool], stateful=True
            )
            for tensor in (next_state, reward, terminated, truncated):
                tensor.set_shape([])  # numpy_function cannot tell TensorFlow the shapes
            self._learn(state, action, reward, next_state, terminated)
            return next_state, total + reward, length + 1, terminated | truncated

        _, total, length, _ = tf.while_loop(
            lambda *loop: tf.logical_not(loop[-1]),
            step,
            [state, tf.constant(0.0), tf.constant(0), tf.constant(False)],
        )
        return total, length

    def train(self, episodes: int | None = None, progress: bool = True) -> History:
        """Learn for ``episodes`` episodes (default: the config's) and record each one."""
        cfg = self.config
        episodes = check_episodes(cfg.episodes if episodes is None else episodes)
        history, epsilon = History(), cfg.epsilon
        state, _ = self.env.reset(seed=cfg.seed)
        for episode in tqdm(range(episodes), desc="Q-network", disable=not progress):
            total, length = self._episode(state, epsilon)
            history.record(float(total), int(length))
            epsilon = cfg.epsilon_after(episode)
            state, _ = self.env.reset()
        return history
