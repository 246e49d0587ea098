import numpy as np
import pytest

from rlbook import dormant
from rlbook._keras import keras
from rlbook.dqn import DQNAgent, DQNConfig
from rlbook.games import make_game


@pytest.fixture
def agent():
    env = make_game("Catch", 1)
    shape, actions = env.obs_shape, env.n_actions
    env.close()
    return DQNAgent(DQNConfig(game="Catch", network="small"), shape, actions)


def test_dormant_fraction_compares_each_unit_with_the_layer_mean():
    activity = np.array([0.0, 0.05, 1.0, 2.95])  # layer mean 1
    assert dormant.dormant_fraction(activity) == 0.25
    assert dormant.dormant_fraction(activity, tau=0.1) == 0.5
    assert dormant.dormant_fraction(activity, tau=2.0) == 0.75
    assert dormant.dormant_fraction(np.zeros(8)) == 1.0
    with pytest.raises(ValueError, match="tau"):
        dormant.dormant_fraction(activity, tau=-0.1)
    for bad in (np.array([]), np.array([1.0, np.nan])):
        with pytest.raises(ValueError, match="finite mean activations"):
            dormant.dormant_fraction(bad)


def test_units_whose_bias_keeps_them_below_zero_are_found_dormant(agent):
    states = dormant.states_of_play(agent, "Catch", n=64, every=1, epsilon=1.0, seed=3)
    layer = dormant.hidden_layer(agent.online)
    kernel, bias = layer.get_weights()
    units = bias.shape[0]
    silenced = np.arange(units) % 4 == 0
    kernel, bias = np.abs(kernel), np.full(units, 0.01, np.float32)
    bias[silenced] = -1e6  # no input can lift these units above zero
    layer.set_weights([kernel, bias])
    activity = dormant.unit_activity(agent.online, states, batch=10)  # 7 batches, the last short
    assert activity.shape == (units,)
    whole = keras.Model(agent.online.inputs[0], layer.output)(states).numpy().mean(0)
    np.testing.assert_allclose(activity, whole, rtol=1e-5)
    assert np.all(activity[silenced] == 0) and np.all(activity[~silenced] > 0)
    assert dormant.dormant_fraction(activity) == pytest.approx(silenced.mean())


def test_states_of_play_keeps_one_stack_every_few_steps(agent):
    states = dormant.states_of_play(agent, "Catch", n=5, every=3, seed=0)
    assert states.shape == (5, *agent.obs_shape) and states.dtype == np.uint8
    # the same seed plays the same games, and every third of their steps is kept
    every_step = dormant.states_of_play(agent, "Catch", n=13, every=1, seed=0)
    np.testing.assert_array_equal(states, every_step[::3])
    assert len({s.tobytes() for s in every_step}) > 5  # the stacks do change as it plays


def test_bad_states_and_networks_without_a_hidden_layer_are_refused(agent):
    with pytest.raises(ValueError, match="states should be"):
        dormant.unit_activity(agent.online, np.zeros((3, 9, 9), np.uint8))
    with pytest.raises(ValueError, match="batch must be positive"):
        dormant.unit_activity(agent.online, np.zeros((3, *agent.obs_shape), np.uint8), batch=0)
    with pytest.raises(ValueError, match="n and every"):
        dormant.states_of_play(agent, "Catch", n=0)

    flat = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="flat")
    with pytest.raises(ValueError, match="no hidden Dense layer"):
        dormant.hidden_layer(flat)
    tanh = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(2)],
        name="tanh",
    )
    with pytest.raises(ValueError, match="not a ReLU layer"):
        dormant.hidden_layer(tanh)
