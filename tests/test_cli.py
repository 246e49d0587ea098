import numpy as np
import pytest

from rlbook.cli import build_parser, main


def test_every_config_field_is_a_flag_with_help():
    helps = {
        a.dest: a.help
        for a in build_parser()._subparsers._group_actions[0].choices["train"]._actions
    }
    for name in ("buffer_size", "learning_starts", "double", "adam", "epsilon_decay_steps"):
        assert name in helps and "default" in helps[name]
    assert "paper: 0.00025" in helps["learning_rate"]


def test_train_evaluate_and_play_from_the_command_line(tmp_path, capsys):
    run = str(tmp_path / "run")
    flags = [
        "--game",
        "Catch",
        "--network",
        "small",
        "--steps",
        "400",
        "--buffer-size",
        "800",
        "--learning-starts",
        "100",
        "--quiet",
    ]
    assert main(["train", "--run", run, *flags]) == 0
    assert main(["train", "--run", run, *flags]) == 2  # exists: needs --resume
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", "--run", run, "--resume", "--steps", "600", "--quiet"]) == 0
    assert main(["evaluate", run, "--episodes", "4"]) == 0
    assert "mean +/- std over 4 games" in capsys.readouterr().out
    assert main(["evaluate", run, "--max-frames", "18000"]) == 2
    assert "max_frames caps Atari games" in capsys.readouterr().err
    assert main(["play", run, "--out", str(tmp_path / "catch.gif")]) == 2
    assert "play records Atari games" in capsys.readouterr().err


def test_play_records_a_gif_and_a_filmstrip(tmp_path):
    from rlbook.dqn import DQNAgent, DQNConfig
    from rlbook.record import play_and_record

    agent = DQNAgent(DQNConfig(), (4, 84, 84), 4)
    gif, strip = tmp_path / "game.gif", tmp_path / "strip.png"
    play_and_record(agent, gif, filmstrip_path=strip, max_steps=60)
    assert gif.read_bytes()[:6] == b"GIF89a" and strip.read_bytes()[:4] == b"\x89PNG"
    import imageio.v3 as iio

    frames = iio.imread(gif, index=None)
    assert frames.shape[1:3] == (420, 320) and len(frames) > 5
    assert np.ptp(frames) > 0


def test_a_played_game_keeps_what_the_agent_saw_at_every_screen():
    from rlbook.atari import grayscale_84
    from rlbook.dqn import DQNAgent, DQNConfig
    from rlbook.record import play_game

    agent = DQNAgent(DQNConfig(), (4, 84, 84), 4)
    played = play_game(agent, epsilon=1.0, max_steps=400, keep_observations=True)
    n = len(played.screens)
    assert played.observations.shape == (n, 4, 84, 84) and played.life_lost.shape == (n,)
    # The newest frame of each observation is its screen, as the agent sees it.
    newest = np.rint(grayscale_84(played.screens)).astype(np.uint8)
    np.testing.assert_array_equal(played.observations[:, -1], newest)
    assert played.life_lost.any()  # 400 random steps lose a life in Breakout
    assert played.action_meanings == ["NOOP", "FIRE", "RIGHT", "LEFT"]
    assert play_game(agent, max_steps=20).observations is None


def test_play_command_writes_the_animation(tmp_path):
    run = str(tmp_path / "run")
    flags = ["--steps", "200", "--buffer-size", "800", "--learning-starts", "100", "--quiet"]
    assert main(["train", "--run", run, *flags]) == 0  # Breakout, the default game
    gif, strip = tmp_path / "b.gif", tmp_path / "b.png"
    args = ["play", run, "--out", str(gif), "--filmstrip", str(strip), "--max-steps", "30"]
    assert main(args) == 0
    assert gif.exists() and strip.exists()


def test_bad_input_gets_a_clear_error(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "missing")]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert main(["train", "--run", str(tmp_path / "x"), "--game", "Brekout", "--quiet"]) == 2
    assert "did you mean 'breakout'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # so the retry with the right name is not refused
    with pytest.raises(SystemExit):
        main(["train", "--run", str(tmp_path / "y"), "--steps", "many"])
    run = str(tmp_path / "z")
    assert main(["train", "--run", run, "--from-pretrained", "Pong", "--quiet"]) == 2
    assert "ships no trained agent for 'Pong'" in capsys.readouterr().err
    assert main(["train", "--run", run, "--from-pretrained", "Breakout", "--resume"]) == 2
    assert "cannot go with --resume" in capsys.readouterr().err
    # A bad setting is refused before the run folder is made, so the same command can be retried.
    assert main(["train", "--run", run, "--from-pretrained", "Breakout", "--n-step", "0"]) == 2
    assert "n_step must be positive" in capsys.readouterr().err
    assert not (tmp_path / "z").exists()


def test_a_replay_memory_larger_than_the_machine_is_refused_before_anything_starts(
    tmp_path, capsys
):
    from rlbook.memory import available_bytes

    run = tmp_path / "huge"
    # A memory one and a half times what this machine has free: refused at once, both named.
    size = int(available_bytes() * 1.5 / (84 * 84)) // 4 * 4
    assert main(["train", "--run", str(run), "--buffer-size", str(size), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert f"replay memory of {size:,} transitions needs" in error and "free" in error
    assert error.count("\n") == 1 and not run.exists()
