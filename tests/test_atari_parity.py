"""rlbook's Breakout plays step for step like gymnasium's own Atari stack.

The same seed and the same actions go through rlbook's ``AtariEnv`` (ale-py's C++ vector
environment) and through ``BreakoutNoFrameskip-v4`` wrapped in gymnasium's
``AtariPreprocessing`` and ``FrameStackObservation``. Observations, rewards, lives, lost-life
and game-over flags must agree at every step. Where the two stacks differ by design, the
gymnasium side is aligned to rlbook's and the comment says why; nothing else is adjusted.
"""

from typing import NamedTuple

import ale_py
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

from rlbook.atari import STACK, AtariEnv

GYMNASIUM_ID = "BreakoutNoFrameskip-v4"
SEED = 0
# Random play loses the first game near step 200 with this seed; the rest begins the next one.
STEPS = 260
LIVES = 5
FIRE = 1  # Breakout's minimal action set: NOOP, FIRE, RIGHT, LEFT


class Trajectory(NamedTuple):
    """What one environment showed, step by step; index 0 of ``observations`` is the reset."""

    observations: np.ndarray  # uint8 [STEPS + 1, 4, 84, 84]
    actions: np.ndarray  # int [STEPS], the actions the game received
    rewards: np.ndarray  # float [STEPS], unclipped
    lives: np.ndarray  # int [STEPS], lives left after the step (a new game's after a game over)
    life_lost: np.ndarray  # bool [STEPS]
    game_over: np.ndarray  # bool [STEPS]


class FireOneFrameAtReset(gym.Wrapper):
    """Press FIRE for one frame after each reset of the game.

    ale-py's vector environment does this after every game reset (``use_fire_reset``, a single
    frame, not an agent step); gymnasium's ``AtariEnv`` does not, so without it the two first
    screens differ.
    """

    def reset(self, **kwargs):
        self.env.reset(**kwargs)
        observation, _, _, _, info = self.env.step(FIRE)
        return observation, info


def play_rlbook(chosen: np.ndarray) -> Trajectory:
    env = AtariEnv("Breakout", num_envs=1, noop_max=0, sticky_actions=False)
    observations = [env.reset(seed=SEED)[0]]
    steps = []  # (action, reward, lives, life_lost, game_over) per step
    left = LIVES
    for action in chosen:
        out = env.step(np.array([action]))
        # rlbook reports lives only through its flags: the count they imply.
        left = LIVES if out.game_over[0] else left - int(out.life_lost[0])
        observations.append(out.observations[0])
        steps.append((out.actions[0], out.rewards[0], left, out.life_lost[0], out.game_over[0]))
    env.close()
    return Trajectory(np.array(observations), *map(np.array, zip(*steps, strict=True)))


def play_gymnasium(chosen: np.ndarray) -> Trajectory:
    spec = gym.spec(GYMNASIUM_ID)
    assert spec.kwargs["repeat_action_probability"] == 0.0, (
        f"{GYMNASIUM_ID} has sticky actions ({spec.kwargs}); the comparison needs none"
    )
    # Both stacks pool the last two of each four frames, take ALE's own grey palette and
    # resize by area, so these settings need no aligning beyond turning no-op starts off.
    env = AtariPreprocessing(
        FireOneFrameAtReset(gym.make(GYMNASIUM_ID)),
        noop_max=0,
        frame_skip=4,
        screen_size=84,
        terminal_on_life_loss=False,
        grayscale_obs=True,
        scale_obs=False,
    )
    # ale-py starts each game's stack with zeros; gymnasium's default repeats the first frame.
    env = FrameStackObservation(env, STACK, padding_type="zero")
    observation, info = env.reset(seed=SEED)
    observations = [observation]
    steps = []  # (action, reward, lives, life_lost, game_over) per step
    left, fire_next = info["lives"], False
    for action in chosen:
        # rlbook's rule, played by hand here: the step after a lost life is FIRE.
        action = FIRE if fire_next else int(action)
        observation, reward, terminated, truncated, info = env.step(action)
        lost = info["lives"] < left and not terminated
        if terminated or truncated:
            # rlbook restarts a finished game within the same step (ale-py's SameStep
            # autoreset) and returns the next game's first observation.
            observation, info = env.reset()
        left, fire_next = info["lives"], lost
        observations.append(observation)
        steps.append((action, reward, left, lost, terminated))
    env.close()
    return Trajectory(np.array(observations), *map(np.array, zip(*steps, strict=True)))


@pytest.fixture(scope="module")
def played() -> tuple[np.ndarray, Trajectory, Trajectory]:
    gym.register_envs(ale_py)
    chosen = np.random.default_rng(SEED).integers(4, size=STEPS)
    return chosen, play_rlbook(chosen), play_gymnasium(chosen)


def test_the_run_covers_scoring_lost_lives_and_a_game_over(played):
    _, rlbook, _ = played
    assert rlbook.rewards.sum() > 0
    assert rlbook.life_lost.sum() >= LIVES - 1
    assert rlbook.game_over.sum() >= 1
    # Some steps of the next game are played too, not only its first observation.
    assert np.flatnonzero(rlbook.game_over)[0] < STEPS - 20


def test_observations_match_gymnasium_within_one_grey_level_at_every_step(played):
    _, rlbook, gymnasium = played
    assert rlbook.observations.shape == gymnasium.observations.shape == (STEPS + 1, STACK, 84, 84)
    difference = np.abs(rlbook.observations.astype(int) - gymnasium.observations)
    worst = difference.reshape(STEPS + 1, -1).max(axis=1)
    # One grey level: both resize with OpenCV's area interpolation, but not the same build.
    assert worst.max() <= 1, f"steps {np.flatnonzero(worst > 1)} differ by up to {worst.max()}"


def test_rewards_are_the_same_unclipped_points_on_the_same_steps(played):
    _, rlbook, gymnasium = played
    np.testing.assert_array_equal(rlbook.rewards, gymnasium.rewards)


def test_lives_lost_lives_and_game_overs_fall_on_the_same_steps(played):
    _, rlbook, gymnasium = played
    np.testing.assert_array_equal(rlbook.life_lost, gymnasium.life_lost)
    np.testing.assert_array_equal(rlbook.game_over, gymnasium.game_over)
    np.testing.assert_array_equal(rlbook.lives, gymnasium.lives)


def test_fire_after_a_lost_life_is_the_only_action_rlbook_changes(played):
    chosen, rlbook, gymnasium = played
    np.testing.assert_array_equal(rlbook.actions, gymnasium.actions)
    after_loss = np.zeros(STEPS, bool)
    after_loss[1:] = rlbook.life_lost[:-1]
    assert (rlbook.actions[after_loss] == FIRE).all()
    np.testing.assert_array_equal(rlbook.actions[~after_loss], chosen[~after_loss])
