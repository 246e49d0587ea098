"""C51: the categorical projection, the target distribution, the loss, and an agent that learns."""

import numpy as np
import pytest
from tiny import CATCH_LEARNS

from rlbook import c51, catch, dqn
from rlbook._keras import tf
from rlbook.catch import SIZE
from rlbook.dqn import DQNAgent, DQNConfig
from rlbook.evaluate import evaluate
from rlbook.replay import Batch
from rlbook.train import train

FIVE = c51.support(5, -2.0, 2.0)  # atoms -2, -1, 0, 1, 2: one apart


def _project(rewards, terminals, discount, next_probs):
    return c51.project(
        FIVE,
        tf.constant(rewards, tf.float32),
        tf.constant(terminals, tf.float32),
        discount,
        tf.constant(next_probs, tf.float32),
    ).numpy()


def test_support_is_evenly_spaced_from_v_min_to_v_max():
    np.testing.assert_allclose(FIVE.numpy(), [-2, -1, 0, 1, 2])
    atoms = c51.support(51, -10.0, 10.0).numpy()
    assert atoms[0] == -10 and atoms[-1] == 10
    np.testing.assert_allclose(np.diff(atoms), 0.4, rtol=1e-5)


def test_a_return_between_two_atoms_is_split_by_closeness():
    # All probability on z = 0; r = 0.25 puts it at 0.25: 3/4 to atom 0, 1/4 to atom 1.
    m = _project([0.25], [0.0], 1.0, [[0, 0, 1, 0, 0]])
    np.testing.assert_allclose(m, [[0, 0, 0.75, 0.25, 0]], atol=1e-6)


def test_a_return_on_an_atom_stays_whole():
    m = _project([1.0], [0.0], 1.0, [[0, 0, 1, 0, 0]])
    np.testing.assert_allclose(m, [[0, 0, 0, 1, 0]], atol=1e-6)


def test_the_discount_shrinks_the_distribution_towards_the_reward():
    # Uniform over -2..2, halved: mass at -1, -0.5, 0, 0.5, 1.
    m = _project([0.0], [0.0], 0.5, [[0.2] * 5])
    np.testing.assert_allclose(m, [[0, 0.3, 0.4, 0.3, 0]], atol=1e-6)


def test_a_terminal_puts_all_the_probability_beside_the_reward():
    # Whatever the next state's distribution, a terminal's return is the reward alone.
    m = _project([1.0, -0.5], [1.0, 1.0], 0.99, [[0.1, 0.2, 0.3, 0.2, 0.2], [1, 0, 0, 0, 0]])
    np.testing.assert_allclose(m, [[0, 0, 0, 1, 0], [0, 0.5, 0.5, 0, 0]], atol=1e-6)


def test_returns_outside_the_support_land_on_its_end_atoms():
    m = _project([1.5, -1.0], [0.0, 0.0], 1.0, [[0, 0, 0, 0.5, 0.5], [0.5, 0.5, 0, 0, 0]])
    # 1.5 + {1, 2} = {2.5, 3.5} -> both clipped to 2; -1 + {-2, -1} = {-3, -2} -> both to -2.
    np.testing.assert_allclose(m, [[0, 0, 0, 0, 1], [1, 0, 0, 0, 0]], atol=1e-6)


def test_projection_keeps_the_probability_and_the_mean_inside_the_support():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), size=64)
    rewards = rng.uniform(-0.5, 0.5, 64)
    m = _project(rewards, np.zeros(64), 0.7, probs)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, rtol=1e-5)
    assert (m >= 0).all()
    # 0.7 * z + r stays inside [-2, 2] here, so no clipping: the mean is r + 0.7 E[z].
    np.testing.assert_allclose(m @ FIVE.numpy(), rewards + 0.7 * probs @ FIVE.numpy(), atol=1e-5)


def _logits(probs):
    return tf.math.log(tf.constant(probs, tf.float32))


def test_the_target_follows_the_action_with_the_highest_mean():
    # Action 1 has mean +1, action 0 mean -1: plain C51 follows action 1's distribution.
    next_target = _logits([[[0.5, 0.5, 1e-9, 1e-9, 1e-9], [1e-9, 1e-9, 1e-9, 1.0, 1e-9]]])
    m = c51.target_distribution(
        tf.constant([0.0]), tf.constant([0.0]), next_target, FIVE, 1.0
    ).numpy()
    np.testing.assert_allclose(m, [[0, 0, 0, 1, 0]], atol=1e-6)
    # Double: the online network prefers action 0, and the target network evaluates it.
    next_online = _logits([[[1.0, 1e-9, 1e-9, 1e-9, 1e-9], [1e-9] * 4 + [1.0]]])
    next_online = tf.reverse(next_online, axis=[1])  # now action 0 has the high mean
    m = c51.target_distribution(
        tf.constant([0.0]), tf.constant([0.0]), next_target, FIVE, 1.0, next_online
    ).numpy()
    np.testing.assert_allclose(m, [[0.5, 0.5, 0, 0, 0]], atol=1e-6)


