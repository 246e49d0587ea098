import csv
import dataclasses
import json

import numpy as np
import pytest
from tiny import CATCH_LEARNS, TINY

from rlbook import runs
from rlbook import train as train_module
from rlbook._keras import tf
from rlbook.dqn import DQNConfig
from rlbook.evaluate import evaluate
from rlbook.runs import RunError, restore_agent
from rlbook.train import train


def test_checkpoint_round_trip_gives_the_same_q_values(tmp_path):
    agent = train(DQNConfig(steps=600, **TINY), tmp_path / "run", progress=False)
    restored = restore_agent(tmp_path / "run")
    obs = np.random.default_rng(0).integers(0, 255, (8, 4, 10, 10), dtype=np.uint8)
    np.testing.assert_allclose(restored.q_values(obs), agent.q_values(obs), rtol=1e-6)


def test_resumed_run_continues_its_step_count_and_log(tmp_path):
    run = tmp_path / "run"
    train(DQNConfig(steps=600, **TINY), run, progress=False)
    assert json.loads((run / "progress.json").read_text())["step"] == 600
    with pytest.raises(RunError, match="already holds a run"):
        train(DQNConfig(steps=1000, **TINY), run, progress=False)
    train(DQNConfig(steps=1000, **TINY), run, resume=True, progress=False)
    progress = json.loads((run / "progress.json").read_text())
    assert progress["step"] == 1000
    rows = list(csv.DictReader((run / "log.csv").open()))
    steps = [int(r["step"]) for r in rows]
    episodes = [int(r["episode"]) for r in rows]
    assert steps == sorted(steps) and steps[-1] > 600
    walls = [float(r["wall_seconds"]) for r in rows]
    assert walls == sorted(walls)  # the clock goes on across sittings
    assert episodes == list(range(1, len(rows) + 1)) and progress["episode"] == len(rows)


def test_resume_refuses_another_game_or_network(tmp_path):
    run = tmp_path / "run"
    train(DQNConfig(steps=400, **TINY), run, progress=False)
    with pytest.raises(RunError, match="network='small', not 'nature'"):
        train(DQNConfig(steps=800, **{**TINY, "network": "nature"}), run, resume=True)
    with pytest.raises(RunError, match="game='Catch', not 'Breakout'"):
        train(DQNConfig(steps=800, **{**TINY, "game": "Breakout"}), run, resume=True)


def test_milestones_keep_the_weights_for_scoring_and_shipping(tmp_path, monkeypatch):
    from rlbook import pretrained

    monkeypatch.setattr(pretrained, "AGENTS", tmp_path / "agents")
    run = tmp_path / "run"
    final = train(DQNConfig(steps=600, milestone_every=200, **TINY), run, progress=False)
    names = sorted(p.stem for p in (run / "milestones").glob("*.index"))
    assert names == ["step-000000200", "step-000000400", "step-000000600"]
    saved = {name for name, _ in tf.train.list_variables(str(run / "milestones" / names[0]))}
    assert any(n.startswith("online/") for n in saved)
    assert not any(n.startswith(("target/", "optimizer/")) for n in saved)  # weights alone
    obs = np.random.default_rng(0).integers(0, 255, (8, 4, 10, 10), dtype=np.uint8)
    at_600 = restore_agent(run, run / "milestones" / "step-000000600.index")
    np.testing.assert_allclose(at_600.q_values(obs), final.q_values(obs), rtol=1e-6)
    at_400 = restore_agent(run, run / "milestones" / "step-000000400")
    assert not np.allclose(at_400.q_values(obs), final.q_values(obs))  # it learned since
    milestone = run / "milestones" / "step-000000400.index"
    pretrained.export(run, "python -m rlbook train ...", milestone)
    assert pretrained.about("Catch")["agent_steps"] == 400
    assert pretrained.about("Catch")["checkpoints"] == ["step-000000400"]
    np.testing.assert_allclose(
        pretrained.load("Catch").q_values(obs), at_400.q_values(obs), rtol=2e-2, atol=2e-2
    )


def test_export_ships_the_step_plan_of_the_commands_that_trained_the_weights(tmp_path, monkeypatch):
    from rlbook import pretrained

    monkeypatch.setattr(pretrained, "AGENTS", tmp_path / "agents")
    run = tmp_path / "run"
    tiny = {**TINY, "milestone_every": 200}
    train(DQNConfig(steps=600, **tiny), run, progress=False)
    train(DQNConfig(steps=800, **tiny), run, resume=True, progress=False)  # plan now 800
    first = "python -m rlbook train --game Catch --steps 600 --run run"
    pretrained.export(run, first, run / "milestones" / "step-000000400")
    shipped = DQNConfig.from_json(pretrained.folder("Catch") / "config.json")
    assert shipped.steps == 600 and json.loads((run / "config.json").read_text())["steps"] == 800
    assert dataclasses.replace(shipped, steps=800) == DQNConfig(steps=800, **tiny)
    with pytest.raises(ValueError, match="--steps 600, but ckpt-800 holds weights at step 800"):
        pretrained.export(run, first)  # the second sitting trained these weights
    pretrained.export(run, [first, "python -m rlbook train --run run --resume --steps=800"])
    assert DQNConfig.from_json(pretrained.folder("Catch") / "config.json").steps == 800


