"""The replay memory's file: saved whole when a run stops, loaded back when it resumes."""

from __future__ import annotations

import errno
import zipfile

import numpy as np

from rlbook.files import writing_whole
from rlbook.replay import ReplayMemory
from rlbook.run_folder import RunFolder


def save_replay(folder: RunFolder, memory: ReplayMemory, step: int) -> None:
    """Write the replay memory whole, or leave the one before; a failure only warns, since a
    resumed run can refill the memory."""
    try:
        # An open file, not a path: np.savez would add ".npz" to the partial file's name.
        with writing_whole(folder.replay) as partial, partial.open("wb") as file:
            np.savez(file, step=np.int64(step), **memory.state_dict())
    except OSError as error:
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
