"""FrozenLake lakes that play and learn side by side inside one compiled TensorFlow graph.

Calling TensorFlow once per environment step costs far more than the step, so whole episodes
run inside one graph, and the lake's own moves run there too, read from the transition table
gymnasium publishes (``env.unwrapped.P``) and driven by the environment's own random numbers:
every lake plays and learns as it would step by step through gymnasium, with the same actions,
episodes and scores. Each lake's exploration numbers are worked out ahead, as its
``tf.random.Generator`` would draw them, so the graph needs no generator call per step. The
learning itself is ``rlbook.qnetwork``'s: ``q_values``, ``act``, ``td_target``, ``sgd_step``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from rlbook._keras import tf
from rlbook.envs import discrete_sizes
from rlbook.episodes import History
from rlbook.qnetwork import QNetworkConfig, act, build_qnetwork, q_values, sgd_step, td_target

# TensorFlow moves a Philox generator's counter on by 256 for every call that draws from it,
# whatever it draws; a lake draws twice per step (explore or not, and a random action).
COUNTER_PER_DRAW = 256
DRAWS_PER_STEP = 2
_PHILOX_M = (np.uint64(0xD2511F53), np.uint64(0xCD9E8D57))
_PHILOX_W = (np.uint64(0x9E3779B9), np.uint64(0xBB67AE85))
_LOW32 = np.uint64(0xFFFFFFFF)


def _philox_words(state: np.ndarray, calls: int) -> np.ndarray:
    """The first 32-bit word each of ``calls`` scalar draws of a Philox generator starts from.

    Philox-4x32-10 (Salmon et al. 2011) as ``tf.random.Generator`` runs it: ``state`` holds the
    128-bit counter and the 64-bit key; call k reads the counter moved on by k * 256.
    """
    state = np.asarray(state).view(np.uint64)
    low = state[0] + np.uint64(COUNTER_PER_DRAW) * np.arange(calls, dtype=np.uint64)
    high = np.full(calls, state[1])
    c = [low & _LOW32, low >> np.uint64(32), high & _LOW32, high >> np.uint64(32)]
    key = [state[2] & _LOW32, state[2] >> np.uint64(32)]
    for _ in range(10):
        p0, p1 = _PHILOX_M[0] * c[0], _PHILOX_M[1] * c[2]
        c = [
            (p1 >> np.uint64(32)) ^ c[1] ^ key[0],
            p1 & _LOW32,
            (p0 >> np.uint64(32)) ^ c[3] ^ key[1],
            p0 & _LOW32,
        ]
        key = [(k + w) & _LOW32 for k, w in zip(key, _PHILOX_W, strict=True)]
    return c[0].astype(np.uint32)


def _exploration_draws(rng: tf.random.Generator, steps: int, n_actions: int):
    """What ``rng.uniform([])`` and ``rng.uniform([], 0, n_actions, tf.int32)``, called in turn
    once per step, would give over ``steps`` steps; ``rng`` itself is left as it was.

    Drawn here, in one go, the graph needs no generator call per step and per lake.
    """
    words = _philox_words(rng.state.numpy(), DRAWS_PER_STEP * steps)
    # TensorFlow's float from 32 random bits: 23 of them as the mantissa of a number in [1, 2).
    floats = ((words[0::2] & np.uint32(0x7FFFFF)) | np.uint32(127 << 23)).view(np.float32) - 1
    return floats, (words[1::2] % np.uint32(n_actions)).astype(np.int32)


def _lake_tables(env: gym.Env) -> tuple[np.ndarray, ...]:
    """A toy-text environment's transition table as arrays ``[state, action, outcome]``.

    ``P[s][a]`` lists (probability, next state, reward, terminated); gymnasium picks the first
    outcome whose cumulative probability exceeds a uniform draw, and so does ``_lake_step``.
    Missing outcomes get a cumulative probability of -inf, which no draw is below.
    """
    table = getattr(env.unwrapped, "P", None)
    if table is None or not (env.spec and env.spec.max_episode_steps):
        raise ValueError(
            f"the Q-network plays a toy-text environment with a transition table (P) and a step "
            f"limit, such as FrozenLake-v1; {env.spec.id if env.spec else env} has "
            f"{'no step limit' if table is not None else 'no transition table'}"
        )
    n_states, n_actions = len(table), len(table[0])
    outcomes = max(len(table[s][a]) for s in table for a in table[s])
    shape = (n_states, n_actions, outcomes)
    cumulative = np.full(shape, -np.inf)
    nxt, reward, terminal = (
        np.zeros(shape, np.int32),
        np.zeros(shape, np.float32),
        np.zeros(shape, bool),
    )
    for s in range(n_states):
        for a in range(n_actions):
            found = table[s][a]
            cumulative[s, a, : len(found)] = np.cumsum([p for p, *_ in found])
            for k, (_, next_state, r, done) in enumerate(found):
                nxt[s, a, k], reward[s, a, k], terminal[s, a, k] = next_state, r, done
    start = np.cumsum(np.asarray(env.unwrapped.initial_state_distrib, dtype=float))
    return cumulative, nxt, reward, terminal, start


class LakesInOneGraph:
    """Lakes that play and learn side by side in one graph, each with its own weights and dice.

    Each lake has its weights (a slice of ``kernels``, copied into its Keras model after every
    call), its exploration generator and its environment, whose random numbers move its lake.
    A call plays until every lake has finished the episodes asked of it, starting new episodes
    inside the graph; a lake that is done waits while the others finish.
    """

    def __init__(self, envs: list[gym.Env], configs: list[QNetworkConfig]):
        cfg = configs[0]
        if any((c.learning_rate, c.discount) != (cfg.learning_rate, cfg.discount) for c in configs):
            raise ValueError("lakes side by side share their learning rate and discount")
        self.envs, self.lr, self.discount = envs, cfg.learning_rate, cfg.discount
        self.n_states, self.n_actions = discrete_sizes(envs[0])
        tables = [tf.constant(t) for t in _lake_tables(envs[0])]
        self.cumulative, self.next_state, self.reward, self.terminal, self.start = tables
        self.max_steps = envs[0].spec.max_episode_steps
        self.models = [
            build_qnetwork(self.n_states, self.n_actions, c.init_max, c.seed) for c in configs
        ]
        self.kernels = tf.Variable(
            tf.stack([m.get_layer("q_values").kernel.numpy() for m in self.models])
        )
        self.rngs = [tf.random.Generator.from_seed(c.seed) for c in configs]
        # Compiled by XLA into one native loop: run step by step, TensorFlow's own overhead
        # would cost a hundred times the arithmetic of a 16x4 network.
        self._play = tf.function(self._play_fn, jit_compile=True, reduce_retracing=True)

    def _lake_step(self, states, actions, draws):
        """Gymnasium's step: the first outcome whose cumulative chance passes the lake's draw."""
        index = tf.stack([states, actions], axis=1)
        passed = tf.gather_nd(self.cumulative, index) > draws[:, None]
        outcome = tf.argmax(tf.cast(passed, tf.int32), axis=1, output_type=tf.int32)
        index = tf.concat([index, outcome[:, None]], axis=1)
        return tuple(tf.gather_nd(t, index) for t in (self.next_state, self.reward, self.terminal))

    def _play_fn(self, states, episode, until, epsilons, explore_draws, random_actions, env_draws):
        lake = tf.range(tf.size(states))
        zeros = tf.zeros_like(states)
        rows = tf.shape(explore_draws)[1]  # no lake takes more steps than that
        rewards = tf.TensorArray(tf.float32, size=rows, element_shape=states.shape)
        lengths = tf.TensorArray(tf.int32, size=rows, element_shape=states.shape)

        def at(table, column):
            return tf.gather_nd(table, tf.stack([lake, column], axis=1))

        def body(i, states, episode, steps, used, total, length, rewards, lengths):
            playing = episode < until
            epsilon = at(epsilons, tf.minimum(episode, until - 1))
            q = q_values(self.kernels, states)
            actions = act(q, epsilon, at(explore_draws, steps), at(random_actions, steps))
            next_states, reward, terminated = self._lake_step(states, actions, at(env_draws, used))
            targets = td_target(
                reward, q_values(self.kernels, next_states), terminated, self.discount
            )
            # A lake that is done learns nothing: a target equal to its estimate has no gradient.
            targets = tf.where(playing, targets, tf.gather(q, actions, batch_dims=1))
            sgd_step(self.kernels, states, actions, targets, self.lr)
            total, length = total + reward, length + 1
            ended = playing & (terminated | (length >= self.max_steps))
            rewards = rewards.write(i, tf.where(ended, total, 0.0))
            lengths = lengths.write(i, tf.where(ended, length, 0))
            used, steps = used + tf.cast(playing, tf.int32), steps + tf.cast(playing, tf.int32)
            # Between episodes of one call, gymnasium's reset: it draws the start state as its
            # step draws the next state.
            restart = ended & (episode + 1 < until)
            start = tf.argmax(tf.cast(self.start > at(env_draws, used)[:, None], tf.int32), axis=1)
            states = tf.where(playing, next_states, states)
            states = tf.where(restart, tf.cast(start, tf.int32), states)
            used = used + tf.cast(restart, tf.int32)
            episode = episode + tf.cast(ended, tf.int32)
            total, length = tf.where(ended, 0.0, total), tf.where(ended, 0, length)
            return i + 1, states, episode, steps, used, total, length, rewards, lengths

        start = [0, states, episode, zeros, zeros, tf.zeros(tf.shape(states)), zeros]
        loop = tf.while_loop(
            lambda i, states, episode, *rest: tf.reduce_any(episode < until),
            body,
            [*start, rewards, lengths],
        )
        _, _, _, steps, used, _, _, rewards, lengths = loop
        return steps, used, rewards.stack(), lengths.stack()

    def play(self, states, done, until, epsilons: np.ndarray) -> list[History]:
        """Play lake k from ``states[k]`` until it has finished episode ``until[k]``.

        ``done[k]``: the episodes lake k finished before (they pick each episode's epsilon from
        ``epsilons[k]``). Returns each lake's new episodes. The lakes stay where their last
        episode ended; the caller resets their environments (gymnasium's own reset, which
        wrappers see) before the next call.
        """
        done, until = np.asarray(done), np.asarray(until)
        steps_bound = int((until - done).max()) * self.max_steps
        generators = [env.unwrapped.np_random for env in self.envs]
        saved = [g.bit_generator.state for g in generators]
        env_draws = np.stack([g.random(steps_bound + (until - done).max() + 1) for g in generators])
        explore = [_exploration_draws(g, steps_bound, self.n_actions) for g in self.rngs]
        steps, used, rewards, lengths = self._play(
            tf.constant(states, tf.int32),
            tf.constant(done, tf.int32),
            tf.constant(until, tf.int32),
            tf.constant(epsilons, tf.float32),
            tf.constant(np.stack([draws for draws, _ in explore])),
            tf.constant(np.stack([actions for _, actions in explore])),
            tf.constant(env_draws),
        )
        # Each lake's generators go on from the draws it used, as if it had played alone.
        for g, state, n in zip(generators, saved, used.numpy(), strict=True):
            g.bit_generator.state = state
            g.random(int(n))
        for g, n in zip(self.rngs, steps.numpy(), strict=True):
            counter = g.state.numpy()
            counter[0] += int(n) * DRAWS_PER_STEP * COUNTER_PER_DRAW
            g.state.assign(counter)
        for model, kernel in zip(self.models, self.kernels.numpy(), strict=True):
            model.get_layer("q_values").kernel.assign(kernel)
        rewards, lengths = rewards.numpy(), lengths.numpy()
        histories = []
        for k in range(len(self.envs)):
            ended = lengths[:, k] > 0
            history = History()
            for reward, length in zip(rewards[ended, k], lengths[ended, k], strict=True):
                history.record(float(reward), int(length))
            histories.append(history)
        return histories
