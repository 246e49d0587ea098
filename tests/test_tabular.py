import gymnasium as gym
import numpy as np
import pytest

from rlbook import envs, planning
from rlbook.episodes import success_rate
from rlbook.tabular import TabularConfig, TabularQ, q_learning_update


class TwoStateMDP(gym.Env):
    """State 0 --a=1--> state 1 (reward 0); state 1 --any--> terminal (reward 1); a=0 stays."""

    observation_space = gym.spaces.Discrete(2)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = 0
        return 0, {}

    def step(self, action):
        if self.s == 1:
            return 1, 1.0, True, False, {}
        self.s = int(action)
        return self.s, 0.0, False, False, {}


def test_q_learning_update_moves_towards_the_bellman_target():
    Q = np.array([[0.0, 0.0], [0.5, 1.0]])
    td = q_learning_update(Q, s=0, a=1, r=0.0, s_next=1, terminated=False, lr=0.5, discount=0.9)
    assert td == pytest.approx(0.9)  # target 0 + 0.9 * max(0.5, 1.0)
    assert Q[0, 1] == pytest.approx(0.45)
    td = q_learning_update(Q, s=1, a=0, r=1.0, s_next=0, terminated=True, lr=0.5, discount=0.9)
    assert td == pytest.approx(0.5)  # terminal: no bootstrap from Q[0]
    assert Q[1, 0] == pytest.approx(0.75)


def test_tabular_agent_solves_the_two_state_mdp():
    agent = TabularQ(TwoStateMDP(), TabularConfig(learning_rate=0.5, discount=0.9, seed=0))
    agent.train(episodes=200, progress=False)
    assert agent.Q[0, 1] == pytest.approx(0.9, abs=1e-3)  # gamma * 1
    assert agent.Q[1].max() == pytest.approx(1.0, abs=1e-3)
    assert agent.policy[0] == 1


def test_value_iteration_matches_hand_computed_values():
    # Two-state chain: from state 0, action 1 reaches state 1 w.p. 1; state 1 pays 1 and ends.
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 0] = 1.0
    R = np.array([[0.0, 0.0], [1.0, 1.0]])
    done = np.zeros((2, 2, 2), dtype=bool)
    done[1, :, 0] = True
    V, policy = planning.value_iteration(P, R, done, discount=0.9)
    np.testing.assert_allclose(V, [0.9, 1.0], atol=1e-8)
    assert policy[0] == 1
    V, _ = planning.value_iteration(P, R, done, discount=1.0, horizon=1)
    np.testing.assert_allclose(V, [0.0, 1.0])


def test_frozenlake_optimum_is_0_744():
    env = gym.make("FrozenLake-v1")
    assert planning.optimal_success_rate(env) == pytest.approx(0.7442, abs=5e-4)


def test_same_seed_same_curve_and_table():
    env = gym.make("FrozenLake-v1")
    runs = [TabularQ(env, TabularConfig(seed=3)) for _ in range(2)]
    histories = [agent.train(episodes=300, progress=False) for agent in runs]
    assert histories[0].rewards == histories[1].rewards
    assert histories[0].lengths == histories[1].lengths
    np.testing.assert_array_equal(runs[0].Q, runs[1].Q)
    other = TabularQ(env, TabularConfig(seed=4))
    assert other.train(episodes=300, progress=False).lengths != histories[0].lengths


def test_tabular_defaults_learn_frozenlake_near_the_optimum():
    env = gym.make("FrozenLake-v1")
    exact = []
    for seed in range(5):
        agent = TabularQ(env, TabularConfig(seed=seed))
        agent.train(progress=False)
        exact.append(planning.policy_success_rate(env, agent.policy))
    assert np.median(exact) >= 0.70, exact
    # The exact figure is what 5,000 played episodes measure, up to sampling noise (sd ~0.006).
    played = success_rate(env, agent.policy, episodes=5000, seed=123)
    assert played == pytest.approx(exact[-1], abs=0.03)


def test_tabular_agent_rejects_continuous_observations():
    with pytest.raises(ValueError, match="discrete observation space"):
        TabularQ(gym.make("CartPole-v1"))


@pytest.mark.parametrize("episodes", [0, -5, 2.5])
def test_non_positive_episode_count_is_refused(episodes):
    agent = TabularQ(gym.make("FrozenLake-v1"))
    with pytest.raises(ValueError, match="episodes must be a positive integer"):
        agent.train(episodes=episodes, progress=False)


def test_unknown_env_id_names_it_and_suggests():
    with pytest.raises(ValueError, match=r"unknown environment 'FrozenLake-v9'.*FrozenLake-v1"):
        envs.make("FrozenLake-v9")
