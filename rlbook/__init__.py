"""rlbook: the runnable companion to a book chapter on reinforcement learning with TensorFlow.

Modules follow the chapter: ``tabular`` and ``qnetwork`` learn FrozenLake, ``planning`` computes
the optimum they are measured against; ``atari``, ``replay``, ``networks``, ``dqn`` (with
``dqn_config`` and ``c51``), ``train``, ``evaluate`` and ``record`` make the DQN agent for Atari
games, ``runs`` keeps a run's folder and ``weight_average`` makes one agent of several of its
checkpoints; ``sweep`` and ``stats`` run many seeds and settings and
sum them up; ``charts`` draws and saves the figures, and ``source`` shows the library's own code
on the chapter's pages.
Submodules load on first use, so ``import rlbook`` stays fast and TensorFlow loads only when a
module that needs it is touched.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "atari",
    "c51",
    "catch",
    "charts",
    "checkpoints",
    "cli",
    "dqn",
    "dqn_config",
    "envs",
    "episodes",
    "evaluate",
    "game_log",
    "games",
    "lake_graph",
    "networks",
    "planning",
    "pretrained",
    "qnetwork",
    "quick",
    "record",
    "replay",
    "replay_file",
    "run_folder",
    "run_report",
    "runs",
    "settings",
    "source",
    "stats",
    "sweep",
    "tabular",
    "train",
    "update_path",
    "weight_average",
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"rlbook.{name}")
    raise AttributeError(f"module 'rlbook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBMODULES])
