import dataclasses
import json

import numpy as np
import pytest

from rlbook import pretrained
from rlbook.evaluate import evaluate


def test_the_package_ships_a_breakout_agent():
    assert "breakout" in pretrained.available()


@pytest.mark.parametrize("name", pretrained.available())
def test_each_shipped_agent_is_small_says_how_it_was_trained_and_acts(name):
    weights = pretrained.folder(name) / "weights.npz"
    assert weights.stat().st_size < 7 * 2**20
    about = pretrained.about(name)
    assert about["agent_steps"] > 0 and about["checkpoints"]
    assert all("python -m rlbook train" in command for command in about["commands"])
    assert (pretrained.folder(name) / "log.csv").exists()
    q = pretrained.load(name).q_values(np.zeros((2, 4, 84, 84), np.uint8))
    assert q.shape == (2, 4) and q.dtype == np.float32 and np.isfinite(q).all()


def test_the_shipped_agent_beats_a_random_player():
    agent = pretrained.load("Breakout")
    score = evaluate(agent, "Breakout", episodes=1, seed=3, progress=False)
    assert score[0] >= 10  # a random agent scores about 1.7


def test_asking_for_an_unshipped_game_names_what_is_shipped():
    with pytest.raises(ValueError, match=r"ships no trained agent for 'Pong'.*breakout"):
        pretrained.load("Pong")


def test_an_agent_folder_outside_the_package_loads_and_a_wrong_one_is_named(tmp_path):
    import shutil

    copy = tmp_path / "earlier"
    shutil.copytree(pretrained.folder("Breakout"), copy)
    states = np.random.default_rng(0).integers(0, 255, (3, 4, 84, 84), dtype=np.uint8)
    np.testing.assert_array_equal(
        pretrained.load_folder(copy).q_values(states),
        pretrained.load("Breakout").q_values(states),
    )
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "network": "small"}))
    with pytest.raises(ValueError, match=r"earlier/weights.npz does not fit the small network"):
        pretrained.load_folder(copy)


def test_export_ships_float16_weights_and_the_log_up_to_them(tmp_path, monkeypatch):
    import csv

    from rlbook.dqn import DQNConfig
    from rlbook.runs import restore_agent
    from rlbook.train import train

    run = tmp_path / "run"
    config = DQNConfig(
        game="Catch",
        network="small",
        steps=600,
        buffer_size=800,
        learning_starts=100,
        checkpoint_every=300,
        refill=200,  # how this run would go on without its memory: not shipped with the agent
        rewarm_steps=50,
    )
    train(config, run, progress=False)
    monkeypatch.setattr(pretrained, "AGENTS", tmp_path / "agents")
    folder = pretrained.export(run, "python -m rlbook train --game Catch ...")
    shipped_config = DQNConfig.from_json(folder / "config.json")
    assert (shipped_config.refill, shipped_config.rewarm_steps) == (0, 0)
    assert shipped_config.learning_starts == 100
    assert pretrained.available() == ["catch"]
    shipped, trained = pretrained.load("Catch"), restore_agent(run)
    obs = np.random.default_rng(0).integers(0, 255, (4, 4, 10, 10), dtype=np.uint8)
    np.testing.assert_allclose(shipped.q_values(obs), trained.q_values(obs), atol=2e-2)
    assert pretrained.about("Catch")["agent_steps"] == 600
    steps = [int(r["step"]) for r in csv.DictReader((folder / "log.csv").open())]
    assert steps and max(steps) <= 600


def test_a_second_agent_of_a_game_ships_under_its_own_name(tmp_path, monkeypatch):
    from rlbook.cli import main
    from rlbook.dqn import DQNConfig
    from rlbook.runs import restore_agent
    from rlbook.train import train

    run = tmp_path / "run"
    config = DQNConfig(game="Catch", network="small", steps=300, buffer_size=400)
    train(
        dataclasses.replace(config, learning_starts=100, checkpoint_every=300), run, progress=False
    )
    monkeypatch.setattr(pretrained, "AGENTS", tmp_path / "agents")
    folder = pretrained.export(run, "python -m rlbook train --game Catch ...", name="small")
    assert folder.name == "catch-small" and pretrained.available() == ["catch/small"]
    obs = np.random.default_rng(0).integers(0, 255, (2, 4, 10, 10), dtype=np.uint8)
    np.testing.assert_allclose(
        pretrained.load("Catch/small").q_values(obs), restore_agent(run).q_values(obs), atol=2e-2
    )
    assert pretrained.about("Catch/small")["agent_steps"] == 300
    with pytest.raises(
        ValueError, match=r"no trained agent for 'Catch'; available: \['catch/small'\]"
    ):
        pretrained.load("Catch")  # the game's own agent is not shipped here
    with pytest.raises(ValueError, match="lowercase word, as in 'Breakout/dqn', not 'Catch/DQN 2'"):
        pretrained.load("Catch/DQN 2")
    with pytest.raises(ValueError, match="lowercase word"):
        pretrained.export(run, "python -m rlbook train ...", name="Small")
    assert pretrained.available() == ["catch/small"]  # a refused name ships nothing
    assert main(["evaluate", "--pretrained", "Catch/small", "--episodes", "2"]) == 0
    on = tmp_path / "on"
    main(
        ["train", "--run", str(on), "--from-pretrained", "Catch/small", "--steps", "500", "--quiet"]
    )
    assert json.loads((on / "origin.json").read_text())["agent_steps"] == 300
    assert restore_agent(on).config.steps == 500
