"""FrozenLake and gymnasium's other small discrete games: made by id, checked for table agents.

Errors name the problem. The pixel games a DQN plays are made in ``rlbook.games``.
"""

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
