import numpy as np
import pytest

from rlbook.atari import AtariEnv, Step
from rlbook.evaluate import PAPER_MAX_FRAMES, evaluate, play_games, summary


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


def test_a_frame_cap_ends_each_game_after_its_frames():
    steps = {}
    for cap in (None, 200):
        agent = FixedAgent(action=0)  # NOOP: the ball is launched, then missed five times
        scores = evaluate(agent, "Breakout", episodes=2, num_envs=1, progress=False, max_frames=cap)
        assert len(scores) == 2
        steps[cap] = len(agent.epsilons)
    assert steps[200] == 2 * 200 // 4  # four frames per agent step
    assert steps[None] > steps[200]
    assert PAPER_MAX_FRAMES == 5 * 60 * 60  # 5 minutes at 60 frames per second


class ScriptedGame:
    """One environment whose rewards and game ends follow a script of (reward, over, cut)."""

    n_actions = 4

    def __init__(self, script):
        self.script = iter(script)

    def reset(self, seed=None):
        return np.zeros((1, 4, 84, 84), np.uint8)

    def step(self, actions):
        reward, over, cut = next(self.script)
        no = np.array([False])
        return Step(
            self.reset(), np.array([reward]), np.array([over]), np.array([cut]), no, actions
        )


def test_a_game_cut_by_the_frame_cap_scores_what_it_had():
    game = ScriptedGame(
        [(1.0, False, False), (2.0, False, True), (5.0, False, False), (0, True, False)]
    )
    scores = play_games(FixedAgent(action=0), game, np.array([2]), epsilon=0.0, seed=0)
    np.testing.assert_array_equal(scores, [3.0, 5.0])


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
