import numpy as np
import pytest
from tiny import TINY

from rlbook.dqn import DQNConfig
from rlbook.files import RunError
from rlbook.runs import restore_agent
from rlbook.weight_average import mean_weights, restore_averaged

OBS = np.random.default_rng(0).integers(0, 255, (8, 4, 10, 10), dtype=np.uint8)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from rlbook.train import train

    folder = tmp_path_factory.mktemp("averaged") / "run"
    train(DQNConfig(steps=600, milestone_every=200, **TINY), folder, progress=False)
    return folder


def milestone(run, step):
    return run / "milestones" / f"step-{step:09d}"


def test_mean_weights_is_the_mean_of_each_layer_in_float32():
    a = [np.zeros((2, 3), np.float16), np.array([1.0, 2.0], np.float16)]
    b = [np.ones((2, 3), np.float32), np.array([3.0, 6.0], np.float32)]
    mean = mean_weights([a, b])
    np.testing.assert_array_equal(mean[0], np.full((2, 3), 0.5))
    np.testing.assert_array_equal(mean[1], [2.0, 4.0])
    assert all(w.dtype == np.float32 for w in mean)


def test_mean_weights_refuses_networks_of_other_layers_and_none():
    with pytest.raises(ValueError, match="same layers"):
        mean_weights([[np.zeros(3)], [np.zeros(4)]])
    with pytest.raises(ValueError, match="no networks"):
        mean_weights([])


def test_the_averaged_agent_acts_with_the_mean_of_the_milestones_weights(run):
    at_400, at_600 = (restore_agent(run, milestone(run, s)) for s in (400, 600))
    averaged = restore_averaged(run, [milestone(run, 400), milestone(run, 600)])
    for got, w400, w600 in zip(
        averaged.online.get_weights(),
        at_400.online.get_weights(),
        at_600.online.get_weights(),
        strict=True,
    ):
        np.testing.assert_allclose(got, (w400 + w600) / 2, rtol=1e-6, atol=1e-7)
    # the milestones differ, so the mean is a third network, and the target network follows it
    assert not np.allclose(averaged.q_values(OBS), at_400.q_values(OBS))
    assert not np.allclose(averaged.q_values(OBS), at_600.q_values(OBS))
    for online, target in zip(
        averaged.online.get_weights(), averaged.target.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(online, target)


def test_one_checkpoint_averaged_is_that_checkpoint(run):
    alone = restore_averaged(run, [milestone(run, 200)])
    np.testing.assert_array_equal(
        alone.q_values(OBS), restore_agent(run, milestone(run, 200)).q_values(OBS)
    )


def test_bad_lists_of_checkpoints_get_clear_errors(run):
    with pytest.raises(RunError, match="at least one"):
        restore_averaged(run, [])
    with pytest.raises(RunError, match="named twice"):
        restore_averaged(run, [milestone(run, 200), str(milestone(run, 200)) + ".index"])
    with pytest.raises(RunError, match="no checkpoint at"):
        restore_averaged(run, [milestone(run, 200), milestone(run, 999)])


def test_export_ships_the_mean_as_an_agent_of_the_latest_step(run, tmp_path, monkeypatch):
    from rlbook import pretrained

    monkeypatch.setattr(pretrained, "AGENTS", tmp_path / "agents")
    paths = [milestone(run, 600), milestone(run, 400)]
    pretrained.export(run, "python -m rlbook train --game Catch ...", paths)
    about = pretrained.about("Catch")
    assert about["agent_steps"] == 600
    assert about["checkpoints"] == ["step-000000600", "step-000000400"]
    np.testing.assert_allclose(
        pretrained.load("Catch").q_values(OBS),
        restore_averaged(run, paths).q_values(OBS),
        rtol=2e-2,
        atol=2e-2,
    )


def test_evaluate_takes_several_checkpoints_from_the_command_line(run, capsys):
    from rlbook.cli import main

    flags = ["--checkpoint", str(milestone(run, 400)), "--checkpoint", str(milestone(run, 600))]
    assert main(["evaluate", str(run), *flags, "--episodes", "2"]) == 0
    assert "mean +/- std over 2 games" in capsys.readouterr().out
    flags[-1] = str(milestone(run, 400))
    assert main(["evaluate", str(run), *flags, "--episodes", "2"]) == 2
    assert "named twice" in capsys.readouterr().err
