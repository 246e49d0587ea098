"""What a sweep and a run check before they start: memory, the game's network, storage, a lock."""

import threading
import time

import pytest

from rlbook import memory, sweep
from rlbook.dqn_config import DQNConfig
from rlbook.files import RunError
from rlbook.sweep.trials import check_sees_sweep, holding_trial


def test_a_replay_memory_costs_its_frames_and_flags_per_transition():
    # 84x84 frames stored once, a uint8 action, a float32 reward, three flags: 7,064 bytes.
    assert memory.replay_bytes(DQNConfig(buffer_size=1_000_000)) == 7_064_000_000
    catch = DQNConfig(game="Catch", network="small", buffer_size=1000)
    assert memory.replay_bytes(catch) == 1000 * (10 * 10 + 8)


def test_a_run_whose_replay_memory_cannot_fit_is_refused_naming_both_sizes():
    config = DQNConfig(buffer_size=10_000_000)
    with pytest.raises(RunError) as refused:
        memory.check_replay_fits(config, available=16 * 2**30)
    assert str(refused.value) == (
        "the replay memory of 10,000,000 transitions needs 70,640,000,000 bytes (65.8 GiB), but "
        "this machine has 17,179,869,184 bytes (16.0 GiB) free; lower --buffer-size or free memory"
    )
    assert memory.check_replay_fits(DQNConfig(buffer_size=100_000)) == 706_400_000
    assert 0 < memory.available_bytes()


def test_a_sweep_in_this_process_refuses_a_trial_this_machine_cannot_hold(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 10**6)
    spec = sweep.SweepSpec(game="Catch", settings={"buffer_size": 100_000, "steps": 400})
    with pytest.raises(RunError, match=r"trial dqn-seed0's replay memory needs 10,800,000 bytes"):
        sweep.run(spec, tmp_path / "s", on_ray=False)
    assert not (tmp_path / "s" / "sweep.json").exists()


def test_catch_gets_the_small_network_unless_the_sweep_names_one():
    (trial,) = sweep.SweepSpec(game="Catch", seeds=[0]).trials()
    assert trial.config["network"] == "small"
    (trial,) = sweep.SweepSpec(game="Breakout", seeds=[0]).trials()
    assert trial.config["network"] == "nature"
    nature_on_catch = sweep.SweepSpec(game="Catch", settings={"network": "nature"}, seeds=[0])
    with pytest.raises(ValueError, match="the nature network needs frames of at least 36x36"):
        nature_on_catch.trials()


def test_a_node_that_cannot_see_the_sweep_folder_fails_its_trial_saying_so(tmp_path):
    mark = tmp_path / "sweep" / "sitting"
    with pytest.raises(RunError, match=r"node ab12 \(10.0.0.7\) cannot see the sweep folder"):
        check_sees_sweep(mark, "a1b2", "ab12 (10.0.0.7)")
    mark.parent.mkdir()
    mark.write_text("an older sitting")
    with pytest.raises(RunError, match="mount the sweep folder at the same path"):
        check_sees_sweep(mark, "a1b2", "ab12 (10.0.0.7)")
    mark.write_text("a1b2")
    check_sees_sweep(mark, "a1b2", "ab12 (10.0.0.7)")


def test_a_trial_folder_is_trained_by_one_process_at_a_time(tmp_path):
    held, released = threading.Event(), threading.Event()

    def old_process():
        with holding_trial(tmp_path, wait_s=0):
            held.set()
            released.wait(10)

    thread = threading.Thread(target=old_process)
    thread.start()
    held.wait(10)
    # flock locks belong to open files, so a second opening waits even in the same process.
    with pytest.raises(RunError, match=r"is still being trained by process \d+"):
        with holding_trial(tmp_path, wait_s=0.6):
            pass
    threading.Timer(0.5, released.set).start()
    started = time.perf_counter()
    with holding_trial(tmp_path, wait_s=10):
        waited = time.perf_counter() - started
    thread.join()
    assert 0.3 < waited < 5
