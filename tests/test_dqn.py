import dataclasses
import json

import numpy as np
import pytest

from rlbook._keras import tf
from rlbook.dqn import DQNAgent, DQNConfig, bellman_target, huber_loss
from rlbook.networks import build_network
from rlbook.replay import Batch


def test_bellman_target_stops_at_terminals():
    rewards = tf.constant([1.0, 0.0, -1.0])
    terminals = tf.constant([0.0, 1.0, 0.0])
    next_q = tf.constant([[0.5, 2.0], [9.0, 9.0], [-1.0, -3.0]])
    target = bellman_target(rewards, terminals, next_q, discount=0.9)
    np.testing.assert_allclose(target.numpy(), [1.0 + 0.9 * 2.0, 0.0, -1.0 + 0.9 * -1.0])


def test_double_dqn_target_evaluates_the_online_choice_with_the_target_net():
    rewards, terminals = tf.constant([0.0, 0.0]), tf.constant([0.0, 1.0])
    next_q_target = tf.constant([[1.0, 5.0, 3.0], [1.0, 2.0, 3.0]])
    next_q_online = tf.constant([[0.0, 0.0, 7.0], [9.0, 0.0, 0.0]])
    target = bellman_target(rewards, terminals, next_q_target, 0.5, next_q_online)
    # Online picks action 2, whose target value is 3 (plain DQN would take max 5).
    np.testing.assert_allclose(target.numpy(), [1.5, 0.0])


def test_an_epsilon_target_values_the_next_state_by_the_epsilon_greedy_policy():
    rewards, terminals = tf.constant([0.5, 0.5]), tf.constant([0.0, 1.0])
    next_q = tf.constant([[1.0, 3.0, 2.0], [1.0, 3.0, 2.0]])
    target = bellman_target(rewards, terminals, next_q, 0.9, epsilon=0.3)
    # 0.7 of the best action's 3 and 0.3 of the mean, 2; a terminal keeps its reward alone.
    np.testing.assert_allclose(target.numpy(), [0.5 + 0.9 * 2.7, 0.5], rtol=1e-6)
    # Double: the greedy share goes to the online network's choice, action 0 (worth 1).
    online = tf.constant([[9.0, 0.0, 0.0], [9.0, 0.0, 0.0]])
    target = bellman_target(rewards, terminals, next_q, 0.9, online, epsilon=0.3)
    np.testing.assert_allclose(target.numpy(), [0.5 + 0.9 * 1.3, 0.5], rtol=1e-6)
    # epsilon 1: the value of acting at random.
    uniform = bellman_target(rewards, terminals, next_q, 0.9, epsilon=1.0)
    np.testing.assert_allclose(uniform.numpy(), [0.5 + 0.9 * 2.0, 0.5], rtol=1e-6)


