"""Scoring an agent as the DQN paper did, so that its numbers compare with published ones.

The protocol (Mnih et al. 2015): epsilon-greedy with epsilon 0.05, up to 30 no-op actions at
the start of each game, the game's own score, no sticky actions. Games are capped at 108,000
frames (30 minutes of play, 27,000 agent steps), the cap of later work (Machado et al. 2018,
Dopamine, CleanRL); the 2015 paper stopped each game at 5 minutes (``PAPER_MAX_FRAMES``). rlbook's
shipped Breakout agent played about a third of its late training games longer than that, so a
score to set beside the paper's is measured with ``max_frames=PAPER_MAX_FRAMES``.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from rlbook.games import make_game

PAPER_MAX_FRAMES = 18_000  # the 2015 paper's 5 minutes of play at 60 frames per second


def evaluate(
    agent,
    game: str = "Breakout",
    episodes: int = 30,
    epsilon: float = 0.05,
    noop_max: int = 30,
    seed: int = 1,
    num_envs: int = 8,
    progress: bool = True,
    max_frames: int | None = None,
) -> np.ndarray:
    """Real game scores of ``episodes`` games; ``agent=None`` plays uniformly at random.

    ``max_frames`` caps each game (``None``: the game's own cap, 108,000 frames on Atari;
    ``PAPER_MAX_FRAMES`` for the 2015 paper's 5 minutes); a capped game scores what it had.

    Games run ``num_envs`` at a time; each environment plays a fixed share of the games, so
    long games are not crowded out by short ones.
    """
    if episodes <= 0:
        raise ValueError(f"episodes must be positive, got {episodes}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must lie in [0, 1], got {epsilon}")
    num_envs = min(num_envs, episodes)
    env = make_game(game, num_envs, sticky_actions=False, noop_max=noop_max, max_frames=max_frames)
    try:
        if agent is not None and tuple(agent.obs_shape) != tuple(env.obs_shape):
            raise ValueError(f"the agent sees {agent.obs_shape}, but {game} gives {env.obs_shape}")
        if agent is not None and agent.n_actions != env.n_actions:
            raise ValueError(f"the agent has {agent.n_actions} actions, {game} has {env.n_actions}")
        share = np.full(num_envs, episodes // num_envs) + (
            np.arange(num_envs) < episodes % num_envs
        )
        desc = f"evaluating on {game}"
        with tqdm(total=episodes, desc=desc, unit="game", disable=not progress) as bar:
            return play_games(agent, env, share, epsilon, seed, on_game=bar.update)
    finally:
        env.close()


def play_games(agent, env, share, epsilon: float, seed: int, on_game=lambda n: None) -> np.ndarray:
    """Each game's real score, until environment ``i`` has played ``share[i]`` games.

    The protocol in a loop: epsilon-greedy actions, games that ``env`` starts with random no-ops,
    and the game's own points, summed unclipped. ``agent=None`` plays uniformly at random.

    In the chapter: Breakout, "How good is it? The paper's protocol".
    """
    rng = np.random.default_rng(seed)
    observations = env.reset(seed=seed)
    running, scores = np.zeros(len(share)), [[] for _ in share]
    while any(len(s) < k for s, k in zip(scores, share, strict=True)):
        if agent is None:
            actions = rng.integers(env.n_actions, size=len(share))
        else:
            actions, _ = agent.act(observations, epsilon, rng)
        out = env.step(actions)
        running += out.rewards
        for i in np.flatnonzero(out.game_over | out.truncated):
            if len(scores[i]) < share[i]:
                scores[i].append(running[i])
                on_game(1)
            running[i] = 0.0
        observations = out.observations
    return np.array([score for env_scores in scores for score in env_scores])


def summary(scores: np.ndarray, game: str = "") -> str:
    """``Breakout: 12.3 +/- 4.5 (mean +/- std over 30 games; min 3, max 21)``."""
    return (
        f"{game + ': ' if game else ''}{scores.mean():.1f} +/- {scores.std():.1f} "
        f"(mean +/- std over {len(scores)} games; min {scores.min():g}, max {scores.max():g})"
    )
