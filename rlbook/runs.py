"""The run folder: every file a DQN run keeps, the order they are written in, and reading them back.

A run lives in one folder:

    config.json      the DQNConfig of the run (with the update path it resolved to)
    log.csv          one row per finished game: real score, clipped return, length, max-Q, ...
    tensorboard/     the same per-game figures as TensorBoard summaries
    checkpoints/     the agent's state (online and target weights, optimizer) and the step
    milestones/      the online weights every ``milestone_every`` steps, kept for scoring later
    progress.json    what a resumed run needs besides the weights: the step, the episode count,
                     the random state of exploration. Written last, it is the marker of a
                     complete checkpoint: a reader trusts only the checkpoint it names.
    origin.json      for a run started from a shipped agent: how that agent was trained
    replay.npz       the replay memory, written when the run stops (interrupted or finished)
    train.lock       held (``flock``) by the process training the run; released when it exits

Every file is written beside its final name and renamed into place once complete
(``rlbook.files.writing_whole``), so a run killed at any moment (SIGKILL, a power cut) leaves
each file either as it was or whole. The one exception is ``log.csv``, appended a row at a time
(``rlbook.game_log``).

This module is the run folder's front door; each part has its own module: the names in
``rlbook.run_folder`` (``RunFolder``, ``checkpoint_name`` and ``checkpoint_step``), the agent's
state in ``rlbook.checkpoints``, the per-game log in ``rlbook.game_log`` and the replay memory's
file in ``rlbook.replay_file``. The training loop calls them and never opens a file itself.
"""

from rlbook.checkpoints import Checkpoints, progress_record, restore_agent
from rlbook.files import RunError, WriteError
from rlbook.game_log import LOG_FIELDS, GameLog, read_log, scores_between, training_scores
from rlbook.replay_file import load_replay, save_replay
from rlbook.run_folder import RunFolder, checkpoint_name, checkpoint_step, disk_errors

__all__ = [
    "LOG_FIELDS",
    "Checkpoints",
    "GameLog",
    "RunError",
    "RunFolder",
    "WriteError",
    "checkpoint_name",
    "checkpoint_step",
    "disk_errors",
    "load_replay",
    "progress_record",
    "read_log",
    "restore_agent",
    "save_replay",
    "scores_between",
    "training_scores",
]
