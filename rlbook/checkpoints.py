"""Checkpoints and milestones: the agent's state saved, marked complete, and restored."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from rlbook._keras import tf
from rlbook.dqn import DQNAgent
from rlbook.files import RunError, WriteError, fsync_path, move_into_place, write_atomically
from rlbook.games import make_game
from rlbook.run_folder import CHECKPOINT_PREFIX, RunFolder, disk_errors


class Checkpoints:
    """The agent's state through ``tf.train.CheckpointManager``; progress.json marks it complete."""

    def __init__(self, folder: RunFolder, agent: DQNAgent, keep: int = 2):
        self.folder = folder
        self.step = tf.Variable(0, dtype=tf.int64, name="step")
        # The agent hands its state over as one bundle, named as the checkpoint keeps it; a
        # milestone keeps its "online" network alone, the one that acts.
        state = agent.checkpoint_state()
        self.checkpoint = tf.train.Checkpoint(**state, step=self.step)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, folder.checkpoints, keep, checkpoint_name=CHECKPOINT_PREFIX
        )
        self.weights = tf.train.Checkpoint(online=state["online"])
        self.saved_step: int | None = None  # the step of the checkpoint on disk, once known

    def save(self, step: int, progress: dict) -> None:
        """Save the checkpoint of ``step``, then the progress.json that names it."""
        if step == self.saved_step:
            return  # a run that stops right after a checkpoint: nothing new to write
        self.step.assign(step)
        named = self.folder.checkpoint(step)
        try:
            with disk_errors(f"the checkpoint at step {step}", self.folder.path):
                self.manager.save(checkpoint_number=step)
                for path in named.parent.glob(f"{named.name}.*"):
                    fsync_path(path)
                write_atomically(self.folder.progress, json.dumps({"step": step, **progress}))
        except WriteError:
            if self.folder.last_complete_step() != step:  # never left looking like a checkpoint
                for path in named.parent.glob(f"{named.name}.*"):
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
                move_into_place(data, final.parent / data.name)
            index = written.with_name(written.name + ".index")
            move_into_place(index, final.with_name(final.name + ".index"))
            fsync_path(final.parent)
            shutil.rmtree(partial.parent, ignore_errors=True)  # what a killed write left

    def restore(self) -> dict:
        """Load the checkpoint that progress.json names, and return that progress.

        progress.json is written after the weights, so it always names a complete checkpoint,
        even when a run was killed while saving a newer one.
        """
        progress = self.folder.read_progress()
        named = self.folder.checkpoint(progress["step"])
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
    _checkpoint_prefix(latest)  # a wrong path is named before a network is built
    env = make_game(config.game, 1)
    agent = DQNAgent(config.for_acting(), env.obs_shape, env.n_actions)
    env.close()
    read_network(agent, latest, config.game)
    return agent


def _checkpoint_prefix(checkpoint_path: str | Path) -> str:
    """The prefix TensorFlow reads a checkpoint by (``.index`` dropped), once it is known whole."""
    prefix = str(checkpoint_path).removesuffix(".index")
    if not Path(prefix + ".index").exists():
        raise RunError(f"no checkpoint at {prefix} (a checkpoint is a pair of .index/.data files)")
    return prefix


def read_network(agent: DQNAgent, checkpoint_path: str | Path, game: str) -> None:
    """Put the acting network of ``checkpoint_path`` (a checkpoint or milestone) into ``agent``.

    The target network gets a copy. ``game`` names the network in the error when it does not fit.
    """
    prefix = _checkpoint_prefix(checkpoint_path)
    try:
        # read, not restore: a milestone holds the weights alone, without a save counter.
        checkpoint = tf.train.Checkpoint(online=agent.checkpoint_state()["online"])
        checkpoint.read(prefix).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as error:
        raise RunError(f"the checkpoint {prefix} does not fit a {game} network: {error}") from error
    agent.sync_target()
