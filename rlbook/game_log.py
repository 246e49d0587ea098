"""The per-game log of a run: ``log.csv`` and TensorBoard, written a game at a time, read back."""

from __future__ import annotations

import csv
import io
from itertools import pairwise
from pathlib import Path

import numpy as np

from rlbook._keras import tf
from rlbook.files import RunError, write_atomically
from rlbook.run_folder import RunFolder, disk_errors

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


def _reached(log: dict[str, np.ndarray], reached: int | None) -> int:
    """The last step a run reached: its last game's, or ``reached`` (a finished run's last
    step, from its progress) where that is later; -1 for a run with no game and no step."""
    last_step = log["step"][-1] if log["step"].size else -1
    return max(last_step, reached if reached is not None else -1)


def training_scores(
    log: dict[str, np.ndarray], steps, games: int = 100, reached: int | None = None
) -> list[dict]:
    """The mean and spread of the last ``games`` training games finished by each of ``steps``.

    How a run's own games went, at the epsilon it was exploring with then (also given): the
    measure that curves of training returns report. Steps the run has not reached are left out:
    those past its last game, or past ``reached``, the step a run's progress records, which for
    a finished run lies past its last game.
    """
    rows = []
    reached = _reached(log, reached)
    for step in steps:
        done = np.flatnonzero(log["step"] <= step)
        if reached < step or done.size < games:
            continue
        last = done[-games:]
        scores = log["score"][last]
        epsilon = float(log["epsilon"][last[-1]])
        rows.append(
            {
                "agent_steps": int(step),
                "games": games,
                "epsilon": epsilon,
                "mean": float(scores.mean()),
                "std": float(scores.std()),
            }
        )
    return rows


def scores_between(log: dict[str, np.ndarray], edges, reached: int | None = None) -> list[dict]:
    """The mean and spread of the training games finished in each stretch between ``edges``.

    Row ``i`` holds the games that ended after ``edges[i]`` and by ``edges[i + 1]`` (its
    ``agent_steps``): how a run went from one stretch to the next, where ``training_scores``
    smooths over the last games whenever they ended. Stretches the run has not reached (past
    its last game, or past ``reached``, as in ``training_scores``), or in which no game ended,
    are left out.
    """
    rows = []
    reached = _reached(log, reached)
    for start, end in pairwise(edges):
        if reached < end:
            break
        scores = log["score"][(log["step"] > start) & (log["step"] <= end)]
        if scores.size:
            rows.append(
                {
                    "agent_steps": int(end),
                    "games": int(scores.size),
                    "mean": float(scores.mean()),
                    "std": float(scores.std()),
                }
            )
    return rows


class GameLog:
    """Per-game rows in ``log.csv`` and TensorBoard; on resume, rows past the checkpoint go.

    The one file of a run folder not written whole: appended a row at a time, a row cut short
    by a kill lies past the last checkpoint, and a resume drops it with the other rows past it.
    """

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
