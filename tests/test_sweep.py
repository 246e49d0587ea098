import argparse
import contextlib
import csv
import dataclasses
import io
import json
import socket
import sys
import time

import numpy as np
import pytest
import ray  # the sweep extra, which `make install` installs

from rlbook import stats, sweep
from rlbook.runs import RunError

# A DQN sweep small enough for the default suite: Catch, two settings x two seeds, scored at
# 400 and 800 agent steps, on a small network with a fixed update path (no timing of both).
CATCH = dict(
    network="small",
    steps=800,
    milestone_every=400,
    checkpoint_every=400,
    num_envs=4,
    buffer_size=1000,
    learning_starts=100,
    target_update=100,
    compile="graph",
    precision="float32",
)
CATCH_SPEC = sweep.SweepSpec(
    agent="dqn", game="Catch", settings=CATCH, grid={"n_step": [1, 3]}, seeds=[0, 1], eval_games=8
)
TRIALS = [f"n_step={n}-seed{s}" for n in (1, 3) for s in (0, 1)]
# When the sweep was stopped: one trial finished, one halfway, one killed before its first
# checkpoint, and one not started.
FINISHED, HALFWAY, EARLY = "n_step=1-seed0", "n_step=3-seed1", "n_step=3-seed0"
STRAY_GAME = "999,1,1.0,1.0,9,,,1.0,0.0,0.1\n"  # a game logged before the kill


@pytest.fixture(scope="module")
def local_ray():
    """One Ray started on this machine for the tests of this module, as the sweep starts it."""
    sweep.connect()
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def resumed_sweep(local_ray, tmp_path_factory):
    """A Catch sweep stopped halfway, then resumed on Ray from the command line.

    When it stopped, n_step=1-seed0 was complete, n_step=3-seed1 had scored its first
    milestone, n_step=3-seed0 had written its config and a game but no checkpoint, and
    n_step=1-seed1 had not started. A trial's first stretch is a run trained to its first
    milestone, so running that trial with steps=400 leaves just the folder it had.
    """
    from rlbook.dqn import DQNConfig
    from rlbook.runs import LOG_FIELDS, RunFolder

    folder = tmp_path_factory.mktemp("catch") / "sweep"
    trials = folder / "trials"
    trials.mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps(CATCH_SPEC.to_dict()))
    by_name = {t.name: t for t in CATCH_SPEC.trials()}
    sweep.run_trial(CATCH_SPEC, by_name[FINISHED], trials / FINISHED)
    short = dataclasses.replace(CATCH_SPEC, settings={**CATCH, "steps": 400})
    (halfway,) = [t for t in short.trials() if t.name == HALFWAY]
    sweep.run_trial(short, halfway, trials / HALFWAY)
    early = RunFolder(trials / EARLY)
    early.write_config(DQNConfig(**by_name[EARLY].config))
    early.log.write_text(",".join(LOG_FIELDS) + "\n" + STRAY_GAME)
    before = {path: path.read_bytes() for path in sorted(trials.rglob("*")) if path.is_file()}
    before_mtimes = {path: path.stat().st_mtime_ns for path in before}

    printed = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(printed):
        code = sweep.main(sweep_args("--run", str(folder), "--resume"))
    seconds = time.perf_counter() - started
    print(f"\nresuming the Catch sweep on Ray (3 of 4 trials) took {seconds:.1f} s")
    return {
        "folder": folder,
        "code": code,
        "out": printed.getvalue(),
        "before": before,
        "before_mtimes": before_mtimes,
    }


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sweep_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sweep.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["sweep", *argv])


