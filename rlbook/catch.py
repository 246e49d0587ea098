"""Catch: a tiny pixel game for proving that the DQN code learns, in a minute on a CPU.

A ball falls from a random column of a 10x10 screen, one row per step; the agent moves a
three-pixel paddle along the bottom row left, right or not at all. Catching the ball pays +1,
missing it -1, and the episode ends either way after nine steps. A random agent scores about
-0.6; the optimal agent +1. The environment follows the gymnasium API; ``CatchEnv`` in turn
wraps a vector of them to look exactly like ``AtariEnv`` to the runner.
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium as gym
import numpy as np

from rlbook.atari import STACK, Step

SIZE = 10


class Catch(gym.Env):
    """One game of Catch, with the gymnasium API; observations are 10x10 uint8 frames."""

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"]}
    action_space = gym.spaces.Discrete(3)  # left, stay, right
    observation_space = gym.spaces.Box(0, 255, (SIZE, SIZE), np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.ball_row, self.ball_col = 0, int(self.np_random.integers(SIZE))
        self.paddle = int(self.np_random.integers(1, SIZE - 1))
        return self._frame(), {}

    def step(self, action):
        self.paddle = int(np.clip(self.paddle + int(action) - 1, 1, SIZE - 2))
        self.ball_row += 1
        done = self.ball_row == SIZE - 1
        reward = (1.0 if abs(self.ball_col - self.paddle) <= 1 else -1.0) if done else 0.0
        return self._frame(), reward, done, False, {}

    def _frame(self) -> np.ndarray:
        frame = np.zeros((SIZE, SIZE), np.uint8)
        frame[self.ball_row, self.ball_col] = 255
        frame[SIZE - 1, self.paddle - 1 : self.paddle + 2] = 255
        return frame

    def render(self):
        return np.repeat(self._frame()[..., None], 3, axis=2)


def observation(ball_row: int, ball_col: int, paddle: int) -> np.ndarray:
    """The agent's view ``[1, STACK, 10, 10]`` once the ball has fallen to ``ball_row`` in
    column ``ball_col`` while the paddle, centred on ``paddle``, stood still: a state to ask an
    agent about."""
    if not (STACK - 1 <= ball_row < SIZE - 1 and 0 <= ball_col < SIZE and 1 <= paddle < SIZE - 1):
        raise ValueError(
            f"no such state: ball_row in [{STACK - 1}, {SIZE - 2}], ball_col in [0, {SIZE - 1}], "
            f"paddle in [1, {SIZE - 2}]; got {ball_row}, {ball_col}, {paddle}"
        )
    game = Catch()
    game.ball_col, game.paddle = ball_col, paddle
    frames = []
    for row in range(ball_row - STACK + 1, ball_row + 1):
        game.ball_row = row
        frames.append(game._frame())
    return np.stack(frames)[None]


class CatchEnv:
    """``num_envs`` games of Catch with stacked frames, behaving like ``AtariEnv``."""

    action_meanings: ClassVar[list[str]] = ["LEFT", "NOOP", "RIGHT"]
    n_actions = 3
    obs_shape = (STACK, SIZE, SIZE)
    game = "catch"

    def __init__(self, num_envs: int = 1):
        self.num_envs = num_envs
        self.env = gym.vector.SyncVectorEnv(
            [
                lambda: gym.wrappers.FrameStackObservation(Catch(), STACK, padding_type="zero")
                for _ in range(num_envs)
            ],
            autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
        )

    def reset(self, seed: int | None = None) -> np.ndarray:
        observations, _ = self.env.reset(seed=seed)
        return observations

    def send(self, actions: np.ndarray) -> None:
        self._sent = np.asarray(actions, dtype=np.int64)

    def receive(self) -> Step:
        return self.step(self._sent)

    def step(self, actions: np.ndarray) -> Step:
        actions = np.asarray(actions, dtype=np.int64)
        observations, rewards, terminated, truncated, _ = self.env.step(actions)
        no_lives = np.zeros(self.num_envs, dtype=bool)
        return Step(
            observations, rewards.astype(np.float32), terminated, truncated, no_lives, actions
        )

    def close(self) -> None:
        self.env.close()
