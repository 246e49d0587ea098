"""The files of a run folder by name, and the checks made before a run writes to it."""

from __future__ import annotations

import contextlib
import errno
import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from rlbook._keras import tf
from rlbook.dqn import DQNConfig
from rlbook.files import RunError, WriteError, holding_lock, write_atomically

# tf.train.CheckpointManager's own default prefix: the name every earlier run's checkpoints have.
CHECKPOINT_PREFIX = "ckpt"
MILESTONE_PREFIX = "step"


def checkpoint_name(step: int, milestone: bool = False) -> str:
    """The name of the checkpoint at ``step`` (``ckpt-1410600``) or of a milestone
    (``step-001250000``, zero-padded so that milestones sort by step)."""
    return f"{MILESTONE_PREFIX}-{step:09d}" if milestone else f"{CHECKPOINT_PREFIX}-{step}"


def checkpoint_step(path: str | Path) -> int:
    """The step of a checkpoint or milestone, read back from its name (``checkpoint_name``)."""
    name = Path(path).name.removesuffix(".index")
    prefix, _, number = name.rpartition("-")
    if prefix not in (CHECKPOINT_PREFIX, MILESTONE_PREFIX) or not number.isdigit():
        raise RunError(
            f"{path} is named neither as a checkpoint ({checkpoint_name(1410600)}) "
            f"nor as a milestone ({checkpoint_name(1250000, milestone=True)})"
        )
    return int(number)


class RunFolder:
    """The paths of one run folder, and the checks made before a run writes to it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config = self.path / "config.json"
        self.log = self.path / "log.csv"
        self.tensorboard = self.path / "tensorboard"
        self.checkpoints = self.path / "checkpoints"
        self.milestones = self.path / "milestones"
        self.progress = self.path / "progress.json"
        self.origin = self.path / "origin.json"
        self.replay = self.path / "replay.npz"
        self.lock_file = self.path / "train.lock"

    def __str__(self) -> str:
        return str(self.path)

    def checkpoint(self, step: int) -> Path:
        return self.checkpoints / checkpoint_name(step)

    def milestone(self, step: int) -> Path:
        return self.milestones / checkpoint_name(step, milestone=True)

    def holds_a_run(self) -> bool:
        return self.config.exists()

    def refuse_existing(self) -> None:
        if self.holds_a_run():
            raise RunError(
                f"{self.path} already holds a run; pass --resume to continue it, or another --run"
            )

    def start_over(self, keep: Iterable[str] = ()) -> None:
        """Empty a run that stopped before its first checkpoint, but for the files in ``keep``.

        Such a run has nothing to go on from; a run with a checkpoint is refused, since its
        training would be lost.
        """
        step = self.last_complete_step()
        if step is not None:
            raise RunError(f"{self.path} holds a checkpoint at step {step}; resume it instead")
        for path in self.path.iterdir():
            if path.name not in keep:
                shutil.rmtree(path) if path.is_dir() else path.unlink()

    def load_config(self) -> DQNConfig:
        if not self.config.is_file():
            raise RunError(f"{self.path} is not a run folder: {self.config} is missing")
        try:
            return DQNConfig.from_json(self.config)
        except json.JSONDecodeError as error:
            raise RunError(f"{self.config} is not valid JSON ({error}); is it damaged?") from error
        except (TypeError, ValueError) as error:
            raise RunError(f"{self.config} does not hold a valid DQN config: {error}") from error

    def check_resumable(self, config: DQNConfig) -> None:
        """Refuse to resume with settings the checkpoint and replay memory do not fit."""
        saved = self.load_config()
        for name in ("game", "network", "adam", "num_envs", "buffer_size"):
            if getattr(saved, name) != getattr(config, name):
                raise RunError(
                    f"cannot resume {self.path}: it was trained with "
                    f"{name}={getattr(saved, name)!r}, not {getattr(config, name)!r}"
                )

    def write_config(self, config: DQNConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with disk_errors("config.json", self.path):
            write_atomically(self.config, config.to_json())

    def read_progress(self) -> dict:
        try:
            progress = json.loads(self.progress.read_text())
            complete = {"step", "episode", "rng"} <= set(progress)
            if not complete or not isinstance(progress["step"], int):
                raise ValueError("it needs an integer step, an episode count and an rng state")
        except FileNotFoundError as error:
            raise RunError(f"{self.path} has no checkpoint to resume from") from error
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise RunError(
                f"{self.progress} is damaged ({error!r}); it cannot be resumed"
            ) from error
        return progress

    def last_complete_step(self) -> int | None:
        """The step of the checkpoint progress.json names, or None when there is none."""
        with contextlib.suppress(RunError):
            return int(self.read_progress()["step"])
        return None

    @contextlib.contextmanager
    def telling_where_to_resume(self):
        """Add to a write that fails mid-run (a full disk) the step a resume starts from."""
        try:
            yield
        except WriteError as error:
            step = self.last_complete_step()
            where = f"step {step}" if step is not None else "none yet"
            raise WriteError(f"{error}; the last complete checkpoint: {where}") from error

    def locked(self):
        """Hold the folder's lock while a run writes to it; a second ``train`` is refused."""
        return holding_lock(self.lock_file, "trained")


@contextlib.contextmanager
def disk_errors(what: str, run: Path):
    """Turn a failed write into a ``RunError`` that names the file, the folder and the disk."""
    try:
        yield
    except (OSError, tf.errors.OpError) as error:
        full = getattr(error, "errno", None) == errno.ENOSPC or "space left" in str(error)
        if full:
            free = shutil.disk_usage(run).free if run.exists() else 0
            reason = f"the disk holding {run} is full ({free / 1e6:.1f} MB free)"
        else:
            reason = str(error)
        raise WriteError(f"could not write {what} to {run}: {reason}") from error
