"""Tabular Q-learning: one number per state and action, nudged towards the Bellman target.

After each step the agent moves ``Q[s, a]`` a fraction ``learning_rate`` of the way towards
``r + discount * max Q[s', .]`` (no bootstrap from a terminal state). It acts greedily on its
table plus Gaussian noise whose scale shrinks as episodes go by, so it explores early and
exploits late.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from rlbook.envs import check_episodes, discrete_sizes
from rlbook.episodes import History
from rlbook.settings import check, setting


@dataclass
class TabularConfig:
    """Hyperparameters of tabular Q-learning; defaults learn FrozenLake well in 2000 episodes."""

    episodes: int = setting(2000, "training episodes (book: 2000)", positive=True)
    learning_rate: float = setting(
        0.2, "step towards the target (book: 0.8, too jumpy on a slippery lake)", within=(0, 1)
    )
    discount: float = setting(
        0.99, "gamma (book: 0.95, which prefers a safe-but-slow path less)", within=(0, 1)
    )
    noise_scale: float = setting(
        1.0, "std of the Gaussian noise added to Q before the argmax", at_least=0
    )
    noise_halflife: float = setting(
        100.0, "episodes until the noise scale halves (book: about 1 episode)", positive=True
    )
    seed: int = setting(0, "seed of the lake and the noise", at_least=0)

    def __post_init__(self) -> None:
        check(self)

    @classmethod
    def book(cls) -> TabularConfig:
        """The chapter's settings: lr 0.8, gamma 0.95, noise scaled by 1/(episode+1)."""
        return cls(learning_rate=0.8, discount=0.95, noise_scale=1.0, noise_halflife=1.0)

    def noise_at(self, episode: int) -> float:
        """Noise scale in ``episode``: ``noise_scale / (1 + episode / noise_halflife)``.

        In the chapter: FrozenLake, "Tabular Q-learning".
        """
        return self.noise_scale / (1.0 + episode / self.noise_halflife)


def q_learning_update(
    Q: np.ndarray,
    s: int,
    a: int,
    r: float,
    s_next: int,
    terminated: bool,
    lr: float,
    discount: float,
) -> float:
    """One Q-learning step in place; returns the TD error.

    In the chapter: FrozenLake, "Tabular Q-learning".
    """
    target = r if terminated else r + discount * Q[s_next].max()
    td_error = target - Q[s, a]
    Q[s, a] += lr * td_error
    return float(td_error)


class TabularQ:
    """Q-learning with a table, for any environment with discrete states and actions."""

    def __init__(self, env: gym.Env, config: TabularConfig | None = None):
        self.env = env
        self.config = config or TabularConfig()
        n_states, n_actions = discrete_sizes(env)
        self.Q = np.zeros((n_states, n_actions))
        self.rng = np.random.default_rng(self.config.seed)

    def act(self, state: int, noise: float) -> int:
        """Greedy on the table plus Gaussian noise of scale ``noise``.

        In the chapter: FrozenLake, "Tabular Q-learning".
        """
        return int(np.argmax(self.Q[state] + noise * self.rng.standard_normal(self.Q.shape[1])))

    def train(self, episodes: int | None = None, progress: bool = True) -> History:
        """Learn for ``episodes`` episodes (default: the config's) and record each one.

        In the chapter: FrozenLake, "Tabular Q-learning".
        """
        cfg = self.config
        lr, gamma = cfg.learning_rate, cfg.discount
        episodes = check_episodes(cfg.episodes if episodes is None else episodes)
        history = History()
        # Seeding the first reset seeds the env's generator for the whole run.
        state, _ = self.env.reset(seed=cfg.seed)
        for episode in tqdm(range(episodes), desc="tabular Q", disable=not progress):
            noise, total, steps = cfg.noise_at(episode), 0.0, 0
            while True:
                action = self.act(state, noise)
                next_state, reward, terminated, truncated, _ = self.env.step(action)
                q_learning_update(self.Q, state, action, reward, next_state, terminated, lr, gamma)
                state, total, steps = next_state, total + reward, steps + 1
                if terminated or truncated:
                    break
            history.record(total, steps)
            state, _ = self.env.reset()
        return history

    @property
    def policy(self) -> np.ndarray:
        """The greedy action in every state."""
        return self.Q.argmax(axis=1)
