"""Trained agents shipped inside rlbook, and the export that makes one from a training run.

A game's shipped agent is a folder ``rlbook/agents/<rom>/``, and another agent of the same game,
named as ``"Breakout/dqn"``, a folder ``rlbook/agents/<rom>-<name>/``. Each holds the online
network's weights in float16 (``weights.npz``), the run's ``config.json``, its per-game
``log.csv`` and a ``about.json`` with the commands that trained it (every sitting of every run
it grew through, in order), the checkpoints its weights come from (the mean of several, or
one), the number of agent steps and rlbook's version.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rlbook.files import write_atomically, writing_whole

AGENTS = Path(__file__).resolve().parent / "agents"


RESTART = ("refill", "rewarm_steps")  # settings of a restart, not of the agent


def available() -> list[str]:
    """The shipped agents, as ``load`` names them: ``breakout``, ``breakout/dqn``."""
    # ROM names hold no "-", so the folder's first "-" parts the game from the agent's name.
    return sorted(
        p.name.replace("-", "/", 1) for p in AGENTS.glob("*") if (p / "weights.npz").exists()
    )


def _name(game: str) -> str:
    """The folder name of the agent ``game`` names: ``Breakout``, or ``Breakout/dqn`` for
    another of the game's shipped agents."""
    from rlbook.atari import rom_id

    game, slash, agent = game.partition("/")
    if slash and not re.fullmatch(r"[a-z0-9]+", agent):
        raise ValueError(
            f"a shipped agent is named by its game and a lowercase word, as in 'Breakout/dqn', "
            f"not {game + slash + agent!r}"
        )
    rom = "catch" if game.lower() == "catch" else rom_id(game)
    return f"{rom}-{agent}" if agent else rom


def folder(game: str) -> Path:
    """Where the shipped agent for ``game`` (or ``"Game/name"``) lives."""
    path = AGENTS / _name(game)
    if not (path / "weights.npz").exists():
        raise ValueError(
            f"rlbook ships no trained agent for {game!r}; available: {available() or 'none yet'}"
        )
    return path


def load(game: str = "Breakout", config=None):
    """The shipped agent for ``game``, ready to ``act``; ``"Breakout/dqn"`` names another of the
    game's shipped agents.

    With ``config`` (a ``DQNConfig`` of the same game and network), the shipped weights go
    into an agent built from it, say with another optimizer, to train further.
    """
    return load_folder(folder(game), config)


def load_folder(path: str | Path, config=None):
    """The agent a folder as ``export`` writes it holds (``load`` for one not in the package,
    such as an agent an earlier version of rlbook shipped)."""
    from rlbook.dqn import DQNAgent, DQNConfig
    from rlbook.games import make_game

    path = Path(path)
    shipped = DQNConfig.from_json(path / "config.json")
    config = config or shipped.for_acting()
    for name in ("game", "network"):
        if getattr(config, name) != getattr(shipped, name):
            raise ValueError(
                f"the agent in {path} has {name}={getattr(shipped, name)!r}, "
                f"not {getattr(config, name)!r}"
            )
    env = make_game(config.game, 1)
    agent = DQNAgent(config, env.obs_shape, env.n_actions)
    env.close()
    with np.load(path / "weights.npz") as saved:
        weights = [saved[f"w{i}"].astype(np.float32) for i in range(len(saved.files))]
    expected = [w.shape for w in agent.online.get_weights()]
    if [w.shape for w in weights] != expected:
        raise ValueError(f"{path / 'weights.npz'} does not fit the {config.network} network")
    agent.online.set_weights(weights)
    agent.sync_target()
    return agent


def about(game: str = "Breakout") -> dict:
    """How the shipped agent was trained: commands, agent steps, rlbook version."""
    return json.loads((folder(game) / "about.json").read_text())