def test_huber_loss_is_quadratic_inside_and_linear_outside():
    errors = tf.constant([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    expected = [2.5, 0.5, 0.125, 0.0, 0.125, 0.5, 1.5]
    np.testing.assert_allclose(huber_loss(errors).numpy(), expected)


def test_epsilon_is_one_during_warmup_then_decays_linearly():
    cfg = DQNConfig(learning_starts=100, epsilon_decay_steps=1000, epsilon_end=0.1)
    assert cfg.epsilon_at(0) == 1.0 and cfg.epsilon_at(99) == 1.0
    assert cfg.epsilon_at(100) == pytest.approx(1.0)
    assert cfg.epsilon_at(600) == pytest.approx(0.55)
    assert cfg.epsilon_at(1100) == pytest.approx(0.1)
    assert cfg.epsilon_at(10**9) == pytest.approx(0.1)


def test_learning_rate_is_constant_unless_a_decay_is_asked_for():
    assert DQNConfig(learning_rate=1e-4).learning_rate_at(10**7) == 1e-4
    cfg = DQNConfig(
        learning_starts=100,
        learning_rate=1e-4,
        learning_rate_end=2e-5,
        learning_rate_decay_steps=1000,
    )
    assert cfg.learning_rate_at(0) == pytest.approx(1e-4)
    assert cfg.learning_rate_at(100) == pytest.approx(1e-4)
    assert cfg.learning_rate_at(600) == pytest.approx(6e-5)
    assert cfg.learning_rate_at(10**9) == pytest.approx(2e-5)


@pytest.mark.parametrize(
    "bad",
    [
        {"learning_rate": 0.0},
        {"learning_rate_end": -1e-5},
        {"learning_rate_decay_steps": -1},
        {"learning_rate_end": 1e-5},  # without a decay it would go unused
    ],
)
def test_config_refuses_a_bad_learning_rate_schedule(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        DQNConfig(**bad)


def test_config_defaults_are_the_papers():
    cfg = DQNConfig()
    assert (cfg.batch_size, cfg.discount, cfg.learning_rate) == (32, 0.99, 0.00025)
    assert (cfg.rmsprop_decay, cfg.train_every) == (0.95, 4)
    # The paper's 0.01 applied to a loss summed over the batch; ours is averaged (/ 32**2).
    assert cfg.rmsprop_epsilon == pytest.approx(0.01 / 32**2, rel=0.03)
    assert (cfg.target_update, cfg.epsilon_decay_steps, cfg.epsilon_end) == (10_000, 10**6, 0.1)
    assert (cfg.buffer_size, cfg.learning_starts, cfg.sticky_actions) == (400_000, 20_000, False)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("steps", 0, "steps must be positive"),
        ("network", "vgg", "unknown network 'vgg'"),
        ("buffer_size", 1001, "multiple of num_envs"),
        ("discount", 1.5, "discount"),
        ("target_epsilon", 1.5, "target_epsilon"),
        ("target_epsilon", -0.05, "target_epsilon"),
    ],
)
def test_config_rejects_bad_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        DQNConfig(**{field: value})


def test_nature_network_takes_uint8_stacks_and_has_the_papers_layers():
    model = build_network("nature", (4, 84, 84), 4)
    q = model(np.zeros((2, 4, 84, 84), np.uint8))
    assert q.shape == (2, 4) and q.dtype == tf.float32
    convs = [layer for layer in model.layers if "conv" in layer.name]
    assert [(c.filters, c.kernel_size, c.strides) for c in convs] == [
        (32, (8, 8), (4, 4)),
        (64, (4, 4), (2, 2)),
        (64, (3, 3), (1, 1)),
    ]
    assert model.count_params() == 1_686_180  # the paper's net with 4 actions


def test_nature_network_refuses_frames_too_small_for_it():
    with pytest.raises(ValueError, match="at least 36x36"):
        build_network("nature", (4, 10, 10), 3)


def _agent_with_known_q(bias, **config):
    """A small agent whose Q-values are the output bias alone (all weights zero)."""
    config = DQNConfig(game="Catch", network="small", buffer_size=1000, **config)
    agent = DQNAgent(config, (4, 10, 10), 3)
    for w in agent.online.weights:
        w.assign(tf.zeros_like(w))
    agent.online.layers[-1].bias.assign(bias)
    agent.sync_target()
    return agent


def test_act_is_greedy_at_epsilon_zero_and_uniform_at_one():
    agent = _agent_with_known_q([0.0, 2.0, 1.0])
    obs = np.zeros((500, 4, 10, 10), np.uint8)
    rng = np.random.default_rng(0)
    actions, max_q = agent.act(obs, 0.0, rng)
    assert (actions == 1).all() and np.allclose(max_q, 2.0)
    actions, _ = agent.act(obs, 1.0, rng)
    counts = np.bincount(actions, minlength=3)
    assert counts.min() > 120, counts


def test_act_refuses_wrong_shapes_and_dtypes():
    agent = _agent_with_known_q([0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="uint8 of shape"):
        agent.act(np.zeros((1, 4, 10, 10), np.float32), 0.0, np.random.default_rng())
    with pytest.raises(ValueError, match=r"got uint8 \(1, 4, 84, 84\)"):
        agent.act(np.zeros((1, 4, 84, 84), np.uint8), 0.0, np.random.default_rng())


def test_update_moves_q_towards_the_target_and_leaves_the_target_net():
    agent = _agent_with_known_q([0.0, 0.0, 0.0], learning_rate=0.01)
    rng = np.random.default_rng(0)
    states = rng.integers(0, 255, (32, 4, 10, 10), dtype=np.uint8)
    batch = Batch(
        states, np.ones(32, np.int32), np.ones(32, np.float32), states, np.ones(32, np.float32)
    )  # terminal: the target is exactly the reward, 1
    before = agent.q_values(states)[:, 1].mean()
    target_before = agent.target.get_weights()
    for _ in range(50):
        agent.update(batch)
    after = agent.q_values(states)[:, 1].mean()
    assert abs(1.0 - after) < abs(1.0 - before) / 2
    for w0, w1 in zip(target_before, agent.target.get_weights(), strict=True):
        np.testing.assert_array_equal(w0, w1)
    agent.sync_target()
    np.testing.assert_allclose(agent.target(states).numpy(), agent.q_values(states), rtol=1e-6)


@pytest.mark.parametrize(("n_step", "bootstrap"), [(1, 0.5), (3, 0.125)])
def test_update_bootstraps_n_steps_on_with_the_discount_to_the_n(n_step, bootstrap):
    agent = _agent_with_known_q([0.0, 2.0, 1.0], n_step=n_step, discount=0.5)
    assert agent.bootstrap_discount == bootstrap
    states = np.zeros((32, 4, 10, 10), np.uint8)
    zeros = np.zeros(32, np.float32)
    loss, q = agent.update(Batch(states, np.zeros(32, np.int32), zeros, states, zeros))
    # Q(s, 0) = 0 and max Q(s') = 2: the TD error is 2 * bootstrap, inside Huber's quadratic part.
    assert q == 0.0
    assert loss == pytest.approx(0.5 * (2 * bootstrap) ** 2)


def test_an_agent_with_a_target_epsilon_bootstraps_on_the_epsilon_greedy_value():
    agent = _agent_with_known_q([0.0, 2.0, 1.0], discount=0.5, target_epsilon=0.3)
    states = np.zeros((32, 4, 10, 10), np.uint8)
    zeros = np.zeros(32, np.float32)
    loss, _ = agent.update(Batch(states, np.zeros(32, np.int32), zeros, states, zeros))
    # Q(s') = [0, 2, 1]: 0.7 * 2 + 0.3 * 1 = 1.7 where Q-learning takes 2; TD error 0.5 * 1.7.
    assert loss == pytest.approx(0.5 * 0.85**2)


def test_a_config_saved_before_the_update_path_fields_loads_with_auto(tmp_path):
    fields = dataclasses.asdict(DQNConfig(game="Catch", seed=3))
    del fields["compile"], fields["precision"]
    (tmp_path / "config.json").write_text(json.dumps(fields))
    config = DQNConfig.from_json(tmp_path / "config.json")
    assert (config.compile, config.precision, config.seed) == ("auto", "float32", 3)


def test_the_agents_resolved_config_round_trips_through_json(tmp_path):
    agent = _agent_with_known_q([0.0, 0.0, 0.0], compile="graph", precision="float32")
    (tmp_path / "config.json").write_text(agent.config.to_json())
    assert DQNConfig.from_json(tmp_path / "config.json") == agent.config


def test_mse_loss_is_the_squared_td_error_without_hubers_half():
    agent = _agent_with_known_q([0.0, 2.0, 1.0], loss="mse", discount=0.5)
    states = np.zeros((32, 4, 10, 10), np.uint8)
    zeros = np.zeros(32, np.float32)
    loss, _ = agent.update(Batch(states, np.zeros(32, np.int32), zeros, states, zeros))
    assert loss == pytest.approx((2 * 0.5) ** 2)  # Huber would give half of this


def test_explore_from_start_decays_epsilon_from_step_zero_and_acts_in_warmup():
    cfg = DQNConfig(
        learning_starts=100, epsilon_decay_steps=1000, epsilon_end=0.1, explore_from_start=True
    )
    assert cfg.epsilon_at(0) == 1.0 and not cfg.acts_at_random(0)
    assert cfg.epsilon_at(50) == pytest.approx(0.955)  # still in warm-up, already decaying
    assert cfg.epsilon_at(500) == pytest.approx(0.55)
    assert cfg.epsilon_at(10**9) == pytest.approx(0.1)
    book = DQNConfig(learning_starts=100)
    assert book.acts_at_random(99) and not book.acts_at_random(100)


def test_torch_init_draws_weights_and_biases_within_one_over_root_fan_in():
    glorot = build_network("nature", (4, 84, 84), 4, seed=1)
    torch = build_network("nature", (4, 84, 84), 4, seed=1, init="torch")
    fan_ins = [4 * 8 * 8, 32 * 4 * 4, 64 * 3 * 3, 3136, 512]
    layers = [layer for layer in torch.layers if layer.weights]
    assert len(layers) == len(fan_ins)
    for layer, fan_in in zip(layers, fan_ins, strict=True):
        bound = 1 / np.sqrt(fan_in)
        kernel, bias = (w.numpy() for w in layer.weights)
        assert np.abs(kernel).max() <= bound and np.abs(bias).max() <= bound
        assert kernel.std() == pytest.approx(bound / np.sqrt(3), rel=0.1)  # uniform's spread
        assert np.abs(bias).max() > bound / 2  # not Keras' zeros
    # The 512-unit layer starts with weights about 2.3 times smaller than Glorot's.
    dense = glorot.layers[-2].kernel.numpy().std() / torch.layers[-2].kernel.numpy().std()
    assert 2.0 < dense < 2.6
    again = build_network("nature", (4, 84, 84), 4, seed=1, init="torch")
    for w0, w1 in zip(torch.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(w0, w1)


@pytest.mark.parametrize(("field", "value"), [("loss", "l1"), ("init", "he")])
def test_config_names_the_accepted_losses_and_inits(field, value):
    with pytest.raises(ValueError, match=f"unknown {field} '{value}'; choose one of"):
        DQNConfig(**{field: value})
