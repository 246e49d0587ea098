"""Watching an agent play: one game as an animation (GIF or MP4) and as a filmstrip (PNG).

The game is played on colour screens (``AtariEnv(screens=True)``), which the agent sees through
the same preprocessing it was trained on; the recording shows what a person would see.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlbook.atari import AtariEnv


@dataclass(frozen=True)
class Game:
    """One game as played: what a person saw, and (if kept) what the agent saw at each screen."""

    screens: np.ndarray  # uint8 [T, 210, 160, 3]
    score: float
    action_meanings: list[str]  # the game's actions, in the order the agent numbers them
    life_lost: np.ndarray  # bool [T]: the action taken at this screen lost a life
    observations: np.ndarray | None = None  # uint8 [T, stack, 84, 84]: the agent's input


def play_game(
    agent,
    game: str | None = None,
    epsilon: float = 0.05,
    seed: int = 1,
    max_steps: int = 27_000,
    keep_observations: bool = False,
) -> Game:
    """Play one game with ``agent``. ``keep_observations`` keeps the agent's input at every
    screen (28 KB a step: keep ``max_steps`` modest) for looking inside its predictions."""
    game = game or agent.config.game
    if game.lower() == "catch":
        raise ValueError("play records Atari games; Catch has no screen to record")
    env = AtariEnv(game, 1, screens=True)
    rng = np.random.default_rng(seed)
    observations = env.reset(seed=seed)
    screens, lost, score = [env.current_screens[0].copy()], [], 0.0
    seen = [observations[0].copy()] if keep_observations else None
    for _ in range(max_steps):
        actions, _ = agent.act(observations, epsilon, rng)
        out = env.step(actions)
        score += float(out.rewards[0])
        lost.append(bool(out.life_lost[0] or out.game_over[0]))
        if out.game_over[0] or out.truncated[0]:
            break
        observations = out.observations
        screens.append(out.screens[0].copy())
        if keep_observations:
            seen.append(observations[0].copy())
    env.close()
    lost += [False] * (len(screens) - len(lost))  # the last screen, if the steps ran out
    return Game(
        np.stack(screens),
        score,
        env.action_meanings,
        np.array(lost),
        np.stack(seen) if keep_observations else None,
    )


def play(
    agent, game: str | None = None, epsilon: float = 0.05, seed: int = 1, max_steps: int = 27_000
) -> tuple[np.ndarray, float]:
    """Play one game; returns its colour screens ``[T, 210, 160, 3]`` and its score."""
    played = play_game(agent, game, epsilon, seed, max_steps)
    return played.screens, played.score


def save_animation(screens: np.ndarray, path: str | Path, fps: int = 30, scale: int = 2) -> Path:
    """Write screens as a GIF or an MP4 (MP4 needs ``pip install imageio[ffmpeg]``)."""
    import imageio.v3 as iio

    path = Path(path)
    frames = screens.repeat(scale, axis=1).repeat(scale, axis=2) if scale > 1 else screens
    if path.suffix.lower() == ".gif":
        # GIF delays are in hundredths of a second; every second screen keeps files small.
        iio.imwrite(path, frames[::2], duration=2000 // fps, loop=0)
    elif path.suffix.lower() == ".mp4":
        try:
            iio.imwrite(path, frames, fps=fps, codec="libx264", plugin="pyav")
        except ImportError as error:
            raise ValueError("MP4 needs PyAV: pip install av (or save a .gif)") from error
    else:
        raise ValueError(f"unknown animation format {path.suffix!r}; use .gif or .mp4")
    return path


def filmstrip(screens: np.ndarray, n: int = 8, title: str | None = None):
    """A figure of ``n`` evenly spaced screens of a game, each labelled with its step."""
    import matplotlib.pyplot as plt

    picks = np.linspace(0, len(screens) - 1, min(n, len(screens))).astype(int)
    fig, axes = plt.subplots(1, len(picks), figsize=(1.6 * len(picks), 2.6))
    for ax, i in zip(np.atleast_1d(axes), picks, strict=True):
        ax.imshow(screens[i])
        ax.set_title(f"step {i}", fontsize=8)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10, fontweight="bold")
    fig.tight_layout()
    return fig


def play_and_record(
    agent,
    out: str | Path,
    filmstrip_path: str | Path | None = None,
    epsilon: float = 0.05,
    seed: int = 1,
    max_steps: int = 27_000,
) -> list[Path]:
    """Play one game and save it as an animation (and optionally a filmstrip PNG)."""
    screens, score = play(agent, epsilon=epsilon, seed=seed, max_steps=max_steps)
    paths = [save_animation(screens, out)]
    if filmstrip_path is not None:
        fig = filmstrip(screens, title=f"{agent.config.game}: score {score:g}")
        fig.savefig(filmstrip_path)
        paths.append(Path(filmstrip_path))
    print(f"score {score:g} in {len(screens)} steps")
    return paths