def test_an_epsilon_target_mixes_every_actions_distribution_into_the_greedy_ones():
    next_target = _logits([[[0.5, 0.5, 1e-9, 1e-9, 1e-9], [1e-9, 1e-9, 1e-9, 1.0, 1e-9]]])
    m = c51.target_distribution(
        tf.constant([0.0]), tf.constant([0.0]), next_target, FIVE, 1.0, epsilon=0.2
    ).numpy()
    # 0.8 of the greedy action's [0, 0, 0, 1, 0] and 0.2 of the actions' mean [.25, .25, 0, .5, 0].
    np.testing.assert_allclose(m, [[0.05, 0.05, 0, 0.9, 0]], atol=1e-6)
    # Its mean is the epsilon-greedy policy's value, as a Q-value agent's target would take it.
    q = c51.expected_q(next_target, FIVE)
    mixed = dqn.bellman_target(tf.constant([0.0]), tf.constant([0.0]), q, 1.0, epsilon=0.2)
    np.testing.assert_allclose(m @ FIVE.numpy(), mixed.numpy(), atol=1e-5)


def test_expected_q_is_each_actions_mean_return():
    logits = _logits([[[0.5, 0, 0, 0, 0.5], [0, 0, 0, 0.25, 0.75]]])
    np.testing.assert_allclose(c51.expected_q(logits, FIVE).numpy(), [[0.0, 1.75]], atol=1e-6)


def test_cross_entropy_is_smallest_where_the_prediction_is_the_target():
    target = tf.constant([[0.1, 0.2, 0.4, 0.2, 0.1]])
    at_target = c51.cross_entropy(target, tf.math.log(target)).numpy()
    entropy = -(target.numpy() * np.log(target.numpy())).sum()
    np.testing.assert_allclose(at_target, [entropy], rtol=1e-5)
    logits = tf.Variable(tf.zeros([1, 5]))
    with tf.GradientTape() as tape:
        loss = c51.cross_entropy(target, logits)
    # The gradient of cross-entropy in the logits is the prediction minus the target.
    np.testing.assert_allclose(tape.gradient(loss, logits).numpy(), 0.2 - target.numpy(), atol=1e-6)
    assert c51.cross_entropy(target, logits).numpy() > at_target


def _c51_agent(**config):
    """A small C51 agent whose every output is zero: uniform distributions, Q = mean(atoms)."""
    config = DQNConfig(
        game="Catch", network="small", buffer_size=1000, distributional=True, **config
    )
    agent = DQNAgent(config, (4, 10, 10), 3)
    for w in agent.online.weights:
        w.assign(tf.zeros_like(w))
    agent.sync_target()
    return agent


def test_a_c51_agent_acts_on_the_mean_of_its_distributions():
    agent = _c51_agent(atoms=5, v_min=-2.0, v_max=2.0)
    # Action 2's distribution leans to high returns: its logits rise along the atoms.
    bias = np.zeros((3, 5), np.float32)
    bias[2] = np.arange(5)
    agent.online.get_layer("q_values").bias.assign(bias.ravel())
    obs = np.zeros((3, 4, 10, 10), np.uint8)
    probs, atoms = agent.distribution(obs)
    assert probs.shape == (3, 3, 5)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(agent.q_values(obs), probs @ atoms, rtol=1e-5, atol=1e-6)
    varied = np.random.default_rng(0).integers(0, 255, (5, 4, 10, 10), dtype=np.uint8)
    in_chunks, _ = agent.distribution(varied, chunk=2)  # 2 + 2 + 1 observations
    np.testing.assert_allclose(in_chunks, agent.distribution(varied)[0], rtol=1e-5, atol=1e-7)
    assert in_chunks.shape == (5, 3, 5)
    actions, max_q = agent.act(obs, 0.0, np.random.default_rng(0))
    assert (actions == 2).all() and (max_q > 1.0).all()


def test_a_c51_update_starts_at_log_atoms_and_moves_the_mean_to_the_reward():
    agent = _c51_agent(learning_rate=0.1, adam=True)  # only the output bias can learn here
    rng = np.random.default_rng(0)
    states = rng.integers(0, 255, (32, 4, 10, 10), dtype=np.uint8)
    ones = np.ones(32, np.float32)
    batch = Batch(states, np.ones(32, np.int32), ones, states, ones)  # terminal: return 1
    loss, q = agent.update(batch)
    # Uniform over 51 atoms against any target: the cross-entropy is log 51; the mean is 0.
    assert loss == pytest.approx(np.log(51), rel=1e-5) and q == pytest.approx(0.0, abs=1e-5)
    for _ in range(100):
        agent.update(batch)
    assert agent.q_values(states)[:, 1].mean() == pytest.approx(1.0, abs=0.15)


