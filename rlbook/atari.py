"""Atari games for DQN: ale-py's vectorized environment with the standard preprocessing.

ale-py ships the ROMs and a C++ vector environment that already does what the DQN paper
describes: up to 30 no-op starts, four frames per action with a max over the last two, 84x84
grayscale, a stack of the last four frames and FIRE after reset. This module adds the two pieces
a DQN learner needs on top, without hiding the real game from the logs:

- a lost life ends the episode *for learning* (``life_lost``), while the game, and the score,
  go on until the last life (``game_over``);
- after a lost life the next action is FIRE, so the ball is launched again instead of the game
  stalling until its time limit.

Rewards come out unclipped: the runner clips them to their sign for learning only, and logs the
real score.
"""

from __future__ import annotations

import difflib
import re
from typing import NamedTuple

import numpy as np

FRAME_SHAPE = (84, 84)
STACK = 4
MAX_FRAMES = 108_000  # 30 minutes of play at 60 frames per second, later work's episode cap


class Step(NamedTuple):
    """What one step of all environments returns."""

    observations: np.ndarray  # uint8 [n, 4, 84, 84]; after a game ends, the next game's first
    rewards: np.ndarray  # float32 [n], the game's own reward (unclipped)
    game_over: np.ndarray  # bool [n]: the game ended (last life lost)
    truncated: np.ndarray  # bool [n]: the game hit the frame limit
    life_lost: np.ndarray  # bool [n]: a life was lost and the game goes on
    actions: np.ndarray  # int [n]: the actions actually taken (FIRE replaces the agent's choice)
    screens: np.ndarray | None = None  # uint8 [n, 210, 160, 3] colour screens, when asked for


def rom_id(game: str) -> str:
    """ale-py's ROM name for a game written as ``Breakout``, ``MsPacman`` or ``ms_pacman``."""
    from ale_py import roms

    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", game.strip()).lower().replace("-", "_")
    known = roms.get_all_rom_ids()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"unknown Atari game {game!r}{hint} (ale-py knows {len(known)} games, "
            "see ale_py.roms.get_all_rom_ids())"
        )
    return name


