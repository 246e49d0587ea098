import gymnasium as gym
import numpy as np
import pytest

from rlbook import planning
from rlbook.episodes import success_rate
from rlbook.qnetwork import QNetworkAgent, QNetworkConfig, train_side_by_side


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


def test_exploration_draws_are_what_the_generator_gives_call_by_call():
    from rlbook._keras import tf
    from rlbook.lake_graph import _exploration_draws

    for seed in (0, 7):
        rng = tf.random.Generator.from_seed(seed)
        rng.uniform([5])  # a generator part-way through its stream
        before = rng.state.numpy().copy()
        draws, actions = _exploration_draws(rng, 40, 4)
        np.testing.assert_array_equal(rng.state.numpy(), before)  # nothing drawn from it
        for step in range(40):
            assert draws[step] == rng.uniform([]).numpy()
            assert actions[step] == rng.uniform([], 0, 4, tf.int32).numpy()


def test_book_epsilon_of_each_episode():
    epsilons = QNetworkConfig().epsilons(52)
    assert epsilons.dtype == np.float32 and len(epsilons) == 52
    assert epsilons[0] == np.float32(0.1) and epsilons[50] == np.float32(0.1)
    assert epsilons[51] == np.float32(1 / 11)  # episode 51 follows the end of episode 50


def _learn_step_by_step(seed: int, episodes: int):
    """The chapter's Q-network as plain code: gymnasium's step, one update per step in numpy."""
    from rlbook._keras import tf

    env = gym.make("FrozenLake-v1")
    cfg = QNetworkConfig(seed=seed)
    w = QNetworkAgent(env, cfg).q_table  # the same initial weights
    rng = tf.random.Generator.from_seed(seed)
    rewards, lengths = [], []
    state, _ = env.reset(seed=seed)
    for epsilon in cfg.epsilons(episodes):
        total, length, done = 0.0, 0, False
        while not done:
            explore = rng.uniform([]).numpy() < epsilon
            random_action = int(rng.uniform([], 0, 4, tf.int32))
            action = random_action if explore else int(w[state].argmax())
            next_state, reward, terminated, truncated, _ = env.step(action)
            target = np.float32(reward) + (
                0 if terminated else np.float32(0.99) * w[next_state].max()
            )
            w[state, action] -= np.float32(0.1) * -(np.float32(2) * (target - w[state, action]))
            state, total, length = next_state, total + reward, length + 1
            done = terminated or truncated
        rewards.append(total)
        lengths.append(length)
        state, _ = env.reset()
    return rewards, lengths, w


def test_the_graph_plays_and_learns_as_gymnasium_step_by_step():
    rewards, lengths, w = _learn_step_by_step(seed=3, episodes=150)
    agent = QNetworkAgent(gym.make("FrozenLake-v1"), QNetworkConfig(seed=3))
    history = agent.train(episodes=150, progress=False)
    assert history.lengths == lengths and history.rewards == rewards
    assert sum(lengths) > 1000  # long enough to have slipped and explored many times
    # XLA may fuse w - lr * g into one multiply-add: the same weights to within a rounding.
    np.testing.assert_allclose(agent.q_table, w, rtol=0, atol=1e-6)


def test_side_by_side_seeds_learn_what_each_learns_alone():
    config = QNetworkConfig(episodes=120)
    together = train_side_by_side(config, seeds=[0, 5, 9], score_every=50, progress=False)
    for k, seed in enumerate([0, 5, 9]):
        env = gym.make("FrozenLake-v1")
        alone = QNetworkAgent(env, QNetworkConfig(episodes=120, seed=seed))
        history = alone.train(progress=False)
        assert together.histories[k].lengths == history.lengths
        assert together.histories[k].rewards == history.rewards
        np.testing.assert_allclose(together.q_tables[k], alone.q_table, rtol=0, atol=1e-6)
        assert sorted(together.scores[k]) == [50, 100, 120]
        assert together.scores[k][120] == planning.policy_success_rate(env, alone.policy)
    rows = together.results("agent=qnetwork")
    assert len(rows) == 9 and rows[0] == {
        "setting": "agent=qnetwork",
        "seed": 0,
        "step": 50,
        "score": together.scores[0][50],
    }


def test_side_by_side_seeds_learn_to_beat_a_random_policy_clearly():
    result = train_side_by_side(QNetworkConfig(episodes=1000), seeds=[0, 1], progress=False)
    final = [scores[1000] for scores in result.scores]
    assert min(final) > 0.5, final  # a random walk succeeds about 1.5% of the time


def test_qnetwork_needs_a_transition_table():
    class NoTable(gym.Env):
        observation_space, action_space = gym.spaces.Discrete(3), gym.spaces.Discrete(2)

    with pytest.raises(ValueError, match="transition table"):
        QNetworkAgent(NoTable())


def test_a_wrapper_that_acts_on_reset_sees_every_episode_and_the_same_learning():
    class Watch(gym.Wrapper):
        def reset(self, **kwargs):
            policies.append(agent.policy.copy())
            return self.env.reset(**kwargs)

    policies = []
    agent = QNetworkAgent(Watch(gym.make("FrozenLake-v1")), QNetworkConfig(seed=4))
    watched = agent.train(episodes=40, progress=False)
    assert len(policies) == 41  # the first reset, then one after every episode
    plain = QNetworkAgent(gym.make("FrozenLake-v1"), QNetworkConfig(seed=4))
    alone = plain.train(episodes=40, progress=False)
    assert watched.lengths == alone.lengths and watched.rewards == alone.rewards
    np.testing.assert_array_equal(policies[-1], plain.policy)