# --- refused before Ray starts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"grid": {"n_stepp": [1, 3]}}, "dqn has no setting 'n_stepp'; did you mean 'n_step'"),
        ({"grid": {"n_step": ["3"]}}, "n_step takes a whole number, got '3'"),
        ({"grid": {"n_step": [1.5]}}, "n_step takes a whole number, got 1.5"),
        ({"grid": {"double": [1, 0]}}, "double takes true or false, got 1"),
        ({"grid": {"n_step": []}}, "the grid gives n_step no values"),
        ({"grid": {"n_step": [3, 3]}}, "the same value twice"),
        ({"grid": {"steps": [100, 200]}}, "steps is both a fixed setting and in the grid"),
        (
            {"grid": {"learning_rate": [-1.0]}},
            "setting learning_rate=-1.0: learning_rate must be positive, got -1.0",
        ),
        ({"seeds": []}, "at least one seed"),
        ({"seeds": [0, 0]}, "name a seed twice"),
        ({"seeds": [-1]}, "whole numbers from 0"),
        ({"settings": {**CATCH, "seed": 3}}, "seeds are set by seeds="),
        ({"game": "Brekout"}, "did you mean 'breakout'"),
        ({"agent": "ppo"}, "unknown agent 'ppo'; choose one of"),
        ({"eval_games": 0}, "eval_games must be a positive whole number"),
        ({"grid": {"agent": ["dqn", "tabular"]}}, "play different games"),
    ],
)
def test_bad_sweeps_are_refused_before_ray_starts(tmp_path, change, message):
    spec = dataclasses.replace(CATCH_SPEC, **change)
    if ray.is_initialized():
        ray.shutdown()
    with pytest.raises(ValueError, match=message):
        sweep.run(spec, tmp_path / "sweep")
    assert not ray.is_initialized() and not (tmp_path / "sweep").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "4-0"], "bad seeds '4-0': a range runs from low to high"),
        (["--seeds", "0-x"], "bad seeds '0-x': write them like 0-4 or 0,2,7"),
        (["--grid", "n_step="], "the grid gives n_step no values"),
        (["--grid", "n_step"], "bad setting 'n_step': write FIELD=V1,V2"),
        (["--grid", "learning_rate=fast"], "learning_rate takes a number, got 'fast'"),
        (["--set", "double=maybe"], "double takes true or false, got 'maybe'"),
        (["--set", "n_step=1,3"], "--set takes one value; --grid compares several"),
        (["--agent", "tabular", "--steps", "100"], "tabular has no setting 'steps'"),
    ],
)
def test_bad_command_lines_name_what_is_accepted(tmp_path, argv, message):
    args = sweep_args("--run", str(tmp_path / "sweep"), "--game", "Catch", *argv)
    with pytest.raises(ValueError, match=message):
        sweep.main(args)
    assert not (tmp_path / "sweep").exists()


def test_an_address_with_no_cluster_is_an_error_within_seconds(tmp_path):
    if ray.is_initialized():
        ray.shutdown()
    address = f"127.0.0.1:{free_loopback_port()}"  # nothing listens there
    with pytest.raises(RunError, match=f"no Ray cluster answers at {address}"):
        sweep.run(CATCH_SPEC, tmp_path / "sweep", address=address)
    assert not ray.is_initialized() and not (tmp_path / "sweep" / "sweep.json").exists()
    started = time.perf_counter()
    with pytest.raises(RunError, match="start one there with `ray start --head`"):
        sweep.connect(address)
    assert time.perf_counter() - started < 10


def test_without_ray_the_sweep_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets without the extra
    with pytest.raises(RunError, match=r"not installed: pip install -e '\.\[sweep\]'"):
        sweep.run(CATCH_SPEC, tmp_path / "sweep")


# --- a DQN sweep on a local Ray, stopped halfway and resumed ----------------------------------


def test_a_resumed_sweep_runs_only_the_trials_not_finished(resumed_sweep):
    out, trials = resumed_sweep["out"], resumed_sweep["folder"] / "trials"
    assert resumed_sweep["code"] == 0
    for name in TRIALS:
        ran = f"{name}: done" in out
        assert ran == (name != FINISHED), out
    # A trial killed before its first checkpoint started again: its stray game is gone.
    assert STRAY_GAME not in (trials / EARLY / "log.csv").read_text()
    assert sorted(sweep.read_scores(trials / EARLY)) == [400, 800]
    # The finished trial's files are the ones it had: none was written again.
    for path, content in resumed_sweep["before"].items():
        if path.is_relative_to(trials / FINISHED):
            assert path.read_bytes() == content
            assert path.stat().st_mtime_ns == resumed_sweep["before_mtimes"][path]