class AtariEnv:
    """``num_envs`` copies of one Atari game, stepped together, preprocessed as in the paper."""

    def __init__(
        self,
        game: str = "Breakout",
        num_envs: int = 1,
        sticky_actions: bool = False,
        noop_max: int = 30,
        max_frames: int = MAX_FRAMES,
        num_threads: int = 1,
        screens: bool = False,
    ):
        from ale_py.vector_env import AtariVectorEnv

        self.game = rom_id(game)
        self.num_envs = num_envs
        # With screens, ale-py returns colour screens and we preprocess them ourselves, exactly
        # as it would (luminance, area resize; within one grey level), to show what was played.
        self.screens = screens
        self.env = AtariVectorEnv(
            self.game,
            num_envs,
            # One emulator thread: on a small CPU, more fight TensorFlow's threads for the cores
            # (measured: 5% more training steps per second on 2 cores than one per game).
            num_threads=num_threads,
            img_height=210 if screens else FRAME_SHAPE[0],
            img_width=160 if screens else FRAME_SHAPE[1],
            grayscale=not screens,
            stack_num=1 if screens else STACK,
            frameskip=4,
            maxpool=True,
            noop_max=noop_max,
            use_fire_reset=True,
            episodic_life=False,  # life losses are reported by us, the game is not reset
            reward_clipping=False,  # the log shows the real score; the learner clips
            repeat_action_probability=0.25 if sticky_actions else 0.0,
            max_num_frames_per_episode=max_frames,
            # A finished game restarts in the same step: every step yields one transition.
            autoreset_mode="SameStep",
        )
        meanings = [a.name for a in self.env.ale.get_action_set()]
        self.action_meanings = meanings
        self.n_actions = len(meanings)
        self.fire = meanings.index("FIRE") if "FIRE" in meanings else None
        self.obs_shape = (STACK, *FRAME_SHAPE)
        self._lives = np.zeros(num_envs, dtype=np.int64)
        self._needs_fire = np.zeros(num_envs, dtype=bool)

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start a new game in every environment; returns the first observations."""
        observations, info = self.env.reset(seed=seed)
        self._lives = info["lives"].astype(np.int64)
        self._needs_fire[:] = False
        if self.screens:
            self.current_screens = observations[:, 0]
            self._stack = np.zeros((self.num_envs, *self.obs_shape), np.uint8)
            observations = self._push(np.ones(self.num_envs, bool))
        return observations

    def _push(self, new_game: np.ndarray) -> np.ndarray:
        self._stack[new_game] = 0  # a new game starts from a zero-padded stack, as ale-py's does
        self._stack = np.roll(self._stack, -1, axis=1)
        self._stack[:, -1] = np.rint(grayscale_84(self.current_screens)).astype(np.uint8)
        return self._stack.copy()

    def step(self, actions: np.ndarray) -> Step:
        """Play one action in every environment."""
        self.send(actions)
        return self.receive()

    def send(self, actions: np.ndarray) -> None:
        """Start a step; the games run in ale-py's threads until ``receive``, so the caller can
        do other work (a gradient step) meanwhile."""
        actions = np.asarray(actions, dtype=np.int64).copy()
        if (
            actions.shape != (self.num_envs,)
            or (actions < 0).any()
            or (actions >= self.n_actions).any()
        ):
            raise ValueError(
                f"actions must be {self.num_envs} integers in [0, {self.n_actions}), got {actions}"
            )
        if self.fire is not None:
            actions[self._needs_fire] = self.fire
        self.env.send(actions)
        self._sent = actions

    def receive(self) -> Step:
        """Finish the step started by ``send``."""
        actions = self._sent
        observations, rewards, terminated, truncated, info = self.env.recv()
        lives = info["lives"].astype(np.int64)
        game_over = terminated.astype(bool)
        life_lost = (lives < self._lives) & ~game_over & ~truncated
        self._lives = lives
        self._needs_fire = life_lost
        screens = None
        if self.screens:
            self.current_screens = screens = observations[:, 0]
            observations = self._push(game_over | truncated)
        return Step(
            observations,
            rewards.astype(np.float32),
            game_over,
            truncated.astype(bool),
            life_lost,
            actions,
            screens,
        )

    def close(self) -> None:
        self.env.close()


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """Matrix that averages ``n_in`` pixels into ``n_out`` by overlapping area (OpenCV's AREA).

    In the chapter: Breakout, "What the agent sees".
    """
    edges = np.linspace(0, n_in, n_out + 1)
    pixel = np.arange(n_in)
    overlap = np.clip(
        np.minimum(edges[1:, None], pixel + 1) - np.maximum(edges[:-1, None], pixel), 0, None
    )
    return overlap / (n_in / n_out)


_ROWS, _COLS = _area_weights(210, FRAME_SHAPE[0]), _area_weights(160, FRAME_SHAPE[1])


def grayscale_84(screens: np.ndarray) -> np.ndarray:
    """Colour screens ``[..., 210, 160, 3]`` to luminance at 84x84, as the DQN paper does.

    In the chapter: Breakout, "What the agent sees".
    """
    luminance = screens.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return _ROWS @ luminance @ _COLS.T


def raw_frame(game: str = "Breakout", seed: int = 0, steps: int = 25) -> np.ndarray:
    """An RGB screen (210x160x3) after FIRE and ``steps`` random actions: what a player sees."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    env = gym.make(f"ALE/{game}-v5", repeat_action_probability=0.0)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    frame, *_ = env.step(1 if "FIRE" in env.unwrapped.get_action_meanings() else 0)
    for _ in range(steps):
        frame, *_ = env.step(env.action_space.sample())
    env.close()
    return frame


def preprocess_book(frame: np.ndarray) -> np.ndarray:
    """The book's preprocessing: mean of the colour channels, every second pixel (105x80)."""
    return frame[::2, ::2].mean(axis=2).astype(np.uint8)