def test_a_distribution_from_a_q_value_agent_is_refused():
    agent = DQNAgent(DQNConfig(game="Catch", network="small", buffer_size=1000), (4, 10, 10), 3)
    with pytest.raises(ValueError, match="distributional"):
        agent.distribution(np.zeros((1, 4, 10, 10), np.uint8))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"atoms": 1}, "atoms must be >= 2"),
        ({"v_min": 5.0, "v_max": 5.0}, "v_min"),
        ({"loss": "mse"}, "cross-entropy"),
    ],
)
def test_a_c51_config_refuses_what_cannot_work(bad, message):
    with pytest.raises(ValueError, match=message):
        DQNConfig(distributional=True, **bad)


@pytest.fixture(scope="module")
def catch_c51(tmp_path_factory):
    """C51 trained on Catch twice, alike but for the target's policy at s': greedy, as
    Q-learning takes it, and epsilon-greedy with epsilon 0.3 (``target_epsilon``). The update is
    a plain graph, not timed against XLA, so that a busy machine cannot change the run."""
    agents = {}
    for epsilon in (0.0, 0.3):
        config = DQNConfig(
            **{**CATCH_LEARNS, "compile": "graph"},
            distributional=True,
            v_min=-2.0,
            v_max=2.0,
            target_epsilon=epsilon,
        )
        agents[epsilon] = train(config, tmp_path_factory.mktemp("catch") / "run", progress=False)
    return agents


def test_c51_learns_catch_to_near_optimal(catch_c51):
    """C51 on the same small network learns Catch as DQN does, to within a margin of optimal."""
    learned = evaluate(catch_c51[0.0], "Catch", episodes=200, epsilon=0.0, seed=5, progress=False)
    assert learned.mean() >= 0.9, learned.mean()  # optimum 1.0; a random agent scores -0.6


def _catch_values(epsilon: float, ball_row: int, discount: float = 0.99) -> np.ndarray:
    """Exact values ``[ball_col, paddle]`` of Catch's states for the best policy whose later
    actions are epsilon-greedy (expected SARSA's fixed point), by backward induction."""
    q = np.zeros((SIZE, SIZE, 3))  # [ball_col, paddle, action], the ball in row `row`, to move
    for row in range(SIZE - 2, ball_row - 1, -1):
        later = q.copy()
        for col, paddle, action in np.ndindex(SIZE, SIZE, 3):
            moved = min(max(paddle + action - 1, 1), SIZE - 2)
            if row == SIZE - 2:  # this step ends the game
                q[col, paddle, action] = 1.0 if abs(col - moved) <= 1 else -1.0
            else:
                after = later[col, moved]
                value = (1 - epsilon) * after.max() + epsilon * after.mean()
                q[col, paddle, action] = discount * value
    return q.max(axis=-1)[:, 1 : SIZE - 1]


def test_c51_with_a_target_epsilon_learns_catch_and_the_epsilon_greedy_values(catch_c51):
    """Bootstrapping on the epsilon-greedy policy's return still learns Catch near-optimally,
    and each agent predicts its own target policy's values, exact ones computed here."""
    agent = catch_c51[0.3]
    learned = evaluate(agent, "Catch", episodes=200, epsilon=0.0, seed=5, progress=False)
    assert learned.mean() >= 0.9, learned.mean()
    # The ball three rows down, in every column, the paddle anywhere: six moves to go.
    states = np.concatenate(
        [catch.observation(3, col, paddle) for col in range(SIZE) for paddle in range(1, SIZE - 1)]
    )
    epsilon_greedy, greedy = _catch_values(0.3, 3).mean(), _catch_values(0.0, 3).mean()
    assert greedy - epsilon_greedy > 0.2  # 0.90 against 0.66: the test can tell them apart
    predicted = {e: a.q_values(states).max(axis=1).mean() for e, a in catch_c51.items()}
    assert abs(predicted[0.3] - epsilon_greedy) < 0.1, (predicted, epsilon_greedy)
    assert abs(predicted[0.0] - greedy) < 0.1, (predicted, greedy)
    assert predicted[0.0] - predicted[0.3] > 0.15, predicted  # 0.88 against 0.65 here


def test_the_epsilon_target_agent_scores_more_when_it_acts_at_random_now_and_then(catch_c51):
    """Q-learning's values hold for a policy that never slips: to them, moving now and moving at
    the last moment are worth the same, so its agent may wait. The one that learned what a slip
    costs moves in time."""
    scores = {
        epsilon: evaluate(agent, "Catch", episodes=1000, epsilon=0.3, seed=7, progress=False)
        for epsilon, agent in catch_c51.items()
    }
    # Training seeds 0 to 3 of this fixture: 0.81 to 0.83 against 0.68 to 0.76 (standard errors
    # about 0.02), so at least 0.07 more.
    assert scores[0.3].mean() - scores[0.0].mean() >= 0.03, {e: s.mean() for e, s in scores.items()}
