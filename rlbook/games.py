"""The pixel games a DQN plays, by name: an Atari game through ale-py, or Catch."""

from __future__ import annotations


def make_game(game: str, num_envs: int = 1, sticky_actions: bool = False, noop_max: int = 30):
    """The vectorized pixel game a DQN run plays: an Atari game (by ale-py name) or ``"Catch"``."""
    if game.lower() == "catch":
        from rlbook.catch import CatchEnv

        return CatchEnv(num_envs)
    from rlbook.atari import AtariEnv

    return AtariEnv(game, num_envs, sticky_actions=sticky_actions, noop_max=noop_max)
