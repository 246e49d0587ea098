"""The pixel games a DQN plays, by name: an Atari game through ale-py, or Catch."""

from __future__ import annotations


def make_game(
    game: str,
    num_envs: int = 1,
    sticky_actions: bool = False,
    noop_max: int = 30,
    max_frames: int | None = None,
):
    """The vectorized pixel game a DQN run plays: an Atari game (by ale-py name) or ``"Catch"``.

    ``max_frames`` caps an Atari game's length in frames (``None``: 108,000, 30 minutes of play).
    """
    if max_frames is not None and max_frames <= 0:
        raise ValueError(f"max_frames must be positive, got {max_frames}")
    if game.lower() == "catch":
        if max_frames is not None:
            raise ValueError("max_frames caps Atari games; a game of Catch always lasts 9 steps")
        from rlbook.catch import CatchEnv

        return CatchEnv(num_envs)
    from rlbook.atari import MAX_FRAMES, AtariEnv

    frames = MAX_FRAMES if max_frames is None else max_frames
    return AtariEnv(
        game, num_envs, sticky_actions=sticky_actions, noop_max=noop_max, max_frames=frames
    )
