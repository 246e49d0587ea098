"""Making gymnasium environments, with errors that name the problem."""

from __future__ import annotations

import difflib

import gymnasium as gym


def make(env_id: str, **kwargs) -> gym.Env:
    """``gymnasium.make`` with a helpful error for an unknown id."""
    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, list(gym.registry), n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown environment {env_id!r}{hint}")
    return gym.make(env_id, **kwargs)


def discrete_sizes(env: gym.Env) -> tuple[int, int]:
    """Number of states and actions of an env whose spaces are both ``Discrete``."""
    for name, space in (("observation", env.observation_space), ("action", env.action_space)):
        if not isinstance(space, gym.spaces.Discrete):
            raise ValueError(
                f"this agent needs a discrete {name} space (a table has one row per state and "
                f"one column per action), but {env.spec.id if env.spec else env} has {space}"
            )
    return int(env.observation_space.n), int(env.action_space.n)


def check_episodes(episodes: int) -> int:
    """Validate an episode count."""
    if not isinstance(episodes, int) or isinstance(episodes, bool) or episodes <= 0:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    return episodes


def make_game(game: str, num_envs: int = 1, sticky_actions: bool = False, noop_max: int = 30):
    """The vectorized pixel game a DQN run plays: an Atari game (by ale-py name) or ``"Catch"``."""
    if game.lower() == "catch":
        from rlbook.catch import CatchEnv

        return CatchEnv(num_envs)
    from rlbook.atari import AtariEnv

    return AtariEnv(game, num_envs, sticky_actions=sticky_actions, noop_max=noop_max)
