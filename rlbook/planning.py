"""The best any agent can do: value iteration on the environment's own transition table.

FrozenLake publishes its dynamics as ``env.unwrapped.P[state][action] = [(prob, next, reward,
terminated), ...]``. With them we compute, without any learning, the highest success rate a
policy can reach within the episode's step limit: the ceiling the learning agents are measured
against (0.744 on the slippery 4x4 lake with 100 steps).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np


def transition_arrays(env: gym.Env) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dynamics as arrays: ``P[s, a, s']``, expected reward ``R[s, a]``, ``done[s, a, s']``."""
    table = getattr(env.unwrapped, "P", None)
    if table is None:
        raise ValueError(f"{env} publishes no transition table (env.unwrapped.P)")
    n_states, n_actions = len(table), len(table[0])
    P = np.zeros((n_states, n_actions, n_states))
    R = np.zeros((n_states, n_actions))
    done = np.zeros((n_states, n_actions, n_states), dtype=bool)
    for s in range(n_states):
        for a in range(n_actions):
            for prob, s_next, reward, terminated in table[s][a]:
                P[s, a, s_next] += prob
                R[s, a] += prob * reward
                done[s, a, s_next] |= bool(terminated)
    return P, R, done


def value_iteration(
    P: np.ndarray,
    R: np.ndarray,
    done: np.ndarray,
    discount: float = 1.0,
    horizon: int | None = None,
    tol: float = 1e-10,
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal state values and a greedy policy, by Bellman backups.

    ``horizon`` runs exactly that many (the best expected return within ``horizon`` steps, and
    the first step's policy); without it, backups repeat until they move less than ``tol``.

    In the chapter: FrozenLake, "How well can anyone do?".
    """
    if not 0.0 <= discount <= 1.0:
        raise ValueError(f"discount must lie in [0, 1], got {discount}")
    if horizon is None and discount >= 1.0:
        raise ValueError("an infinite horizon needs discount < 1; pass horizon= for discount 1")
    continuing = P * ~done
    V = np.zeros(P.shape[0])
    for _ in range(horizon if horizon is not None else 100_000):
        Q = R + discount * continuing @ V
        V_new = Q.max(axis=1)
        converged = np.max(np.abs(V_new - V)) < tol
        V = V_new
        if horizon is None and converged:
            break
    Q = R + discount * continuing @ V
    return V, Q.argmax(axis=1)


def optimal_success_rate(env: gym.Env) -> float:
    """Highest probability of reaching the goal from the start within the env's step limit."""
    P, R, done = transition_arrays(env)
    horizon = env.spec.max_episode_steps if env.spec and env.spec.max_episode_steps else 100
    V, _ = value_iteration(P, R, done, discount=1.0, horizon=horizon)
    start = np.flatnonzero(np.asarray(env.unwrapped.initial_state_distrib) > 0)
    return float(np.asarray(env.unwrapped.initial_state_distrib)[start] @ V[start])


def policy_success_rate(env: gym.Env, policy: np.ndarray) -> float:
    """Exact probability that a fixed policy reaches the goal within the env's step limit."""
    P, R, done = transition_arrays(env)
    horizon = env.spec.max_episode_steps if env.spec and env.spec.max_episode_steps else 100
    states = np.arange(P.shape[0])
    P_pi, R_pi = (P * ~done)[states, policy], R[states, policy]
    V = np.zeros(P.shape[0])
    for _ in range(horizon):
        V = R_pi + P_pi @ V
    return float(np.asarray(env.unwrapped.initial_state_distrib) @ V)
