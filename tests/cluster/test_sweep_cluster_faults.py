"""A sweep on the loopback cluster that loses a worker node, its driver, or the head."""

import subprocess
import time

import pytest
from loopback import LoopbackCluster
from sweeps import (
    EVENT,
    assert_each_score_once,
    event_lines,
    places,
    read_csv,
    run_sweep,
    sweep_command,
)

from rlbook.sweep.results import read_scores

pytestmark = pytest.mark.faults


def start_sweep(command, env) -> subprocess.Popen:
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(check, what: str, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout} s for {what}")


def test_a_trial_whose_node_is_lost_goes_on_from_its_checkpoint_elsewhere(cluster, tmp_path):
    from rlbook.runs import RunFolder, read_log

    cluster.add_workers(2 - len(cluster.workers))
    folder, steps = tmp_path / "lost-node", 3200
    sweep = start_sweep(sweep_command(folder, cluster.address, steps, 400, "0-1"), cluster.env)

    def trained_partly():
        for trial in (folder / "trials").glob("*"):
            if (trial / "nodes.csv").exists():
                step = RunFolder(trial).last_complete_step()
                if step and step <= steps - 800:
                    return trial
        return None

    victim = wait_for(trained_partly, "a trial past its first checkpoint")
    cluster.kill_node_of(int(read_csv(victim / "nodes.csv")[-1]["pid"]))
    saved = RunFolder(victim).last_complete_step()  # the dead process saves no more
    out, err = sweep.communicate(timeout=600)
    assert sweep.returncode == 0, err
    assert err == ""
    trials = ["dqn-seed0", "dqn-seed1"]
    assert_each_score_once(folder, trials, list(range(400, steps + 1, 400)))
    first, second = places(folder)[victim.name]
    assert first["node"] != second["node"] and int(second["from_step"]) == saved > 0
    events = event_lines(out)
    assert [line for line in events if not EVENT.fullmatch(line)] == []
    assert f"{victim.name}: lost on node {first['node'][:8]}" in out
    assert f"{victim.name}: running on node {second['node'][:8]}" in out
    assert f"from step {saved:,}" in out
    assert len(events) == len(set(events))  # each score said once, though reported again
    steps_logged = read_log(victim / "log.csv")["step"]
    assert (steps_logged[1:] >= steps_logged[:-1]).all()  # one writer: steps never go back
    print(f"\n{victim.name} lost its node at a checkpoint of step {saved} and went on from it")


def test_a_sweep_whose_driver_is_killed_resumes_without_running_finished_trials(cluster, tmp_path):
    from rlbook.runs import read_log

    cluster.add_workers(2 - len(cluster.workers))
    folder, steps = tmp_path / "lost-driver", 1600
    command = sweep_command(folder, cluster.address, steps, 400, "0-3")
    driver = start_sweep(command, cluster.env)

    def states():
        complete, partial = [], []
        for trial in sorted((folder / "trials").glob("*")):
            if steps in read_scores(trial):
                complete.append(trial)
            elif 400 in read_scores(trial):
                partial.append(trial)
        return (complete, partial) if complete and partial else None

    finished, _ = wait_for(states, "one trial finished and another halfway")
    driver.kill()
    driver.wait()
    before = {p: p.stat().st_mtime_ns for t in finished for p in t.rglob("*") if p.is_file()}
    started = time.perf_counter()
    resumed = run_sweep([*command, "--resume"], cluster.env)
    seconds = time.perf_counter() - started
    assert resumed.returncode == 0, resumed.stderr
    trials = [f"dqn-seed{s}" for s in range(4)]
    assert_each_score_once(folder, trials, [400, 800, 1200, 1600])
    for trial in finished:
        assert f"{trial.name}: running" not in resumed.stdout
    assert {p: p.stat().st_mtime_ns for p in before} == before
    for trial in trials:
        logged = read_log(folder / "trials" / trial / "log.csv")["step"]
        assert (logged[1:] >= logged[:-1]).all()
    print(
        f"\nthe driver was killed with {len(finished)} of 4 trials finished; "
        f"--resume finished the sweep in {seconds:.1f} s"
    )


def test_a_driver_that_loses_the_head_fails_within_seconds_saying_how_to_go_on(tmp_path):
    own = LoopbackCluster(workers=1)
    try:
        folder = tmp_path / "lost-head"
        driver = start_sweep(sweep_command(folder, own.address, 40_000, 400, "0"), own.env)
        wait_for(lambda: (folder / "trials" / "dqn-seed0" / "nodes.csv").exists(), "the trial")
        own.kill_head()
        lost = time.perf_counter()
        _, err = driver.communicate(timeout=120)
        seconds = time.perf_counter() - lost
    finally:
        own.stop()
    assert driver.returncode == 3 and seconds < 15, (seconds, err)
    (line,) = err.strip().splitlines()
    assert f"lost the Ray cluster's head at {own.address}" in line
    assert f"--run {folder} --resume" in line
    print(f"\nthe driver failed {seconds:.1f} s after the head was lost")
