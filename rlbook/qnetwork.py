"""A one-layer Q-network: the Q-table rewritten as the weights of a dense layer.

A one-hot state times a 16x4 weight matrix (no bias) picks one row of weights: the network *is*
a table, but it learns by gradient descent on the squared TD error instead of by assignment.
That is the bridge from tabular Q-learning to DQN, where the one-hot input becomes pixels and
the single layer becomes a convolutional network.

The chapter explains the pieces in "A one-layer Q-network in TensorFlow" (notebook
``01_frozenlake``): ``build_qnetwork`` (the model), ``q_values`` and ``act`` (acting),
``td_target`` and ``sgd_step`` (the gradient step with its target). They work on several lakes
side by side, one weight matrix each, so the 20 seeds of the chapter's comparison learn in one
TensorFlow graph (``train_side_by_side``); a single agent is one lake.

Speed: whole episodes of every lake run inside one compiled graph (``rlbook.lake_graph``),
with the same actions, episodes and scores as step by step through gymnasium. XLA fuses each
multiply with the add after it (one rounding where plain float32 arithmetic makes two), so the
weights can differ from a step-by-step agent's in their last bit.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from rlbook._keras import keras, tf
from rlbook.envs import check_episodes, discrete_sizes
from rlbook.episodes import History
from rlbook.settings import check, setting


@dataclass
class QNetworkConfig:
    """Hyperparameters of the one-layer Q-network; the defaults are the book's."""

    episodes: int = setting(2000, "training episodes (book: 2000)", positive=True)
    learning_rate: float = setting(0.1, "plain SGD's step size (book: 0.1)", positive=True)
    discount: float = setting(0.99, "gamma (book: 0.99)", within=(0, 1))
    epsilon: float = setting(0.1, "exploration before the first decay (book: 0.1)", within=(0, 1))
    epsilon_every: int = setting(
        50, "after episode i, epsilon = 1 / (i // epsilon_every + 10) (book: 50)", positive=True
    )
    init_max: float = setting(
        0.0125, "weights start uniform in [0, init_max] (book: 0.0125)", at_least=0
    )
    seed: int = setting(0, "seed of the lake, the weights and exploration", at_least=0)

    def __post_init__(self) -> None:
        check(self)

    def epsilon_after(self, episode: int) -> float:
        """Exploration rate once ``episode`` has ended (the book's ``1 / (i // 50 + 10)``)."""
        return 1.0 / (episode // self.epsilon_every + 10)

    def epsilons(self, episodes: int) -> np.ndarray:
        """The exploration rate of each episode, as float32 (the rate the graph compares with)."""
        return np.array(
            [self.epsilon] + [self.epsilon_after(i) for i in range(episodes - 1)], np.float32
        )


def build_qnetwork(n_states: int, n_actions: int, init_max: float, seed: int) -> keras.Model:
    """The model: one dense layer from a one-hot state to one Q-value per action, no bias.

    In the chapter: FrozenLake, "A one-layer Q-network in TensorFlow".
    """
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


def q_values(kernels: tf.Variable, states: tf.Tensor) -> tf.Tensor:
    """Each lake's Q-values in its state: the one-hot state times that lake's weight matrix.

    ``kernels`` holds one dense layer's weights per lake, ``[lakes, states, actions]``;
    ``states`` one state per lake.

    In the chapter: FrozenLake, "A one-layer Q-network in TensorFlow".
    """
    one_hot = tf.one_hot(states, kernels.shape[1])
    return tf.einsum("ls,lsa->la", one_hot, kernels)


def act(q: tf.Tensor, epsilon: tf.Tensor, draw: tf.Tensor, random_action: tf.Tensor) -> tf.Tensor:
    """Epsilon-greedy: the best action, or a random one when the draw falls below epsilon.

    In the chapter: FrozenLake, "A one-layer Q-network in TensorFlow".
    """
    greedy = tf.argmax(q, axis=-1, output_type=tf.int32)
    return tf.where(draw < epsilon, random_action, greedy)


def td_target(reward, next_q, terminated, discount: float) -> tf.Tensor:
    """The target ``r + gamma * max_a' Q(s', a')``; a hole or the goal has nothing after it.

    In the chapter: FrozenLake, "A one-layer Q-network in TensorFlow".
    """
    return reward + tf.where(terminated, 0.0, discount * tf.reduce_max(next_q, axis=-1))


def sgd_step(kernels: tf.Variable, states, actions, targets, learning_rate: float) -> None:
    """One plain SGD step, ``w <- w - lr * grad``, on each lake's squared TD error.

    Each lake's loss depends on its own weights only, so the gradient of their sum is every
    lake's own gradient.

    In the chapter: FrozenLake, "A one-layer Q-network in TensorFlow".
    """
    with tf.GradientTape() as tape:
        q_taken = tf.gather(q_values(kernels, states), actions, batch_dims=1)
        loss = tf.reduce_sum(tf.square(targets - q_taken))
    kernels.assign_sub(learning_rate * tape.gradient(loss, kernels))


def _watches_resets(env: gym.Env) -> bool:
    """Whether a wrapper other than gymnasium's own may act when the episode restarts."""
    while isinstance(env, gym.Wrapper):
        if not type(env).__module__.startswith("gymnasium."):
            return True
        env = env.env
    return False


class QNetworkAgent:
    """Q-learning with a one-layer TensorFlow network on a toy-text environment (FrozenLake).

    All its episodes run in one call of one TensorFlow graph. Under a wrapper of its own that
    acts on ``reset`` (the sweep scores its agent there), each episode is a call of its own and
    ``env.reset`` runs between them, so the wrapper sees every one.
    """

    def __init__(self, env: gym.Env, config: QNetworkConfig | None = None):
        self.env = env
        self.config = cfg = config or QNetworkConfig()
        self.n_states, self.n_actions = discrete_sizes(env)
        from rlbook.lake_graph import LakesInOneGraph

        self._lakes = LakesInOneGraph([env], [cfg])
        self.model = self._lakes.models[0]
        self.rng = self._lakes.rngs[0]

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

    def train(self, episodes: int | None = None, progress: bool = True) -> History:
        """Learn for ``episodes`` episodes (default: the config's) and record each one."""
        cfg = self.config
        episodes = check_episodes(cfg.episodes if episodes is None else episodes)
        history, epsilons = History(), cfg.epsilons(episodes)[None]
        state, _ = self.env.reset(seed=cfg.seed)
        # Each call costs a thread hand-off, which on a busy machine takes longer than an episode.
        calls = episodes if _watches_resets(self.env) else 1
        stops = np.linspace(0, episodes, calls + 1).astype(int)
        for done, until in tqdm(
            itertools.pairwise(stops),
            desc="Q-network",
            total=calls,
            disable=not progress or calls == 1,
        ):
            (played,) = self._lakes.play([state], [done], [until], epsilons)
            history.rewards += played.rewards
            history.lengths += played.lengths
            state, _ = self.env.reset()
        return history


@dataclass
class SideBySide:
    """What ``train_side_by_side`` returns: each seed's training, weights and scores."""

    seeds: list[int]
    histories: list[History]
    q_tables: list[np.ndarray]
    scores: list[dict[int, float]]  # per seed: episodes trained -> success rate of its policy

    def results(self, setting: str = "agent=qnetwork") -> list[dict]:
        """One row per score, as a sweep's results hold them: setting, seed, step, score."""
        return [
            {"setting": setting, "seed": seed, "step": step, "score": score}
            for seed, scores in zip(self.seeds, self.scores, strict=True)
            for step, score in sorted(scores.items())
        ]


def train_side_by_side(
    config: QNetworkConfig,
    seeds: Iterable[int],
    env_id: str = "FrozenLake-v1",
    score_every: int = 100,
    progress: bool = True,
) -> SideBySide:
    """Train one Q-network per seed, all in one graph; each ends as ``QNetworkAgent`` would alone.

    Every ``score_every`` episodes each seed's greedy policy is scored by its exact success
    rate (``planning.policy_success_rate``), as the sweep scores a trial.
    """
    from rlbook import envs, planning
    from rlbook.lake_graph import LakesInOneGraph

    seeds = list(seeds)
    episodes = check_episodes(config.episodes)
    configs = [QNetworkConfig(**{**config.__dict__, "seed": seed}) for seed in seeds]
    games = [envs.make(env_id) for _ in seeds]
    lakes = LakesInOneGraph(games, configs)
    states = [game.reset(seed=seed)[0] for game, seed in zip(games, seeds, strict=True)]
    epsilons = np.stack([c.epsilons(episodes) for c in configs])
    histories, scores = [History() for _ in seeds], [{} for _ in seeds]
    stops = sorted({*range(score_every, episodes, score_every), episodes})
    done = 0
    for until in tqdm(stops, desc="Q-networks side by side", disable=not progress):
        played = lakes.play(states, [done] * len(seeds), [until] * len(seeds), epsilons)
        for k, (game, model) in enumerate(zip(games, lakes.models, strict=True)):
            histories[k].rewards += played[k].rewards
            histories[k].lengths += played[k].lengths
            policy = model.get_layer("q_values").kernel.numpy().argmax(axis=1)
            scores[k][until] = planning.policy_success_rate(game, policy)
        states = [game.reset()[0] for game in games]
        done = until
    q_tables = [m.get_layer("q_values").kernel.numpy() for m in lakes.models]
    for game in games:
        game.close()
    return SideBySide(seeds, histories, q_tables, scores)