def test_resume_refuses_another_optimizer_and_takes_a_new_learning_rate(tmp_path):
    run = tmp_path / "run"
    train(DQNConfig(steps=400, adam=True, learning_rate=1e-3, **TINY), run, progress=False)
    with pytest.raises(RunError, match="adam=True, not False"):
        train(DQNConfig(steps=800, adam=False, **TINY), run, resume=True, progress=False)
    # The checkpoint holds the old rate; the one asked for on resume is the one used.
    config = DQNConfig(steps=800, adam=True, learning_rate=5e-4, **TINY)
    agent = train(config, run, resume=True, progress=False)
    assert float(agent.optimizer.learning_rate) == pytest.approx(5e-4)


def test_learning_rate_follows_its_schedule_across_a_resume(tmp_path):
    run = tmp_path / "run"
    schedule = dict(adam=True, learning_rate=1e-3, learning_rate_end=1e-4)
    config = DQNConfig(steps=400, learning_rate_decay_steps=400, **schedule, **TINY)
    agent = train(config, run, progress=False)
    # The last update happens at step 396, 196 steps into the 400-step decay.
    assert float(agent.optimizer.learning_rate) == pytest.approx(config.learning_rate_at(396))
    assert config.learning_rate_at(396) == pytest.approx(1e-3 - 196 / 400 * 9e-4)
    config = dataclasses.replace(config, steps=800)
    agent = train(config, run, resume=True, progress=False)
    assert float(agent.optimizer.learning_rate) == pytest.approx(1e-4)


