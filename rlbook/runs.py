"""The run folder: every file a DQN run keeps, the order they are written in, and reading them back.

A run lives in one folder:

    config.json      the DQNConfig of the run (with the update path it resolved to)
    log.csv          one row per finished game: real score, clipped return, length, max-Q, ...
    tensorboard/     the same per-game figures as TensorBoard summaries
    checkpoints/     online and target weights, optimizer, step (tf.train.CheckpointManager)
    milestones/      the online weights every ``milestone_every`` steps, kept for scoring later
    progress.json    what a resumed run needs besides the weights: the step, the episode count,
                     the random state of exploration. Written last, it is the marker of a
                     complete checkpoint: a reader trusts only the checkpoint it names.
    origin.json      for a run started from a shipped agent: how that agent was trained
    replay.npz       the replay memory, written when the run stops (interrupted or finished)
    train.lock       held (``flock``) by the process training the run; released when it exits

Every file is written beside its final name and renamed into place once complete, so a run
killed at any moment (SIGKILL, a power cut) leaves each file either as it was or whole. The
one exception is ``log.csv``, appended a row at a time: a row cut short by a kill lies past the
last checkpoint, and a resume drops it with the other rows past that checkpoint.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np

from rlbook._keras import tf
from rlbook.dqn import DQNAgent, DQNConfig
from rlbook.envs import make_game
from rlbook.files import (
    RunError,
    WriteError,
    fsync_path,
    holding_lock,
    write_atomically,
)
from rlbook.replay import ReplayMemory

LOG_FIELDS = [
    "step",
    "episode",
    "score",
    "clipped_return",
    "length",
    "avg_max_q",
    "loss",
    "epsilon",
    "steps_per_second",
    "wall_seconds",
]


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

    def holds_a_run(self) -> bool:
        return self.config.exists()

    def refuse_existing(self) -> None:
        if self.holds_a_run():
            raise RunError(
                f"{self.path} already holds a run; pass --resume to continue it, or another --run"
            )

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

    def milestone(self, step: int) -> Path:
        return self.milestones / f"step-{step:09d}"

    def locked(self):
        """Hold the folder's lock while a run writes to it; a second ``train`` is refused."""
        return holding_lock(self.lock_file, "trained")


# --- writing files whole -----------------------------------------------------------------------


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


# --- checkpoints and milestones ------------------------------------------------------------------


class Checkpoints:
    """Weights and optimizer through ``tf.train.CheckpointManager``; progress.json marks them."""

    def __init__(self, folder: RunFolder, agent: DQNAgent, keep: int = 2):
        self.folder = folder
        self.step = tf.Variable(0, dtype=tf.int64, name="step")
        self.checkpoint = tf.train.Checkpoint(
            online=agent.online, target=agent.target, optimizer=agent.optimizer, step=self.step
        )
        self.manager = tf.train.CheckpointManager(self.checkpoint, folder.checkpoints, keep)
        self.weights = tf.train.Checkpoint(online=agent.online)
        self.saved_step: int | None = None  # the step of the checkpoint on disk, once known

    def save(self, step: int, progress: dict) -> None:
        """Save the checkpoint of ``step``, then the progress.json that names it."""
        if step == self.saved_step:
            return  # a run that stops right after a checkpoint: nothing new to write
        self.step.assign(step)
        try:
            with disk_errors(f"the checkpoint at step {step}", self.folder.path):
                self.manager.save(checkpoint_number=step)
                for path in self.folder.checkpoints.glob(f"ckpt-{step}.*"):
                    fsync_path(path)
                write_atomically(self.folder.progress, json.dumps({"step": step, **progress}))
        except WriteError:
            if self.folder.last_complete_step() != step:  # never left looking like a checkpoint
                for path in self.folder.checkpoints.glob(f"ckpt-{step}.*"):
                    path.unlink(missing_ok=True)
            raise
        self.saved_step = step

    def save_milestone(self, step: int) -> None:
        """Keep the online weights at this step for good, for scoring the run as it went.

        Written under a temporary name and renamed, data before index: a milestone whose
        ``.index`` exists is whole.
        """
        final = self.folder.milestone(step)
        partial = self.folder.milestones / ".partial" / final.name
        with disk_errors(f"the milestone at step {step}", self.folder.path):
            written = Path(self.weights.write(str(partial)))
            for data in sorted(written.parent.glob(f"{written.name}.data-*")):
                fsync_path(data)
                os.replace(data, final.parent / data.name)
            index = written.with_name(written.name + ".index")
            fsync_path(index)
            os.replace(index, final.with_name(final.name + ".index"))
            fsync_path(final.parent)
            shutil.rmtree(partial.parent, ignore_errors=True)  # what a killed write left

    def restore(self) -> dict:
        """Load the checkpoint that progress.json names, and return that progress.

        progress.json is written after the weights, so it always names a complete checkpoint,
        even when a run was killed while saving a newer one.
        """
        progress = self.folder.read_progress()
        named = self.folder.checkpoints / f"ckpt-{progress['step']}"
        if not named.with_suffix(".index").exists():
            raise RunError(
                f"{self.folder.progress} names step {progress['step']}, but {named} is missing"
            )
        try:
            self.checkpoint.restore(str(named)).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            raise RunError(f"the checkpoint {named} does not fit this network: {error}") from error
        self.saved_step = int(progress["step"])
        return progress


