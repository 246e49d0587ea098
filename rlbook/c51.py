"""C51 (Bellemare et al. 2017): the return as a probability distribution on fixed atoms.

Instead of one Q-value per action, the network gives ``atoms`` logits per action: a softmax over
them is the probability of each return ``z_i`` on an evenly spaced support from ``v_min`` to
``v_max``. Q is that distribution's mean, and the agent acts on it as a DQN would. Learning moves
the predicted distribution towards the target distribution of ``r + gamma * Z(s', a*)``, first
projected back onto the support, by cross-entropy.
"""

from __future__ import annotations

from rlbook._keras import tf


def support(atoms: int, v_min: float, v_max: float) -> tf.Tensor:
    """The returns ``z_1 < ... < z_atoms`` the distribution puts its probability on."""
    return tf.linspace(tf.constant(v_min, tf.float32), v_max, atoms)


def expected_q(logits: tf.Tensor, atoms: tf.Tensor) -> tf.Tensor:
    """Q-values ``[n, actions]``: the mean of each action's distribution ``[n, actions, atoms]``."""
    return tf.reduce_sum(tf.nn.softmax(logits) * atoms, axis=-1)


def project(atoms, rewards, terminals, discount, next_probs) -> tf.Tensor:
    """The distribution of ``r + discount * (1 - done) * Z`` moved onto the atoms.

    Each shifted atom ``Tz_j = r + discount * z_j`` (clipped to ``[v_min, v_max]``) hands its
    probability ``p_j`` to the two atoms either side of it, each in proportion to how close it
    is: atom ``z_i`` receives ``p_j * max(0, 1 - |Tz_j - z_i| / dz)``. A terminal transition
    shifts every atom onto ``r``, so all the probability lands beside the reward.

    In the chapter: Breakout, "One number, or the whole distribution: C51".
    """
    delta = atoms[1] - atoms[0]
    shifted = rewards[:, None] + discount * (1.0 - terminals[:, None]) * atoms[None, :]
    shifted = tf.clip_by_value(shifted, atoms[0], atoms[-1])  # [batch, j]
    closeness = 1.0 - tf.abs(shifted[:, None, :] - atoms[None, :, None]) / delta  # [batch, i, j]
    return tf.reduce_sum(tf.clip_by_value(closeness, 0.0, 1.0) * next_probs[:, None, :], axis=-1)


def target_distribution(
    rewards, terminals, next_logits_target, atoms, discount, next_logits_online=None, epsilon=0.0
):
    """The projected distribution of ``r + discount * Z_target(s', a*)``, ``[batch, atoms]``.

    ``a*`` maximises the target network's mean return, or the online network's when
    ``next_logits_online`` is given (Double DQN's choice, as in ``rlbook.dqn.bellman_target``).
    With ``epsilon`` > 0, ``Z(s', a*)`` is the return of the epsilon-greedy policy: ``a*``'s
    distribution with weight ``1 - epsilon``, mixed with the mean of every action's (expected
    SARSA, as ``rlbook.dqn.bellman_target`` takes it).

    In the chapter: Breakout, "One number, or the whole distribution: C51".
    """
    chooser = next_logits_target if next_logits_online is None else next_logits_online
    best = tf.argmax(expected_q(chooser, atoms), axis=1, output_type=tf.int32)
    if not epsilon:
        next_probs = tf.nn.softmax(tf.gather(next_logits_target, best, axis=1, batch_dims=1))
    else:
        every = tf.nn.softmax(next_logits_target)  # [batch, actions, atoms]
        greedy = tf.gather(every, best, axis=1, batch_dims=1)
        next_probs = (1.0 - epsilon) * greedy + epsilon * tf.reduce_mean(every, axis=1)
    return project(atoms, rewards, terminals, discount, next_probs)


def cross_entropy(target_probs: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """``-sum_i m_i log p_i`` per transition: the loss that pulls ``p`` towards ``m``.

    In the chapter: Breakout, "One number, or the whole distribution: C51".
    """
    return -tf.reduce_sum(target_probs * tf.nn.log_softmax(logits), axis=-1)