def test_a_run_that_cannot_start_leaves_no_folder_behind(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(ValueError, match="unknown Atari game 'Breakuot'"):
        train(DQNConfig(steps=400, **{**TINY, "game": "Breakuot"}), run, progress=False)
    assert not run.exists()
    train(DQNConfig(steps=400, **TINY), run, progress=False)  # the name is still free


def _losses_after(run, step):
    rows = csv.DictReader((run / "log.csv").open())
    return [r["loss"] for r in rows if step < int(r["step"]) <= step + TINY["learning_starts"] - 8]


@pytest.mark.parametrize("damage", ["not a zip file", "frames but no actions"])
def test_an_unreadable_replay_memory_is_refilled(tmp_path, capsys, damage):
    run = tmp_path / "run"
    train(DQNConfig(steps=400, **TINY), run, progress=False)
    if damage == "not a zip file":
        (run / "replay.npz").write_bytes(b"PK not a zip file")
    else:  # a file that starts well and breaks off after the first array
        with np.load(run / "replay.npz") as saved:
            kept = {k: saved[k] for k in ("step", "head", "size", "frames")}
        np.savez(run / "replay.npz", **kept)
    train(DQNConfig(steps=800, **TINY), run, resume=True, progress=False)
    assert "could not be read" in capsys.readouterr().out
    assert json.loads((run / "progress.json").read_text())["step"] == 800
    # The memory starts empty, so the first games after the resume are played without learning.
    losses = _losses_after(run, 400)
    assert losses and all(loss == "" for loss in losses)


def test_a_resumed_run_learns_at_once_from_its_saved_replay_memory(tmp_path):
    run = tmp_path / "run"
    train(DQNConfig(steps=400, **TINY), run, progress=False)
    train(DQNConfig(steps=800, **TINY), run, resume=True, progress=False)
    losses = _losses_after(run, 400)
    assert losses and all(loss != "" for loss in losses)


def test_a_checkpoint_of_another_shape_is_refused(tmp_path):
    run = tmp_path / "run"
    train(DQNConfig(steps=400, **TINY), run, progress=False)
    other_game = DQNConfig(steps=400, **{**TINY, "game": "Breakout"})  # 84x84 frames, 4 actions
    (run / "config.json").write_text(other_game.to_json())
    with pytest.raises(RunError, match="does not fit"):
        restore_agent(run)
    with pytest.raises(RunError, match="not a run folder"):
        restore_agent(tmp_path / "nowhere")
    with pytest.raises(RunError, match=r"no checkpoint at .*step-000250000"):
        restore_agent(run, run / "milestones" / "step-000250000")


def test_an_interrupted_run_saves_where_it_stopped(tmp_path, monkeypatch):
    calls = {"n": 0}
    real_step = train_module.make_game

    def make_game_that_is_interrupted(*args, **kwargs):
        env = real_step(*args, **kwargs)
        step = env.step

        def interrupting_step(actions):
            calls["n"] += 1
            if calls["n"] == 75:
                raise KeyboardInterrupt
            return step(actions)

        env.step = interrupting_step
        return env

    monkeypatch.setattr(train_module, "make_game", make_game_that_is_interrupted)
    run = tmp_path / "run"
    train(DQNConfig(steps=10_000, **TINY), run, progress=False)
    assert json.loads((run / "progress.json").read_text())["step"] == 74 * 4
    assert (run / "replay.npz").exists()


def test_log_has_real_scores_and_learning_figures(tmp_path):
    run = tmp_path / "run"
    train(DQNConfig(steps=800, epsilon_decay_steps=300, **TINY), run, progress=False)
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert set(rows[0]) == set(runs.LOG_FIELDS)
    assert {float(r["score"]) for r in rows} <= {-1.0, 1.0}
    late = rows[-1]
    assert late["loss"] != "" and late["avg_max_q"] != "" and float(late["epsilon"]) < 1.0
    assert any((run / "tensorboard").iterdir())
    log = runs.read_log(run / "log.csv")
    assert list(log) == runs.LOG_FIELDS and len(log["score"]) == len(rows)
    assert np.isnan(log["loss"][0]) == (rows[0]["loss"] == "")


def test_dqn_learns_catch_to_near_optimal(tmp_path):
    """The same agent code, with a small network, learns a tiny pixel game in under a minute."""
    config = DQNConfig(**CATCH_LEARNS)
    agent = train(config, tmp_path / "catch", progress=False)
    random_scores = evaluate(None, "Catch", episodes=200, seed=5, progress=False)
    learned = evaluate(agent, "Catch", episodes=200, epsilon=0.0, seed=5, progress=False)
    assert random_scores.mean() < -0.3
    assert learned.mean() >= 0.9, learned.mean()  # optimum 1.0


@pytest.mark.parametrize("n_step", [1, 3])
def test_learning_can_start_at_once(tmp_path, n_step):
    config = DQNConfig(steps=200, n_step=n_step, **{**TINY, "learning_starts": 0})
    train(config, tmp_path / "run", progress=False)
    rows = list(csv.DictReader((tmp_path / "run" / "log.csv").open()))
    assert rows and rows[-1]["loss"] != ""


def test_a_resumed_run_never_bootstraps_into_a_new_game():
    from rlbook.replay import ReplayMemory

    def newest_frames_sampled(break_lanes: bool) -> set[int]:
        memory = ReplayMemory(40, num_envs=2, frame_shape=(2, 2), stack=2, seed=0)
        no = np.zeros(2, bool)
        for t in range(5):
            frames = np.full((2, 2, 2), t, np.uint8)
            memory.add(frames, np.zeros(2, np.int64), np.zeros(2, np.float32), no, no, ~no)
        if break_lanes:  # what a resume does: the games restart in the middle of episode 0
            memory.break_lanes()
        restart = np.full((2, 2, 2), 9, np.uint8)
        memory.add(restart, np.zeros(2, np.int64), np.zeros(2, np.float32), no, ~no, ~no)
        return set(np.unique(memory.sample(4000).states[:, -1]).tolist())

    assert 4 in newest_frames_sampled(break_lanes=False)  # 4 -> new game's first frame: wrong
    # Entry 0 is never sampled either: its stack reaches back before the memory began.
    assert newest_frames_sampled(break_lanes=True) == {1, 2, 3}


def test_breakout_smoke_run(tmp_path):
    config = DQNConfig(steps=800, buffer_size=4000, learning_starts=400, checkpoint_every=400)
    train(config, tmp_path / "breakout", progress=False)
    progress = json.loads((tmp_path / "breakout" / "progress.json").read_text())
    assert progress["step"] == 800


def test_resume_survives_a_kill_while_a_newer_checkpoint_was_written(tmp_path):
    run = tmp_path / "run"
    train(DQNConfig(steps=800, **TINY), run, progress=False)
    progress = json.loads((run / "progress.json").read_text())
    # As if killed between writing checkpoint 800 and progress.json: it still names 400.
    (run / "progress.json").write_text(json.dumps({**progress, "step": 400}))
    train(DQNConfig(steps=1000, **TINY), run, resume=True, progress=False)
    assert json.loads((run / "progress.json").read_text())["step"] == 1000


def test_a_run_can_start_from_a_shipped_agent_and_go_on(tmp_path, monkeypatch):
    from rlbook import pretrained
    from rlbook.pretrained import start_from_pretrained

    monkeypatch.setattr(pretrained, "AGENTS", tmp_path / "agents")
    config = DQNConfig(steps=600, epsilon_decay_steps=300, epsilon_end=0.05, **TINY)
    first = tmp_path / "first"
    train(config, first, progress=False)
    pretrained.export(first, "python -m rlbook train --game Catch ...")
    shipped_games = pretrained.about("Catch")["games"]

    run = tmp_path / "continued"
    with pytest.raises(ValueError, match="has game='Catch', not 'Breakout'"):
        start_from_pretrained("Catch", run, DQNConfig(game="Breakout"))
    assert not run.exists()
    assert start_from_pretrained("Catch", run) == 600
    obs = np.random.default_rng(0).integers(0, 255, (4, 4, 10, 10), dtype=np.uint8)
    np.testing.assert_array_equal(
        restore_agent(run).q_values(obs), pretrained.load("Catch").q_values(obs)
    )
    with pytest.raises(RunError, match="already holds a run"):
        start_from_pretrained("Catch", run)

    train(dataclasses.replace(config, steps=1200), run, resume=True, progress=False)
    assert json.loads((run / "progress.json").read_text())["step"] == 1200
    rows = list(csv.DictReader((run / "log.csv").open()))
    episodes = [int(r["episode"]) for r in rows]
    assert episodes == list(range(1, len(rows) + 1)) and len(rows) > shipped_games
    # The replay memory starts empty: the agent refills it with its own policy (so max-Q is
    # logged) at the schedule's epsilon, and learns again only once it holds learning_starts.
    first_games = [r for r in rows if 600 < int(r["step"]) <= 600 + TINY["learning_starts"] - 8]
    assert first_games
    assert all(r["loss"] == "" and r["avg_max_q"] != "" for r in first_games)
    assert all(float(r["epsilon"]) == 0.05 for r in first_games)
    assert rows[-1]["loss"] != ""

    pretrained.export(run, ["python -m rlbook train --from-pretrained Catch ...", "... --resume"])
    assert pretrained.about("Catch")["commands"] == [
        "python -m rlbook train --game Catch ...",
        "python -m rlbook train --from-pretrained Catch ...",
        "... --resume",
    ]
    assert pretrained.about("Catch")["agent_steps"] == 1200

    # The new run's own settings build its optimizer: here Adam, where the agent had RMSProp.
    adam = dataclasses.replace(config, steps=1600, adam=True, learning_rate=3e-4)
    start_from_pretrained("Catch", tmp_path / "adam", adam)
    agent = train(adam, tmp_path / "adam", resume=True, progress=False)
    assert type(agent.optimizer).__name__ == "Adam"
    assert float(agent.optimizer.learning_rate) == pytest.approx(3e-4)


def test_a_run_without_its_memory_refills_it_then_eases_its_step_size_in(tmp_path):
    run = tmp_path / "run"
    config = DQNConfig(steps=400, adam=True, learning_rate=1e-3, **TINY)
    train(config, run, progress=False)
    (run / "replay.npz").unlink()  # as a shipped agent, or a run whose memory was lost
    again = dataclasses.replace(config, steps=1600, refill=600, rewarm_steps=400)
    agent = train(again, run, resume=True, progress=False)
    rows = list(csv.DictReader((run / "log.csv").open()))
    # learning_starts is 200, but the memory refills to 600 transitions before learning again.
    assert all(r["loss"] == "" for r in rows if 400 < int(r["step"]) <= 400 + 600 - 8)
    assert rows[-1]["loss"] != ""
    # Learning began at step 1000 and its step size rose over 400 steps, to the schedule's.
    assert float(agent.optimizer.learning_rate) == pytest.approx(1e-3)


def test_rewarming_rises_linearly_from_where_learning_starts_again():
    run = train_module.Training.__new__(train_module.Training)
    run.config = DQNConfig(rewarm_steps=100)
    run.restarted, run.learning_again_at = True, None
    assert run.rewarming(1000) == pytest.approx(0.01)
    assert run.rewarming(1049) == pytest.approx(0.5)
    assert run.rewarming(1200) == 1.0
    run.restarted = False
    assert run.rewarming(1000) == 1.0


def test_the_memory_fills_to_learning_starts_or_to_the_refill_of_a_run_without_its_memory():
    config = DQNConfig(learning_starts=200, refill=600, n_step=3, num_envs=4)
    assert config.memory_before_learning() == 200
    assert config.memory_before_learning(restarted=True) == 600
    # Never fewer than the n + 1 entries per lane that sampling an n-step return needs.
    assert DQNConfig(learning_starts=0, n_step=3, num_envs=4).memory_before_learning() == 16
    assert DQNConfig(learning_starts=500, refill=0).memory_before_learning(restarted=True) == 500