def test_a_stopped_trial_goes_on_from_its_checkpoint(resumed_sweep):
    from rlbook.runs import RunFolder, read_log

    trial = resumed_sweep["folder"] / "trials" / HALFWAY
    before = resumed_sweep["before"]
    # Its games up to step 400 and its milestone there are those it had; it then trained and
    # scored the second stretch (a restart would have rewritten both).
    old_games = list(csv.DictReader(io.StringIO(before[trial / "log.csv"].decode())))
    games = read_csv(trial / "log.csv")
    assert games[: len(old_games)] == old_games and len(games) > len(old_games)
    assert read_log(trial / "log.csv")["step"][-1] > 400
    milestone = RunFolder(trial).milestone(400).with_suffix(".index")
    assert milestone.stat().st_mtime_ns == resumed_sweep["before_mtimes"][milestone]
    assert RunFolder(trial).last_complete_step() == 800
    assert sorted(sweep.read_scores(trial)) == [400, 800]
    assert f"{HALFWAY}: step 400, score" in resumed_sweep["out"]  # reported again to Tune


def test_the_sweep_scores_every_trial_at_its_milestones(resumed_sweep):
    folder = resumed_sweep["folder"]
    rows = read_csv(folder / "results.csv")
    assert list(rows[0]) == ["setting", "seed", "step", "score"]
    assert sorted((r["setting"], r["seed"], r["step"]) for r in rows) == sorted(
        (f"n_step={n}", str(s), str(step)) for n in (1, 3) for s in (0, 1) for step in (400, 800)
    )
    for row in rows:  # a mean over 8 Catch games, each won (+1) or lost (-1)
        assert float(row["score"]) * 8 % 2 == pytest.approx(0.0, abs=1e-9)
        assert -1.0 <= float(row["score"]) <= 1.0


def test_the_summary_is_the_iqm_and_interval_of_the_seeds(resumed_sweep):
    folder = resumed_sweep["folder"]
    results, rows = read_csv(folder / "results.csv"), read_csv(folder / "summary.csv")
    assert [(r["setting"], r["step"]) for r in rows] == [
        (f"n_step={n}", str(step)) for n in (1, 3) for step in (400, 800)
    ]
    for row in rows:
        seeds = [
            float(r["score"])
            for r in results
            if (r["setting"], r["step"]) == (row["setting"], row["step"])
        ]
        expected = stats.summarize(seeds)
        assert int(row["runs"]) == 2
        for name in ("mean", "mean_low", "mean_high", "iqm", "iqm_low", "iqm_high"):
            assert float(row[name]) == pytest.approx(getattr(expected, name))
    # The command prints the summary at each setting's last step.
    table = resumed_sweep["out"][resumed_sweep["out"].index("setting") :].splitlines()
    last = [r for r in rows if r["step"] == "800"]
    for line, row in zip(table[1:3], last, strict=True):
        assert line.split()[:3] == [row["setting"], "800", "2"]
        assert f"{float(row['iqm']):.3f} [{float(row['iqm_low']):.3f}," in line
    figure = folder / "B09124_13_sweep.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"figure: {figure}" in table[-1]


def test_a_trial_is_an_ordinary_run_whose_scores_replay_from_its_folder(resumed_sweep):
    from rlbook.evaluate import evaluate
    from rlbook.runs import RunFolder, restore_agent

    trial = resumed_sweep["folder"] / "trials" / "n_step=3-seed0"
    run = RunFolder(trial)
    config = run.load_config()
    assert (config.game, config.n_step, config.seed, config.steps) == ("Catch", 3, 0, 800)
    assert run.last_complete_step() == 800 and any((trial / "tensorboard").iterdir())
    # `python -m rlbook evaluate TRIAL --checkpoint TRIAL/milestones/step-000000400
    # --episodes 8` plays the same games: a score can be checked from the run folder alone.
    agent = restore_agent(trial, run.milestone(400))
    replayed = evaluate(agent, "Catch", 8, epsilon=0.05, seed=1, progress=False)
    assert float(np.mean(replayed)) == pytest.approx(sweep.read_scores(trial)[400])


def test_a_sweep_folder_is_resumed_only_as_it_was_asked(resumed_sweep, tmp_path):
    folder = resumed_sweep["folder"]
    with pytest.raises(RunError, match="already holds a sweep; pass --resume"):
        sweep.run(CATCH_SPEC, folder)
    with pytest.raises(RunError, match="holds another sweep: its seeds differ"):
        sweep.run(dataclasses.replace(CATCH_SPEC, seeds=[0, 1, 2]), folder, resume=True)
    with pytest.raises(RunError, match="holds no sweep to resume"):
        sweep.run(CATCH_SPEC, tmp_path / "empty", resume=True)
    again = sweep.run(CATCH_SPEC, folder, resume=True, progress=False)
    assert again.ran == [] and len(again.results) == 8  # complete: nothing to run


