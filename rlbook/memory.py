"""Whether a DQN run's replay memory fits: the bytes it will take, and the bytes a machine has.

The replay memory is allocated with ``np.zeros``, whose pages become resident only as they are
written, so a memory larger than the machine's is not refused when it is made: the run is killed
hours later, as the memory fills. A run and a sweep ask here first and refuse at the start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rlbook.files import RunError
from rlbook.replay import ReplayMemory

STACK = 4  # frames per state, as every DQN run stacks them


def frame_shape(game: str) -> tuple[int, int]:
    """The shape of one stored frame of ``game``: Catch's own, or the DQN paper's 84x84."""
    if game.lower() == "catch":
        from rlbook.catch import SIZE

        return SIZE, SIZE
    from rlbook.atari import FRAME_SHAPE

    return FRAME_SHAPE


def replay_bytes(config: Any) -> int:
    """Bytes the replay memory of a run with this ``DQNConfig`` will hold once it is full."""
    # A memory of a few transitions tells the cost of one, so that the layout stays replay's.
    lanes = config.num_envs
    sample = ReplayMemory(
        lanes * (STACK + config.n_step),
        lanes,
        frame_shape(config.game),
        STACK,
        n_step=config.n_step,
    )
    return int(sample.bytes_per_transition * config.buffer_size)


def available_bytes() -> int:
    """Memory this process may still use: free memory, or its container's limit if lower."""
    free = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
    except OSError:
        pass
    if free is None:
        free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    return min(free, _container_room() or free)


def _container_room() -> int | None:
    """What the cgroup (v2) this process runs in still allows, when it sets a limit."""
    group = Path("/sys/fs/cgroup")
    try:
        limit = (group / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((group / "memory.current").read_text())
    except (OSError, ValueError):
        return None


def gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.1f} GiB"


def refuse_unless_fits(needed: int, what: str, available: int | None = None) -> None:
    """A RunError naming both figures when ``needed`` bytes exceed this machine's free memory."""
    available = available_bytes() if available is None else available
    if needed > available:
        raise RunError(
            f"{what} needs {needed:,} bytes ({gib(needed)}), but this machine has {available:,} "
            f"bytes ({gib(available)}) free; lower --buffer-size or free memory"
        )


def check_replay_fits(config: Any, available: int | None = None) -> int:
    """Refuse a run whose replay memory is larger than this machine's free memory.

    Returns the bytes the memory needs; raises RunError naming both figures otherwise.
    ``available`` defaults to ``available_bytes()``.
    """
    needed = replay_bytes(config)
    what = f"the replay memory of {config.buffer_size:,} transitions"
    refuse_unless_fits(needed, what, available)
    return needed
