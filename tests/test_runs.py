"""The run folder against what users do to runs: signals, a second process, kills, full disks,
damaged files, and folders written by an earlier rlbook."""

import csv
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tiny import TINY

from rlbook._keras import tf
from rlbook.cli import main
from rlbook.dqn import DQNConfig
from rlbook.runs import (
    Checkpoints,
    RunError,
    RunFolder,
    checkpoint_name,
    checkpoint_step,
    progress_record,
    read_log,
    restore_agent,
)
from rlbook.train import train

TESTS = Path(__file__).resolve().parent
TINY_FLAGS = [
    *("--game", "Catch", "--network", "small", "--buffer-size", "2000"),
    *("--learning-starts", "200", "--quiet"),
]


def _start_training(run: Path, *flags: str, ignore_sigint: bool = False) -> subprocess.Popen:
    """``python -m rlbook train`` in a child process; ``ignore_sigint`` starts it as a shell
    starts a background job (``cmd &``), with SIGINT ignored."""

    def background():
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    command = [sys.executable, "-m", "rlbook", "train", "--run", str(run), *TINY_FLAGS, *flags]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=background if ignore_sigint else None,
    )


def _wait_for_checkpoint(run: Path, process: subprocess.Popen, timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"training ended early: {process.communicate()}")
        step = RunFolder(run).last_complete_step()
        if step:
            return step
        time.sleep(0.2)
    process.kill()
    raise AssertionError("no checkpoint within the time allowed")


@pytest.mark.parametrize(
    "signum, background",
    [(signal.SIGINT, True), (signal.SIGTERM, True), (signal.SIGINT, False)],
    ids=["sigint-background", "sigterm-background", "sigint-foreground"],
)
def test_a_signal_saves_and_stops_the_run_within_seconds(tmp_path, signum, background):
    run = tmp_path / "run"
    process = _start_training(
        run, "--steps", "10000000", "--checkpoint-every", "400", ignore_sigint=background
    )
    _wait_for_checkpoint(run, process)
    process.send_signal(signum)
    sent = time.monotonic()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert time.monotonic() - sent < 20
    step = json.loads((run / "progress.json").read_text())["step"]
    assert 400 <= step < 10_000_000
    with np.load(run / "replay.npz") as saved:
        assert int(saved["step"]) == step  # the memory was saved with the final checkpoint
    assert "stopping after this step" not in err  # --quiet says nothing
    assert "Traceback" not in err


def test_a_second_process_is_refused_and_a_killed_one_leaves_a_resumable_run(tmp_path):
    run = tmp_path / "run"
    # Checkpoints and milestones every few steps, so the kill below lands among writes.
    flags = ["--steps", "10000000", "--checkpoint-every", "40", "--milestone-every", "80"]
    process = _start_training(run, *flags)
    _wait_for_checkpoint(run, process)
    with pytest.raises(RunError, match=rf"is being trained by process {process.pid} on "):
        train(DQNConfig(steps=20_000_000, **TINY), run, resume=True, progress=False)
    time.sleep(1.5)
    process.kill()  # SIGKILL: no handler runs, nothing is saved on the way out
    process.communicate()
    last = RunFolder(run).last_complete_step()
    assert last and last % 40 == 0

    # The lock died with its process, and the resume starts from the last complete state.
    config = DQNConfig(steps=last + 200, **{**TINY, "checkpoint_every": 40})
    train(config, run, resume=True, progress=False)
    assert RunFolder(run).last_complete_step() == last + 200
    log = read_log(run / "log.csv")
    assert np.all(np.diff(log["step"]) >= 0)
    assert np.array_equal(log["episode"], np.arange(1, len(log["episode"]) + 1))
    for index in sorted((run / "milestones").glob("*.index"))[-2:]:
        restore_agent(run, index)  # every milestone that looks whole is whole


def test_files_a_hard_kill_leaves_half_written_are_never_read(tmp_path):
    run = tmp_path / "run"
    train(DQNConfig(steps=400, milestone_every=200, **TINY), run, progress=False)
    # What a kill in the middle of each write leaves behind:
    (run / "checkpoints" / "ckpt-800.index").write_bytes(b"\0" * 10)  # a newer checkpoint
    (run / "progress.json.tmp").write_text('{"step": 8')  # the marker being replaced
    (run / "replay.npz.tmp").write_bytes(b"PK\3\4 cut")  # the replay memory being saved
    partial = run / "milestones" / ".partial"
    partial.mkdir(exist_ok=True)
    (partial / "step-000000600.data-00000-of-00001").write_bytes(b"\0" * 10)  # a milestone
    with (run / "log.csv").open("a") as f:
        f.write("412,9,1.0,1.0,1")  # a game's row cut short

    log = read_log(run / "log.csv")
    assert log["step"][-1] <= 400  # the cut row is left out
    with pytest.raises(RunError, match=r"no checkpoint at .*step-000000600"):
        restore_agent(run, run / "milestones" / "step-000000600")
    train(DQNConfig(steps=800, milestone_every=200, **TINY), run, resume=True, progress=False)
    assert RunFolder(run).last_complete_step() == 800
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert all(None not in row.values() for row in rows)  # the cut row went with the resume
    assert [int(r["episode"]) for r in rows] == list(range(1, len(rows) + 1))
    restore_agent(run, run / "milestones" / "step-000000600")  # written whole this time
    assert not partial.exists()
    assert not (run / "replay.npz.tmp").exists()  # replaced by the next save, then renamed


