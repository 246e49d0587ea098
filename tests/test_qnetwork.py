import gymnasium as gym
import numpy as np
import pytest

from rlbook import planning
from rlbook.episodes import success_rate
from rlbook.qnetwork import QNetworkAgent, QNetworkConfig


def test_qnetwork_shape_and_book_initialisation():
    agent = QNetworkAgent(gym.make("FrozenLake-v1"), QNetworkConfig(seed=0))
    W = agent.q_table
    assert W.shape == (16, 4)
    assert (W >= 0).all() and (W <= 0.0125).all()
    assert not agent.model.get_layer("q_values").use_bias
    np.testing.assert_allclose(agent.q_values(5), W[5], rtol=1e-6)


def test_book_epsilon_schedule():
    cfg = QNetworkConfig()
    assert cfg.epsilon_after(0) == pytest.approx(0.1)
    assert cfg.epsilon_after(49) == pytest.approx(0.1)
    assert cfg.epsilon_after(50) == pytest.approx(1 / 11)
    assert cfg.epsilon_after(1999) == pytest.approx(1 / 49)


def test_same_seed_same_curve():
    env = gym.make("FrozenLake-v1")
    a, b = (QNetworkAgent(env, QNetworkConfig(seed=7)) for _ in range(2))
    ha, hb = a.train(episodes=60, progress=False), b.train(episodes=60, progress=False)
    assert ha.lengths == hb.lengths and ha.rewards == hb.rewards
    np.testing.assert_array_equal(a.q_table, b.q_table)


def test_qnetwork_learns_to_beat_a_random_policy_clearly():
    env = gym.make("FrozenLake-v1")
    agent = QNetworkAgent(env, QNetworkConfig(seed=0))
    agent.train(episodes=1000, progress=False)
    learned = planning.policy_success_rate(env, agent.policy)
    rng = np.random.default_rng(0)
    random_rate = success_rate(env, lambda s: int(rng.integers(4)), episodes=2000, seed=0)
    assert random_rate < 0.05
    assert learned > 0.5, learned
    assert learned > random_rate + 0.4


def test_qnetwork_rejects_bad_input():
    with pytest.raises(ValueError, match="discrete observation space"):
        QNetworkAgent(gym.make("CartPole-v1"))
    agent = QNetworkAgent(gym.make("FrozenLake-v1"))
    with pytest.raises(ValueError, match="episodes must be a positive integer"):
        agent.train(episodes=0, progress=False)
