"""Writing files whole and holding folders, for run folders and sweep folders alike.

Nothing here needs TensorFlow, so a sweep's driver and its FrozenLake trials use it without
loading it; ``rlbook.runs`` builds the run folder on top.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class RunError(RuntimeError):
    """A run folder that cannot be used as asked (exists, missing, damaged, locked, ...)."""


class WriteError(RunError):
    """A file of the run folder could not be written (a full disk, most often)."""


@contextlib.contextmanager
def holding_lock(lock_file: Path, doing: str):
    """Hold ``lock_file`` (``flock``); if another process has it, refuse and name that process.

    ``flock`` locks die with their process, so a process killed hard leaves no lock that blocks
    the next one.
    """
    folder = lock_file.parent
    folder.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunError(
                f"{folder} is being {doing} by {holder}; stop it first, or use another --run"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} on {os.uname().nodename}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def fsync_path(path: Path) -> None:
    """Flush a file, or a folder's list of names, to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` beside ``path``, flush it to disk, then rename it into place."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)
