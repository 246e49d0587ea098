import numpy as np
import pytest

from rlbook.atari import AtariEnv, grayscale_84, preprocess_book, raw_frame, rom_id


def test_game_names_map_to_ale_roms_and_typos_get_suggestions():
    assert rom_id("Breakout") == "breakout"
    assert rom_id("MsPacman") == "ms_pacman"
    assert rom_id("space_invaders") == "space_invaders"
    with pytest.raises(ValueError, match=r"unknown Atari game 'Brekout'.*'breakout'"):
        rom_id("Brekout")


def test_observations_are_stacks_of_four_84x84_uint8_frames():
    env = AtariEnv("Breakout", num_envs=2)
    obs = env.reset(seed=0)
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
    # A new game's stack is zero-padded: only its newest frame is drawn.
    assert (obs[:, :3] == 0).all() and obs[:, 3].mean() > 10
    out = env.step(np.array([0, 1]))
    assert out.observations.shape == (2, 4, 84, 84) and out.rewards.dtype == np.float32
    env.close()


def test_fire_follows_a_lost_life_and_the_game_goes_on():
    env = AtariEnv("Breakout", num_envs=1)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    seen_life_loss = False
    for _ in range(5000):
        out = env.step(np.array([0]))  # NOOP: the agent never fires by itself
        if seen_life_loss:
            assert out.actions[0] == env.fire == 1  # FIRE replaced the agent's NOOP
            assert not out.game_over[0]
            break
        seen_life_loss = bool(out.life_lost[0])
        rng.random()
    assert seen_life_loss, "no life was lost in 5000 NOOP steps"


def test_a_game_ends_after_the_last_life_with_the_real_score():
    env = AtariEnv("Breakout", num_envs=1)
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    lives_lost, score = 0, 0.0
    for _ in range(20_000):
        out = env.step(rng.integers(4, size=1))
        score += out.rewards[0]
        lives_lost += int(out.life_lost[0])
        if out.game_over[0]:
            break
    assert out.game_over[0] and lives_lost == 4  # five lives: four losses, then game over
    assert out.rewards.max() <= 7 and score >= 0  # unclipped Breakout bricks are worth 1 to 7
    assert (out.observations[0, :3] == 0).all()  # the next game's zero-padded first stack


def test_colour_screens_preprocess_like_the_training_env():
    plain, coloured = AtariEnv("Breakout", 1), AtariEnv("Breakout", 1, screens=True)
    a, b = plain.reset(seed=3), coloured.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(200):
        actions = rng.integers(4, size=1)
        a, b = plain.step(actions).observations, coloured.step(actions)
        assert b.screens.shape == (1, 210, 160, 3)
        assert np.abs(a.astype(int) - b.observations).max() <= 1
        b = b.observations


def test_book_and_paper_preprocessing_shapes():
    frame = raw_frame("Breakout", steps=10)
    assert frame.shape == (210, 160, 3) and frame.dtype == np.uint8
    assert preprocess_book(frame).shape == (105, 80)
    assert grayscale_84(frame).shape == (84, 84)
