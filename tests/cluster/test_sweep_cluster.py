"""A sweep driven from its own process across a head and two worker nodes, token auth on."""

import time

import pytest
from sweeps import (
    EVENT,
    assert_each_score_once,
    event_lines,
    places,
    run_sweep,
    sweep_command,
)


def test_a_sweep_runs_its_trials_on_every_node_and_says_one_line_per_event(cluster, tmp_path):
    folder = tmp_path / "catch"
    started = time.perf_counter()
    command = sweep_command(folder, cluster.address, 800, 400, "0-3")
    done = run_sweep(command, cluster.env)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # Ray's own messages went to the sweep folder's log
    assert (folder / "ray.log").exists()
    trials = [f"dqn-seed{s}" for s in range(4)]
    assert_each_score_once(folder, trials, [400, 800])
    events = event_lines(done.stdout)
    assert [line for line in events if not EVENT.fullmatch(line)] == []
    assert sorted(events) == sorted(set(events))  # no line twice
    # Where each trial ran: every trial once, from the start, on more than one node.
    where = places(folder)
    assert sorted(where) == trials and all(len(rows) == 1 for rows in where.values())
    assert all(rows[0]["from_step"] == "0" for rows in where.values())
    per_node = {}
    for rows in where.values():
        per_node[rows[0]["node"][:8]] = per_node.get(rows[0]["node"][:8], 0) + 1
    assert len(per_node) >= 2, per_node
    # Catch got the small network without being asked: its frames are too small for Nature's.
    config = (folder / "trials" / "dqn-seed0" / "config.json").read_text()
    assert '"network": "small"' in config
    print(f"\n4 Catch trials on 2 worker nodes in {seconds:.1f} s; trials per node: {per_node}")
    # Resumed once finished, it runs nothing and adds no place or score.
    again = run_sweep([*command, "--resume"], cluster.env)
    assert again.returncode == 0, again.stderr
    assert event_lines(again.stdout) == []
    assert places(folder) == where
    assert_each_score_once(folder, trials, [400, 800])


@pytest.mark.parametrize("token", ["wrong", "missing"])
def test_a_driver_without_the_clusters_token_gets_one_line(cluster, tmp_path, token):
    env = {**cluster.env, "HOME": str(tmp_path)}  # no ~/.ray/auth_token to fall back on
    if token == "wrong":
        env["RAY_AUTH_TOKEN"] = "0" * 64
    else:
        del env["RAY_AUTH_TOKEN"], env["RAY_AUTH_MODE"]
    done = run_sweep(sweep_command(tmp_path / "s", cluster.address, 800, 400, "0"), env, 120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "refused this driver's token" in lines[0] and cluster.address in lines[0]
    assert "RAY_AUTH_TOKEN" in lines[0]
    assert not (tmp_path / "s" / "sweep.json").exists()


def test_a_trial_no_node_can_hold_is_refused_before_any_starts(cluster, tmp_path):
    folder = tmp_path / "big"
    command = sweep_command(folder, cluster.address, 800, 400, "0-1")
    command += ["--set", "buffer_size=100_000_000"]  # Catch: 108 bytes each, 10.8 GB
    done = run_sweep(command, cluster.env, 120)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "trial dqn-seed0 needs 10,800,000,000 bytes" in line
    assert f"the largest node of the Ray cluster has {cluster.memory:,} bytes" in line
    assert not (folder / "trials").exists() and not (folder / "sweep.json").exists()