def progress_record(episode: int, rng: np.random.Generator) -> dict:
    """What progress.json holds beside the step: the game count, exploration's random state."""
    return {"episode": episode, "rng": rng.bit_generator.state, "saved_at": time.time()}


def restore_agent(run: str | Path, checkpoint_path: str | Path | None = None) -> DQNAgent:
    """The agent of a run with its latest weights, or those of ``checkpoint_path`` (a milestone)."""
    folder = RunFolder(run)
    config = folder.load_config()
    latest = checkpoint_path or tf.train.latest_checkpoint(folder.checkpoints)
    if latest is None:
        raise RunError(f"{run} has no checkpoint (expected {folder.checkpoints})")
    latest = str(latest).removesuffix(".index")
    if not Path(latest + ".index").exists():
        raise RunError(f"no checkpoint at {latest} (a checkpoint is a pair of .index/.data files)")
    env = make_game(config.game, 1)
    agent = DQNAgent(config.for_acting(), env.obs_shape, env.n_actions)
    env.close()
    try:
        # read, not restore: a milestone holds the weights alone, without a save counter.
        checkpoint = tf.train.Checkpoint(online=agent.online)
        checkpoint.read(latest).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as error:
        raise RunError(
            f"the checkpoint {latest} does not fit a {config.game} network: {error}"
        ) from error
    agent.sync_target()
    return agent


# --- the per-game log ----------------------------------------------------------------------------


def _log_rows(path: Path) -> list[dict]:
    """The complete rows of a ``log.csv``.

    A last row without its newline was cut short by a kill (it lies past every checkpoint) and
    is left out; any other damage is an error that names the line.
    """
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(complete, newline=""))
    rows = list(reader)
    if reader.fieldnames is not None and reader.fieldnames != LOG_FIELDS:
        raise RunError(f"{path} has the columns {reader.fieldnames}, not {LOG_FIELDS}")
    for number, row in enumerate(rows, start=2):
        try:
            if None in row or None in row.values():
                raise ValueError(f"{len(LOG_FIELDS)} fields expected")
            for name, kind in (("step", int), ("episode", int), ("wall_seconds", float)):
                kind(row[name])  # a ValueError unless it is a number
        except ValueError as error:
            raise RunError(f"{path}, line {number}, is damaged ({error}): {row}") from error
    return rows


def read_log(path: str | Path) -> dict[str, np.ndarray]:
    """A run's ``log.csv`` as one array per column; blanks (no loss yet, say) become NaN."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"no game log at {path}")
    rows = _log_rows(path)
    if not rows:
        raise RunError(f"{path} holds no finished game yet")
    return {k: np.array([float(r[k]) if r[k] != "" else np.nan for r in rows]) for k in LOG_FIELDS}


class GameLog:
    """Per-game rows in ``log.csv`` and TensorBoard; on resume, rows past the checkpoint go."""

    def __init__(self, folder: RunFolder, resume_step: int | None):
        self.wall_seconds = 0.0  # training time before this sitting, so the log's clock goes on
        path = folder.log
        if resume_step is not None and path.exists():
            rows = [r for r in _log_rows(path) if int(r["step"]) <= resume_step]
            self.wall_seconds = float(rows[-1]["wall_seconds"]) if rows else 0.0
            with disk_errors("log.csv", folder.path):
                write_atomically(path, _csv_text(rows, header=True))
        new = not path.exists()
        self.file = path.open("a", newline="")
        if new:
            self.file.write(_csv_text([], header=True))
        self.summaries = tf.summary.create_file_writer(str(folder.tensorboard))
        self.folder = folder

    def write(self, row: dict) -> None:
        with disk_errors("the game log", self.folder.path):
            self.file.write(_csv_text([row]))  # one write a row: a kill cuts one row at most
            self.file.flush()
            with self.summaries.as_default(step=row["step"]):
                for name in LOG_FIELDS[2:-1]:  # all but the counters and the clock
                    if row[name] != "":
                        tf.summary.scalar(f"episode/{name}", float(row[name]))

    def close(self) -> None:
        with disk_errors("the game log", self.folder.path):
            self.file.close()
            self.summaries.close()


def _csv_text(rows: list[dict], header: bool = False) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, LOG_FIELDS)
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


# --- the replay memory ---------------------------------------------------------------------------


def save_replay(folder: RunFolder, memory: ReplayMemory, step: int) -> None:
    """Write the replay memory whole, or leave the one before; a failure only warns, since a
    resumed run can refill the memory."""
    tmp = folder.path / "replay.tmp.npz"
    try:
        np.savez(tmp, step=np.int64(step), **memory.state_dict())
        fsync_path(tmp)
        os.replace(tmp, folder.replay)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        reason = f"the disk holding {folder.path} is full" if error.errno == errno.ENOSPC else error
        print(f"warning: the replay memory was not saved ({reason}); a resumed run refills it")


def load_replay(folder: RunFolder, memory: ReplayMemory, step: int) -> None:
    """Fill ``memory`` from the one saved at ``step``; otherwise leave it empty to refill."""
    path = folder.replay
    if not path.exists():
        return
    try:
        with np.load(path) as saved:
            if int(saved["step"]) != step:
                print(f"note: {path} is from step {int(saved['step'])}, not {step}; refilling")
                return
            memory.load_state_dict(saved)  # array by array: never two copies in memory at once
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as error:
        # load_state_dict sets the size last, so a half-read file leaves the memory empty.
        print(f"note: {path} could not be read ({error}); refilling the replay memory instead")
        return
    memory.break_lanes()
