import numpy as np
import pytest

from rlbook.atari import AtariEnv
from rlbook.evaluate import PAPER_MAX_FRAMES, evaluate, summary


class FixedAgent:
    """Always the same action; records the epsilon it was asked to use."""

    obs_shape, n_actions = (4, 84, 84), 4

    def __init__(self, action):
        self.action, self.epsilons = action, []

    def act(self, observations, epsilon, rng):
        self.epsilons.append(epsilon)
        n = len(observations)
        explore = rng.random(n) < epsilon
        return np.where(explore, rng.integers(4, size=n), self.action), np.zeros(n)


def test_evaluation_uses_the_papers_epsilon_and_plays_exactly_n_games():
    agent = FixedAgent(action=0)
    scores = evaluate(agent, "Breakout", episodes=3, num_envs=2, progress=False)
    assert len(scores) == 3
    assert set(agent.epsilons) == {0.05}


def test_random_agent_scores_about_what_the_paper_reports():
    scores = evaluate(None, "Breakout", episodes=8, progress=False)
    assert 0 <= scores.mean() < 5  # the paper: 1.7 for a random agent


def test_noop_starts_vary_how_games_begin():
    def start_frame_numbers(noop_max):
        env = AtariEnv("Breakout", 1, noop_max=noop_max)
        numbers = {int(env.env.reset(seed=s)[1]["episode_frame_number"][0]) for s in range(8)}
        env.close()
        return numbers

    assert len(start_frame_numbers(0)) == 1
    assert len(start_frame_numbers(30)) > 1


def test_a_frame_cap_ends_each_game_and_keeps_its_score():
    steps = {}
    for cap in (None, 200):
        agent = FixedAgent(action=0)  # NOOP: the ball is launched, then missed five times
        scores = evaluate(agent, "Breakout", episodes=2, num_envs=1, progress=False, max_frames=cap)
        assert len(scores) == 2
        steps[cap] = len(agent.epsilons)
    assert steps[200] == 2 * 200 // 4  # four frames per agent step
    assert steps[None] > steps[200]
    assert PAPER_MAX_FRAMES == 5 * 60 * 60  # 5 minutes at 60 frames per second


def test_evaluation_rejects_bad_arguments():
    with pytest.raises(ValueError, match="episodes must be positive"):
        evaluate(None, "Breakout", episodes=0)
    with pytest.raises(ValueError, match="epsilon must lie"):
        evaluate(None, "Breakout", epsilon=2.0)
    with pytest.raises(ValueError, match="max_frames must be positive"):
        evaluate(None, "Breakout", max_frames=0)
    with pytest.raises(ValueError, match="max_frames caps Atari games"):
        evaluate(None, "Catch", max_frames=100)
    wrong = FixedAgent(0)
    wrong.obs_shape = (4, 10, 10)
    with pytest.raises(ValueError, match="the agent sees"):
        evaluate(wrong, "Breakout", episodes=1)


def test_summary_reads_well():
    assert summary(np.array([1.0, 3.0]), "Breakout") == (
        "Breakout: 2.0 +/- 1.0 (mean +/- std over 2 games; min 1, max 3)"
    )
