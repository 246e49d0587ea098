"""Writing files whole and holding folders, for run folders and sweep folders alike.

Nothing here needs TensorFlow, so a sweep's driver and its FrozenLake trials use it without
loading it; ``rlbook.runs`` builds the run folder on top.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
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


def move_into_place(written: Path, path: Path) -> None:
    """Flush the finished file ``written`` to disk and rename it to ``path``.

    A rename within a folder is atomic: a reader of ``path`` finds the old file or the new one,
    never a part of either. The folder itself is flushed by the caller, once per batch of moves.
    """
    fsync_path(written)
    os.replace(written, path)


@contextlib.contextmanager
def writing_whole(path: Path, shared: bool = False) -> Iterator[Path]:
    """Yield the path to write ``path``'s new content to; when the block ends, put it in place.

    The content goes beside ``path`` and is renamed over it only once whole and on the disk, so
    a process killed at any moment leaves ``path`` as it was or complete. A block that fails
    removes what it wrote. The partial file's name is fixed, so the next write replaces what a
    killed one left; ``shared`` adds the process id instead, for a file several processes may
    write at the same moment (a cache).
    """
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp" if shared else f"{path.name}.tmp")
    try:
        yield partial
        move_into_place(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole (``writing_whole``)."""
    with writing_whole(path) as partial:
        partial.write_text(text)
