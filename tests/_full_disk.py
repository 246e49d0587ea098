"""A run on a disk that fills up; ``test_runs.py`` runs this on a small private tmpfs.

Run as ``python _full_disk.py DISK`` where DISK is an empty, small, dedicated file system.
Prints ``ok`` once every check has passed.
"""

import dataclasses
import json
import shutil
import sys
from pathlib import Path

from rlbook.dqn import DQNConfig
from rlbook.runs import WriteError
from rlbook.train import train


def fill(disk: Path, leave: int) -> Path:
    """Take all of the disk's free space but ``leave`` bytes."""
    filler = disk / "filler"
    filler.unlink(missing_ok=True)
    with filler.open("wb") as f:
        f.write(b"\0" * max(shutil.disk_usage(disk).free - leave, 0))
    return filler


def step_named(run: Path) -> int:
    return json.loads((run / "progress.json").read_text())["step"]


def main(disk: Path) -> None:
    run = disk / "run"
    config = DQNConfig(
        game="Catch",
        network="small",
        steps=400,
        num_envs=4,
        buffer_size=20_000,  # a replay memory of about 2 MB, a checkpoint of about 1 MB
        learning_starts=200,
        checkpoint_every=400,
    )
    train(config, run, progress=False)
    replay_size = (run / "replay.npz").stat().st_size
    checkpoint_size = sum(p.stat().st_size for p in (run / "checkpoints").glob("ckpt-400.*"))
    assert replay_size > 1.5 * checkpoint_size, (replay_size, checkpoint_size)

    # Room for a checkpoint but not for the replay memory: the run stops complete, and warns.
    filler = fill(disk, leave=int(1.3 * checkpoint_size))
    train(dataclasses.replace(config, steps=800), run, resume=True, progress=False)
    assert step_named(run) == 800
    assert not (run / "replay.tmp.npz").exists()
    filler.unlink()

    # No room for a checkpoint: a clear error, and the last complete checkpoint stays named.
    fill(disk, leave=20_000)
    try:
        train(dataclasses.replace(config, steps=1200), run, resume=True, progress=False)
    except WriteError as error:
        message = str(error)
    else:
        raise AssertionError("a checkpoint was written to a full disk")
    assert f"the disk holding {run} is full" in message, message
    assert "the last complete checkpoint: step 800" in message, message
    assert step_named(run) == 800
    assert not list((run / "checkpoints").glob("ckpt-1200.*"))  # nothing half-written kept
    assert not list(run.glob("*.tmp*"))
    print(message)

    # Once there is room again, the run goes on from the last complete checkpoint.
    (disk / "filler").unlink()
    train(dataclasses.replace(config, steps=1200), run, resume=True, progress=False)
    assert step_named(run) == 1200
    print("ok")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