def export(
    run: str | Path,
    commands: str | list[str],
    checkpoint_path: str | Path | Sequence[str | Path] | None = None,
    name: str | None = None,
) -> Path:
    """Ship the latest (or given) weights of a run as the agent for its game, or, with
    ``name``, as another agent of the game (``load(f"{game}/{name}")``).

    ``commands`` are the command lines that trained the run, one per sitting. The shipped
    config takes its step plan from the last of them that names ``--steps``: a run resumed
    later with a longer plan has a config.json that no longer describes these weights.
    Several checkpoints ship the mean of their weights (``rlbook.weight_average``), as an
    agent of the latest one's step.
    """
    from rlbook import __version__
    from rlbook.runs import RunFolder, checkpoint_step
    from rlbook.weight_average import restore_averaged

    run = Path(run)
    source = RunFolder(run)
    commands = [commands] if isinstance(commands, str) else list(commands)
    config = source.load_config()
    # How a sitting of the run went on without its memory is the run's, not the agent's: a run
    # that goes on from the shipped agent refills and eases in as rlbook's defaults say, or as it
    # asks itself.
    config = dataclasses.replace(
        config, **{f.name: f.default for f in dataclasses.fields(config) if f.name in RESTART}
    )
    target = AGENTS / _name(f"{config.game}/{name}" if name else config.game)
    if checkpoint_path is None:  # the checkpoint progress.json names, so weights and step agree
        checkpoint_path = source.checkpoint(source.read_progress()["step"])
    named = [checkpoint_path] if isinstance(checkpoint_path, str | Path) else checkpoint_path
    paths = [Path(str(p).removesuffix(".index")) for p in named]
    latest = max(paths, key=checkpoint_step)
    step = checkpoint_step(latest)
    planned = [int(m[1]) for c in commands if (m := re.search(r"--steps[ =](\d+)", c))]
    if planned:
        if planned[-1] < step:
            raise ValueError(
                f"the commands train to --steps {planned[-1]}, but {latest.name} "
                f"holds weights at step {step}: name the sitting that trained them"
            )
        config = dataclasses.replace(config, steps=planned[-1])
    agent = restore_averaged(run, paths)
    weights = {f"w{i}": w.astype(np.float16) for i, w in enumerate(agent.online.get_weights())}
    # The log up to the shipped weights, not the games the run played after them.
    with source.log.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = [row for row in reader if int(row["step"]) <= step]
    log = io.StringIO()
    writer = csv.DictWriter(log, reader.fieldnames)
    writer.writeheader()
    writer.writerows(rows)
    # A run that continued a shipped agent ships the commands that trained that agent too.
    earlier = json.loads(source.origin.read_text())["commands"] if source.origin.exists() else []
    info = {
        "commands": [*earlier, *commands],
        "agent_steps": step,
        "games": len(rows),
        # more than one: the weights are their mean
        "checkpoints": [path.name for path in paths],
        "update_path": f"{config.compile}/{config.precision}",
        "rlbook": __version__,
        "python": sys.version.split()[0],
    }
    # All is read before anything is written, and each file is written whole, so a failed
    # export never ships a half-written file.
    target.mkdir(parents=True, exist_ok=True)
    with writing_whole(target / "weights.npz") as partial, partial.open("wb") as file:
        np.savez_compressed(file, **weights)  # a file, so numpy adds no ".npz" to the name
    # The shipped agent goes to other machines: each chooses its own update path.
    write_atomically(target / "config.json", config.for_another_machine().to_json())
    write_atomically(target / "log.csv", log.getvalue())
    write_atomically(target / "about.json", json.dumps(info, indent=2))
    return target


def start_from_pretrained(game: str, run: str | Path, config=None) -> int:
    """Make ``run`` a run that continues the agent rlbook ships for ``game``; returns its step.

    The shipped weights become the online and target networks, and the shipped config (or
    ``config``, for the same game and network) and log carry on, so the step count, exploration
    schedule and learning curve go on where the shipped agent stopped. What a shipped agent does
    not hold starts afresh: the optimizer's state and the replay memory, which the agent refills
    with its own policy before learning resumes. This is how a run survives the loss of its
    folder.
    """
    from rlbook.runs import Checkpoints, RunFolder, progress_record

    target = RunFolder(run)
    target.refuse_existing()
    source = folder(game)
    agent = load(game, config)  # the run's config builds the optimizer
    info = about(game)
    step, episode = int(info["agent_steps"]), int(info["games"])
    with target.locked():
        target.refuse_existing()
        target.write_config(agent.config)
        # The shipped log goes on; origin.json keeps how the shipped weights came to be.
        for shipped, copy in (("log.csv", target.log), ("about.json", target.origin)):
            with writing_whole(copy) as partial:
                shutil.copyfile(source / shipped, partial)
        rng = np.random.default_rng(agent.config.seed + step)
        Checkpoints(target, agent).save(step, progress_record(episode, rng))
    return step