def test_a_full_disk_is_named_and_the_last_checkpoint_kept(tmp_path):
    """The scenario runs in its own mount namespace on a small tmpfs, so the test needs no
    clean-up if it fails half-way, and root (CI) or user namespaces (a laptop) both do."""
    disk = tmp_path / "disk"
    disk.mkdir()
    prefix = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    script = f"mount -t tmpfs -o size=8m tmpfs {disk} && {sys.executable} _full_disk.py {disk}"
    done = subprocess.run(
        ["unshare", *prefix, "--mount", "sh", "-c", script],
        cwd=TESTS,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and done.stdout.endswith("ok\n"), done.stdout + done.stderr
    assert "the replay memory was not saved (the disk holding" in done.stdout


@pytest.fixture
def finished_run(tmp_path) -> Path:
    run = tmp_path / "run"
    train(DQNConfig(steps=400, **TINY), run, progress=False)
    return run


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_a_damaged_run_folder_gets_a_one_line_error_naming_the_file(finished_run, capsys):
    run = finished_run
    resume = ["train", "--run", str(run), "--resume", "--steps", "800", "--quiet"]

    lines = (run / "log.csv").read_text().splitlines(keepends=True)
    (run / "log.csv").write_text("".join([*lines[:2], lines[2][:7] + "\n", *lines[3:]]))
    assert f"{run / 'log.csv'}, line 3, is damaged" in _one_line_error(capsys, resume)
    (run / "log.csv").write_text("".join(lines))

    progress = (run / "progress.json").read_text()
    (run / "progress.json").write_text(progress.replace('"step": 400', '"step": 360'))
    err = _one_line_error(capsys, resume)
    assert f"{run / 'progress.json'} names step 360, but" in err and "ckpt-360 is missing" in err
    (run / "progress.json").write_text("{not json")
    assert f"{run / 'progress.json'} is damaged" in _one_line_error(capsys, resume)
    (run / "progress.json").write_text(progress)

    config = (run / "config.json").read_text()
    (run / "config.json").write_text(config[: len(config) // 2])
    assert f"{run / 'config.json'} is not valid JSON" in _one_line_error(capsys, resume)
    err = _one_line_error(capsys, ["evaluate", str(run), "--episodes", "2"])
    assert f"{run / 'config.json'} is not valid JSON" in err
    (run / "config.json").write_text(config)
    assert main(resume) == 0  # mended, it resumes


def test_command_line_errors_are_one_line_without_tensorflow_logs(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "rlbook", "evaluate", str(tmp_path / "missing-folder")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"error: {tmp_path / 'missing-folder'} is not a run folder: "
        f"{tmp_path / 'missing-folder' / 'config.json'} is missing\n"
    )
    assert done.stdout == ""


def test_a_run_folder_written_by_an_earlier_rlbook_resumes(tmp_path):
    """``fixtures/old-run-catch`` was written by rlbook before the run folder had a module of
    its own (``fixtures/make_old_run.py``); its config.json lacks the fields added since."""
    run = tmp_path / "old-run"
    shutil.copytree(TESTS / "fixtures" / "old-run-catch", run)
    saved = json.loads((run / "config.json").read_text())
    assert "milestone_every" not in saved
    old = restore_agent(run)
    milestone = restore_agent(run, run / "milestones" / "step-000000400")
    obs = np.random.default_rng(0).integers(0, 255, (8, 4, 10, 10), dtype=np.uint8)
    np.testing.assert_allclose(milestone.q_values(obs), old.q_values(obs), rtol=1e-6)

    config = DQNConfig.from_json(run / "config.json")
    agent = train(dataclasses.replace(config, steps=800), run, resume=True, progress=False)
    assert RunFolder(run).last_complete_step() == 800
    assert not np.allclose(agent.q_values(obs), old.q_values(obs))  # it learned on
    log = read_log(run / "log.csv")
    assert log["step"][0] <= 400 < log["step"][-1]  # the old rows kept, new ones after
    assert np.array_equal(log["episode"], np.arange(1, len(log["episode"]) + 1))


def test_checkpoint_names_are_read_back_as_the_step_they_were_built_from(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.checkpoint(1410600) == tmp_path / "checkpoints" / "ckpt-1410600"
    assert folder.milestone(1250000) == tmp_path / "milestones" / "step-001250000"
    for step in (0, 400, 1410600, 12_500_000):
        assert checkpoint_step(checkpoint_name(step)) == step
        assert checkpoint_step(folder.milestone(step)) == step
    assert checkpoint_step(folder.checkpoint(400).with_suffix(".index")) == 400
    for name in ("weights-400", "ckpt-", "ckpt-4x", "step"):
        with pytest.raises(RunError, match=rf"{name} is named neither as a checkpoint"):
            checkpoint_step(name)


class _BundledAgent:
    """An agent that hands its state over as one bundle, and holds no network at all."""

    def __init__(self):
        self.weights = tf.Variable([1.0, 2.0])
        self.copy = tf.Variable([3.0])
        self.moments = tf.Variable([0.5])

    def checkpoint_state(self) -> dict[str, object]:
        return {"online": self.weights, "target": self.copy, "optimizer": self.moments}


def test_checkpoints_save_and_restore_whatever_bundle_the_agent_hands_over(tmp_path):
    folder = RunFolder(tmp_path / "run")
    agent = _BundledAgent()
    Checkpoints(folder, agent).save(40, progress_record(3, np.random.default_rng(0)))
    for variable in (agent.weights, agent.copy, agent.moments):
        variable.assign(tf.zeros_like(variable))
    progress = Checkpoints(folder, agent).restore()
    assert progress["step"] == 40 and progress["episode"] == 3
    assert agent.weights.numpy().tolist() == [1.0, 2.0]
    assert agent.copy.numpy().tolist() == [3.0] and agent.moments.numpy().tolist() == [0.5]


def test_starting_over_empties_a_run_without_a_checkpoint_and_refuses_one_with(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    (folder.path / "scores.csv").write_text("step,score\n")
    folder.config.write_text("{}")
    folder.tensorboard.mkdir()
    (folder.tensorboard / "events").write_text("")
    folder.start_over(keep=["scores.csv"])
    assert [p.name for p in folder.path.iterdir()] == ["scores.csv"]

    Checkpoints(folder, _BundledAgent()).save(40, progress_record(3, np.random.default_rng(0)))
    with pytest.raises(RunError, match=r"holds a checkpoint at step 40; resume it instead"):
        folder.start_over()
    assert folder.checkpoint(40).with_suffix(".index").exists()


def test_training_scores_average_the_last_games_finished_by_each_step():
    from rlbook.runs import training_scores

    log = {
        "step": np.arange(1, 11) * 100,
        "score": np.arange(10, dtype=float),
        "epsilon": np.linspace(1.0, 0.1, 10),
    }
    rows = training_scores(log, steps=[500, 1000, 2000], games=4)
    # By step 500 five games ended (scores 0-4): the last four average 2.5. Step 2000: not yet.
    assert [r["agent_steps"] for r in rows] == [500, 1000]
    assert rows[0]["mean"] == 2.5 and rows[1]["mean"] == 7.5
    assert rows[0]["epsilon"] == pytest.approx(0.6) and rows[0]["games"] == 4
    assert training_scores(log, steps=[200], games=4) == []  # fewer than four games by then
    # a step past the last game counts once the run is known to have reached it
    last = int(log["step"][-1])
    assert training_scores(log, steps=[last + 50], games=4) == []
    (row,) = training_scores(log, steps=[last + 50], games=4, reached=last + 50)
    assert row["mean"] == pytest.approx(log["score"][-4:].mean())


def test_scores_between_take_only_the_games_that_ended_in_each_stretch():
    from rlbook.runs import scores_between

    log = {
        "step": np.array([100, 150, 400, 450, 900, 1100]),
        "score": np.array([1.0, 3, 10, 20, 7, 5]),
    }
    rows = scores_between(log, edges=[0, 200, 300, 500, 800, 1000, 1200])
    # (200, 300] and (500, 800] hold no game; the log stops before 1200, so (1000, 1200] may
    # not be whole and is left out.
    assert [(r["agent_steps"], r["games"], r["mean"]) for r in rows] == [
        (200, 2, 2.0),
        (500, 2, 15.0),
        (1000, 1, 7.0),
    ]
    assert rows[1]["std"] == 5.0
    # a run that finished at 1200 has whole stretches to there, its last game or not
    rows = scores_between(log, edges=[1000, 1200, 1400], reached=1200)
    assert [(r["agent_steps"], r["games"]) for r in rows] == [(1200, 1)]
    assert scores_between({"step": np.array([]), "score": np.array([])}, [0, 100]) == []