# --- FrozenLake agents -------------------------------------------------------------------------


def test_a_frozenlake_trial_scores_the_agent_as_it_trains_without_changing_it(tmp_path):
    from rlbook import envs, planning, tabular

    spec = sweep.SweepSpec(agent="tabular", settings={"episodes": 300}, seeds=[4], score_every=150)
    (trial,) = spec.trials()
    reported = []
    scores = sweep.run_trial(spec, trial, tmp_path / "trial", report=lambda *r: reported.append(r))
    assert sorted(scores) == [150, 300] and reported == sorted(scores.items())
    # The same agent trained alone, in one call: the sweep's scoring between episodes left its
    # learning as it was.
    env = envs.make("FrozenLake-v1")
    alone = tabular.TabularQ(env, tabular.TabularConfig(episodes=300, seed=4))
    alone.train(progress=False)
    assert scores[300] == pytest.approx(planning.policy_success_rate(env, alone.policy))
    assert 0.0 < scores[300] < planning.optimal_success_rate(env) + 1e-9


def test_a_sweep_of_seconds_runs_in_this_process_without_ray(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # on_ray=False needs no Ray at all
    spec = sweep.SweepSpec(
        grid={"agent": ["tabular", "qnetwork"]},
        settings={"episodes": 60},
        seeds=[0, 1],
        score_every=30,
    )
    result = sweep.run(spec, tmp_path / "lake", progress=False, on_ray=False)
    assert sorted(result.ran) == sorted(t.name for t in spec.trials())
    assert [(r["setting"], r["step"], r["runs"]) for r in result.summary] == [
        (agent, step, 2) for agent in ("agent=tabular", "agent=qnetwork") for step in (30, 60)
    ]
    final = result.final_scores()
    assert set(final) == {"agent=tabular", "agent=qnetwork"}
    assert all(
        len(scores) == 2 and np.all((0 <= scores) & (scores <= 1)) for scores in final.values()
    )


def test_the_command_line_builds_the_spec_it_names(tmp_path):
    args = sweep_args(
        "--run",
        str(tmp_path / "lake"),
        "--agent",
        "qnetwork",
        "--episodes",
        "2_000",
        "--seeds",
        "0-2,7",
        "--grid",
        "learning_rate=0.1,0.3",
        "--grid",
        "epsilon=0.1,0.2",
        "--set",
        "discount=0.95",
        "--score-every",
        "250",
    )
    spec = sweep.spec_from_args(args)
    assert spec == sweep.SweepSpec(
        agent="qnetwork",
        game="FrozenLake-v1",
        settings={"discount": 0.95, "episodes": 2000},
        grid={"learning_rate": [0.1, 0.3], "epsilon": [0.1, 0.2]},
        seeds=[0, 1, 2, 7],
        score_every=250,
    )
    names = [t.name for t in spec.trials()]
    assert len(names) == 2 * 2 * 4 and names[0] == "learning_rate=0.1,epsilon=0.1-seed0"
    assert spec.score_steps(spec.trials()[0]) == list(range(250, 2001, 250))
    both = sweep.spec_from_args(
        sweep_args("--run", "x", "--grid", "agent=tabular,qnetwork", "--episodes", "300")
    )
    assert both.game == "FrozenLake-v1" and both.grid == {"agent": ["tabular", "qnetwork"]}
    trials = both.trials()
    assert [t.agent for t in trials] == ["tabular"] * 5 + ["qnetwork"] * 5
    assert trials[5].name == "agent=qnetwork-seed0" and trials[5].config["epsilon"] == 0.1
    dqn = sweep.spec_from_args(
        sweep_args(
            "--run", "x", "--steps", "2e6", "--grid", "n_step=1,3", "--grid", "double=no,yes"
        )
    )
    assert dqn.game == "Breakout" and dqn.settings == {"steps": 2_000_000}
    assert dqn.grid == {"n_step": [1, 3], "double": [False, True]} and dqn.seeds == (0, 1, 2, 3, 4)
