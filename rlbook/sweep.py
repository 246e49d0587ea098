"""Sweeps: an agent over many seeds and settings, run as trials on Ray Tune, and what they show.

One run is one seed, and deep RL agents differ a lot from one seed to the next. A sweep trains
every combination of the settings it compares (the grid) with every seed, scores each trial as
it goes, and sums each setting up with the interquartile mean and its 95% stratified-bootstrap
interval (``rlbook.stats``). The trials run on Ray Tune: on a Ray started on this machine, one
trial per free CPU (so a laptop runs them in turn), or unchanged on the cluster at ``address``;
a sweep of seconds can run them one after another in this process instead (``on_ray=False``).

A sweep lives in one folder:

    sweep.json       what was asked: the agent, game, fixed settings, grid, seeds and scoring
    sweep.lock       held (``flock``) by the process running the sweep
    trials/          one folder per setting and seed, ``<setting>-seed<k>/``: for a DQN an
                     ordinary run folder (``python -m rlbook evaluate|play|train --resume`` and
                     TensorBoard work on it), for a FrozenLake agent its config.json. Each
                     holds ``scores.csv``, the trial's scores so far.
    tune/            Ray Tune's own records of each sitting, the errors of failed trials among them
    results.csv      every score of every trial: setting, seed, step, score
    summary.csv      per setting and step: runs, mean and IQM, each with its 95% interval
    B09124_13_sweep.png   score against steps, one IQM line and interval band per setting

How trials are scored: a DQN at every milestone (``milestone_every`` agent steps) and at its last
step, under the DQN paper's protocol (``rlbook.evaluate``: epsilon 0.05, up to 30 no-ops, 30
games of seed 1, as ``python -m rlbook evaluate`` plays them); a FrozenLake agent every
``score_every`` training episodes, by the exact success rate of its greedy policy, computed from
the lake's transition table (``rlbook.planning``), so no sampling noise is added to the seeds'.

A DQN trial is one ordinary run: ``train`` calls the trial back at each milestone, which scores
the agent there and reports it, and the run goes on, as if no sweep were watching.

A sweep that stops (Ctrl-C, a killed process, a lost machine) goes on with ``resume=True``
(``--resume``): a trial whose scores are complete is not run again, an unfinished DQN trial goes
on from its last checkpoint, and an unfinished FrozenLake trial, seconds long, starts again. On
a cluster, the sweep folder must be on a file system that every node sees.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import difflib
import importlib
import io
import itertools
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rlbook import stats
from rlbook.files import RunError, holding_lock, write_atomically

# The config class of each agent, imported when needed: two of them load TensorFlow.
AGENTS = {
    "dqn": ("rlbook.dqn", "DQNConfig"),
    "tabular": ("rlbook.tabular", "TabularConfig"),
    "qnetwork": ("rlbook.qnetwork", "QNetworkConfig"),
}
DEFAULT_GAME = {"dqn": "Breakout", "tabular": "FrozenLake-v1", "qnetwork": "FrozenLake-v1"}
STEP_LABEL = {
    "dqn": "agent steps (4 frames each)",
    "tabular": "training episodes",
    "qnetwork": "training episodes",
}
EVAL_EPSILON, EVAL_SEED = 0.05, 1  # the DQN paper's protocol, as `rlbook evaluate` plays it
RESULT_FIELDS = ["setting", "seed", "step", "score"]
SUMMARY_FIELDS = [
    "setting",
    "step",
    "runs",
    "mean",
    "mean_low",
    "mean_high",
    "iqm",
    "iqm_low",
    "iqm_high",
]
NEEDS_RAY = "the sweep runs on Ray Tune, which is not installed: pip install -e '.[sweep]'"
_TYPES = {"int": int, "float": float, "bool": bool, "str": str}
_KIND_WORDS = {int: "a whole number", float: "a number", bool: "true or false", str: "a word"}


# --- what a sweep runs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """One setting of the grid with one seed: its agent and the full config of that agent."""

    setting: str  # "n_step=3,double=True"; the agent's name when the grid is empty
    seed: int
    agent: str
    config: Mapping[str, Any]

    @property
    def name(self) -> str:
        return f"{self.setting}-seed{self.seed}"


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep runs: an agent, fixed settings, the grid of settings compared, the seeds.

    ``settings`` and ``grid`` name fields of the agent's config (``DQNConfig``,
    ``TabularConfig``, ``QNetworkConfig``); every combination of the grid's values is one
    setting, trained once per seed. The grid may also compare agents that play the same game,
    ``grid={"agent": ["tabular", "qnetwork"]}``; ``settings`` then go to each of them.
    """

    agent: str = "dqn"  # "dqn", "tabular" or "qnetwork" (unless the grid compares agents)
    game: str | None = None  # DQN: an Atari game or "Catch"; the others: a FrozenLake id
    settings: Mapping[str, Any] = field(default_factory=dict)  # the same in every trial
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)  # the settings compared
    seeds: Sequence[int] = (0, 1, 2, 3, 4)
    eval_games: int = 30  # DQN: games scored at each milestone (the paper's protocol: 30)
    score_every: int = 100  # FrozenLake agents: training episodes between two scores

    def __post_init__(self) -> None:
        # Plain dicts, lists and a tuple, so a spec compares equal to its JSON round trip.
        set_ = object.__setattr__
        set_(self, "settings", dict(self.settings))
        set_(self, "grid", {name: list(values) for name, values in dict(self.grid).items()})
        set_(self, "seeds", tuple(self.seeds))
        first = self.agents[0] if self.agents else None
        if self.game is None and isinstance(first, str) and first in DEFAULT_GAME:
            set_(self, "game", DEFAULT_GAME[first])

    @property
    def agents(self) -> list[str]:
        """The agents the sweep trains: the grid's, or ``agent``."""
        return list(self.grid.get("agent", [self.agent]))

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "seeds": list(self.seeds)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown sweep fields {unknown}; a sweep has {sorted(known)}")
        return cls(**data)

    def trials(self) -> list[Trial]:
        """Every trial of the sweep, each config built and so checked; ValueError otherwise."""
        _check_positive("eval_games", self.eval_games)
        _check_positive("score_every", self.score_every)
        seeds = _check_seeds(self.seeds)
        for name, values in self.grid.items():
            if name in self.settings:
                raise ValueError(f"{name} is both a fixed setting and in the grid; keep one")
            if not values:
                raise ValueError(
                    f"the grid gives {name} no values; give one or more, like --grid {name}=1,3"
                )
            if len({json.dumps(v) for v in values}) < len(values):
                raise ValueError(f"the grid gives {name} the same value twice: {values}")
        agents = self.agents
        for agent in agents:
            _config_class(agent)  # an unknown agent is named before any of its settings
        if len({agent == "dqn" for agent in agents}) > 1:
            raise ValueError(
                f"the agents {agents} play different games (dqn plays pixels; tabular and "
                "qnetwork the lake); sweep them apart"
            )
        fixed = {name: _check_all(agents, name, v) for name, v in self.settings.items()}
        grid = {
            name: values if name == "agent" else [_check_all(agents, name, v) for v in values]
            for name, values in self.grid.items()
        }
        _check_game(agents[0], self.game)
        trials = []
        for point in itertools.product(*grid.values()):
            chosen = dict(zip(grid, point, strict=True))
            setting = ",".join(f"{k}={v}" for k, v in chosen.items()) or self.agent
            agent = chosen.pop("agent", self.agent)
            game = {"game": self.game} if agent == "dqn" else {}
            for seed in seeds:
                try:
                    config = _config_class(agent)(**{**fixed, **chosen, **game, "seed": seed})
                    if agent != "dqn":  # the FrozenLake configs leave this to train()
                        _check_positive("episodes", config.episodes)
                except ValueError as error:
                    raise ValueError(f"setting {setting}: {error}") from error
                trials.append(Trial(setting, seed, agent, dataclasses.asdict(config)))
        return trials

    def score_steps(self, trial: Trial) -> list[int]:
        """The steps (DQN: agent steps; FrozenLake: episodes) at which a trial is scored."""
        if trial.agent == "dqn":
            every, total = trial.config["milestone_every"], trial.config["steps"]
        else:
            every, total = self.score_every, trial.config["episodes"]
        return sorted({*range(every, total + 1, every), total})


def _config_class(agent: str):
    if agent not in AGENTS:
        raise ValueError(f"unknown agent {agent!r}; choose one of {sorted(AGENTS)}")
    module, name = AGENTS[agent]
    return getattr(importlib.import_module(module), name)


def _check_value(agent: str, name: str, value: Any) -> Any:
    """``value`` for field ``name`` of the agent's config, or a ValueError saying what fits."""
    fields = {f.name: f for f in dataclasses.fields(_config_class(agent))}
    if name == "seed":
        raise ValueError("seeds are set by seeds= (--seeds), not as a setting")
    if name == "game" and agent == "dqn":
        raise ValueError("the game is set by game= (--game), not as a setting")
    if name not in fields:
        close = difflib.get_close_matches(name, list(fields), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        choices = ", ".join(sorted(set(fields) - {"seed", "game"}))
        raise ValueError(f"{agent} has no setting {name!r}{hint} (its settings: {choices})")
    kind = _TYPES.get(str(fields[name].type))
    fits = (
        kind is None
        or (kind is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (kind is int and isinstance(value, int) and not isinstance(value, bool))
        or (kind in (bool, str) and isinstance(value, kind))
    )
    if not fits:
        raise ValueError(f"{name} takes {_KIND_WORDS[kind]}, got {value!r}")
    return float(value) if kind is float else value


def _check_all(agents: Sequence[str], name: str, value: Any) -> Any:
    """``value`` checked for field ``name`` of every agent's config (see ``_check_value``)."""
    checked = [_check_value(agent, name, value) for agent in agents]
    return checked[0]


def _check_positive(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")


def _check_seeds(seeds: Sequence[Any]) -> list[int]:
    if not seeds:
        raise ValueError("a sweep needs at least one seed, like --seeds 0-4")
    for seed in seeds:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seeds are whole numbers from 0, got {seed!r}")
    if len(set(seeds)) < len(seeds):
        raise ValueError(f"the seeds {list(seeds)} name a seed twice")
    return list(seeds)


def _check_game(agent: str, game: str) -> None:
    if agent == "dqn":
        if not isinstance(game, str):
            raise ValueError(f"game must be an Atari game's name or 'Catch', got {game!r}")
        if game.lower() != "catch":
            from rlbook.atari import rom_id

            rom_id(game)  # a ValueError with the closest names
        return
    from rlbook import envs
    from rlbook.planning import transition_arrays

    env = envs.make(game)
    try:
        transition_arrays(env)  # scoring needs the environment's own transition table
    finally:
        env.close()


def parse_seeds(text: str) -> list[int]:
    """Seeds written as ``0-4``, ``0,2,7`` or both (``0-4,10``)."""
    seeds = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            span = range(int(low), int(high) + 1) if dash else [int(low)]
        except ValueError:
            raise ValueError(f"bad seeds {text!r}: write them like 0-4 or 0,2,7") from None
        if not span:
            raise ValueError(f"bad seeds {text!r}: a range runs from low to high, like 0-4")
        seeds.extend(span)
    return _check_seeds(seeds)


def parse_setting(agent: str, text: str, many: bool) -> tuple[str, Any]:
    """``FIELD=VALUE`` (or ``FIELD=V1,V2`` when ``many``), each value read as the field's type."""
    name, equals, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not equals or not name:
        example = "n_step=1,3" if many else "learning_rate=0.0001"
        form = "FIELD=V1,V2" if many else "FIELD=VALUE"
        raise ValueError(f"bad setting {text!r}: write {form}, like {example}")
    if name == "agent":
        if not many:
            raise ValueError("the agent is set by --agent; --grid agent=A,B compares agents")
        return name, [v.strip() for v in values.split(",")] if values.strip() else []
    fields = {f.name: f for f in dataclasses.fields(_config_class(agent))}
    if name not in fields or name in ("seed", "game"):
        _check_value(agent, name, None)  # raises the error that says what is accepted
    kind = _TYPES.get(str(fields[name].type), str)
    parsed = [_parse(kind, name, v.strip()) for v in values.split(",")] if values.strip() else []
    if many:
        return name, parsed
    if len(parsed) != 1:
        raise ValueError(f"bad setting {text!r}: --set takes one value; --grid compares several")
    return name, parsed[0]


def _parse(kind: type, name: str, text: str) -> Any:
    try:
        if kind is bool:
            words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
            return words[text.lower()]
        if kind is int:
            number = float(text.replace("_", ""))  # 2_000_000 and 2e6 are whole numbers too
            if not number.is_integer():
                raise ValueError
            return int(number)
        return kind(text.replace("_", "") if kind is float else text)
    except (KeyError, ValueError):
        raise ValueError(f"{name} takes {_KIND_WORDS[kind]}, got {text!r}") from None


# --- one trial, on whichever machine Ray gives it ----------------------------------------------


def read_scores(trial_folder: Path) -> dict[int, float]:
    """A trial's scores so far (``scores.csv``), by step."""
    path = Path(trial_folder) / "scores.csv"
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        return {int(row["step"]): float(row["score"]) for row in csv.DictReader(f)}


def _write_scores(trial_folder: Path, scores: Mapping[int, float]) -> None:
    rows = [{"step": step, "score": scores[step]} for step in sorted(scores)]
    _write_csv(trial_folder / "scores.csv", ["step", "score"], rows)


def run_trial(
    spec: SweepSpec,
    trial: Trial,
    folder: str | Path,
    report: Callable[[int, float], None] | None = None,
) -> dict[int, float]:
    """Train and score one trial in ``folder``, going on from what the folder holds.

    ``report(step, score)`` is called for every score, old and new, in order of steps (the
    sweep passes Ray Tune's report). Returns the trial's scores by step.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    report = report or (lambda step, score: None)
    wanted = spec.score_steps(trial)
    scores = read_scores(folder)
    if trial.agent == "dqn":
        _run_dqn(spec, trial, folder, wanted, scores, report)
    else:
        _run_lake_agent(spec, trial, folder, wanted, scores, report)
    return scores


def _run_dqn(spec, trial, folder, wanted, scores, report) -> None:
    """Train the trial in one run, scoring each milestone as the run reaches it."""
    from rlbook.dqn import DQNConfig
    from rlbook.evaluate import evaluate
    from rlbook.runs import RunFolder, restore_agent
    from rlbook.train import train

    config = DQNConfig(**trial.config)
    run = RunFolder(folder)

    def score(step: int, agent) -> None:
        if step not in scores:
            games = evaluate(
                agent, config.game, spec.eval_games, EVAL_EPSILON, seed=EVAL_SEED, progress=False
            )
            scores[step] = float(np.mean(games))
            _write_scores(folder, scores)
        report(step, scores[step])

    saved = run.last_complete_step()
    if saved is None and run.holds_a_run():
        # Stopped before its first checkpoint: nothing to go on from, so it starts again.
        for path in folder.iterdir():
            if path.name != "scores.csv":
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    # What an earlier sitting trained, scored now if it stopped before scoring it.
    for step in (s for s in wanted if saved is not None and s <= saved):
        if step in scores:
            report(step, scores[step])
        else:
            weights = run.milestone(step) if step < saved else run.checkpoints / f"ckpt-{saved}"
            score(step, restore_agent(folder, weights))
    if saved is not None and saved >= config.steps:
        return

    def score_milestone(step: int, agent) -> None:
        if step in wanted:
            score(step, agent)

    agent = train(
        config, folder, resume=saved is not None, progress=False, on_milestone=score_milestone
    )
    reached = run.last_complete_step()
    if reached is None or reached < config.steps:
        raise RunError(
            f"{folder} stopped at step {reached}, before {config.steps}; resume the sweep"
        )
    if config.steps not in scores:  # a last step that is no milestone
        score(config.steps, agent)


class _ScoreBetweenEpisodes(gym.Wrapper):
    """Calls ``score(episodes)`` when the agent resets the lake after a wanted episode count.

    Both FrozenLake agents train in one call whose exploration schedule follows the episode
    number, so stopping and restarting them would change what they learn; scoring from the
    environment's side, between two episodes, leaves training exactly as the chapter runs it.
    """

    def __init__(self, env: gym.Env, at: Iterable[int], score: Callable[[int], None]):
        super().__init__(env)
        self.at, self.score, self.finished = set(at), score, -1

    def reset(self, *, seed=None, options=None):
        self.finished += 1  # the first reset starts episode 0: none has finished
        if self.finished in self.at:
            self.score(self.finished)
        return self.env.reset(seed=seed, options=options)


def _run_lake_agent(spec, trial, folder, wanted, scores, report) -> None:
    if set(wanted) <= set(scores):
        for step in wanted:
            report(step, scores[step])
        return
    # A FrozenLake trial takes seconds and keeps no checkpoint: an unfinished one starts again.
    from rlbook import envs
    from rlbook.planning import policy_success_rate

    if trial.agent == "tabular":
        from rlbook.tabular import TabularQ as Agent
    else:
        from rlbook.qnetwork import QNetworkAgent as Agent
    scores.clear()
    write_atomically(folder / "config.json", json.dumps(dict(trial.config), indent=2))

    def score(episodes: int) -> None:
        scores[episodes] = policy_success_rate(env, agent.policy)
        _write_scores(folder, scores)
        report(episodes, scores[episodes])

    env = _ScoreBetweenEpisodes(envs.make(spec.game), wanted, score)
    try:
        agent = Agent(env, _config_class(trial.agent)(**trial.config))
        agent.train(progress=False)
    finally:
        env.close()
    missing = sorted(set(wanted) - set(scores))
    if missing:
        raise RunError(f"{trial.name} ended without scores at episodes {missing}")


def _tune_trial(config: dict) -> None:
    """The function Ray Tune runs for each trial (a module-level name, so workers import it)."""
    job = config["job"]
    cpus = str(job["cpus"])
    # Before TensorFlow loads in this worker: its thread pools follow the trial's CPUs.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", cpus)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", cpus)
    from ray import tune

    run_trial(
        SweepSpec.from_dict(job["spec"]),
        Trial(**job["trial"]),
        job["folder"],
        report=lambda step, score: tune.report({"step": step, "score": score}),
    )


# --- the sweep: its folder, Ray, the results ---------------------------------------------------


@dataclass
class SweepResult:
    """What a sweep holds once it ran: every score, the summary, the trials of this sitting."""

    folder: Path
    results: list[dict]  # setting, seed, step, score: one row per score of every trial
    summary: list[dict]  # setting, step, runs, mean, IQM and their intervals (SUMMARY_FIELDS)
    ran: list[str]  # the trials this sitting ran (the others were already complete)
    figure: Path | None

    def final_scores(self) -> dict[str, np.ndarray]:
        """Each setting's scores at its last step, one per seed, in the order of the seeds."""
        last: dict[str, int] = {}
        for row in self.results:
            last[row["setting"]] = max(last.get(row["setting"], 0), row["step"])
        return {
            setting: np.array(
                [r["score"] for r in self.results if r["setting"] == setting and r["step"] == step]
            )
            for setting, step in last.items()
        }

    def final_summary(self) -> list[dict]:
        """The summary's row at each setting's last step."""
        last = {}
        for row in self.summary:
            last[row["setting"]] = row  # rows come in order of steps
        return list(last.values())


def run(
    spec: SweepSpec,
    folder: str | Path,
    address: str | None = None,
    resume: bool = False,
    cpus_per_trial: int = 1,
    progress: bool = True,
    on_ray: bool = True,
) -> SweepResult:
    """Run the sweep ``spec`` in ``folder`` on Ray Tune (``resume=True`` goes on with it).

    ``address`` names a Ray cluster (``HOST:PORT`` or ``auto``; default ``RAY_ADDRESS``); without
    one, a Ray is started on this machine and stays up for the next sweep of this process
    (``ray.shutdown()`` ends it). Every check of the input is made before Ray starts.
    ``on_ray=False`` runs the same trials one after another in this process instead: for a
    sweep of seconds, where starting Ray would take longer, or to debug a trial.
    """
    trials = spec.trials()
    _check_positive("cpus_per_trial", cpus_per_trial)
    folder = Path(folder).resolve()
    saved = folder / "sweep.json"
    if resume:
        if not saved.exists():
            raise RunError(f"{folder} holds no sweep to resume ({saved} is missing)")
        asked = load_spec(folder)
        if asked != spec:
            changed = [k for k, v in spec.to_dict().items() if asked.to_dict()[k] != v]
            raise RunError(
                f"{folder} holds another sweep: its {', '.join(changed)} differ; resume it as it "
                "was asked (only --run and --resume), or start a new one in another folder"
            )
    elif saved.exists():
        raise RunError(f"{folder} already holds a sweep; pass --resume to go on with it")
    pending = [t for t in trials if not _complete(spec, t, folder)]
    if pending and on_ray:
        connect(address, cpus_per_trial)  # before the folder is written: Ray may not be there
    with _locked(folder):
        write_atomically(saved, json.dumps(spec.to_dict(), indent=2))
        if not pending:
            failed = {}
        elif on_ray:
            failed = _run_on_tune(spec, pending, folder, cpus_per_trial, progress)
        else:
            failed = _run_here(spec, pending, folder, progress)
        result = collect(spec, folder, ran=[t.name for t in pending])
    if failed:
        errors = "; ".join(f"{name}: {error}" for name, error in failed.items())
        records = f"; Ray Tune's records of them are in {folder / 'tune'}" if on_ray else ""
        raise RunError(
            f"{len(failed)} of {len(trials)} trials failed ({errors}){records}. The summary holds "
            "the others; resume the sweep to run the failed trials again"
        )
    return result


def _run_here(spec, pending, folder, progress) -> dict[str, str]:
    """Run the trials one after another in this process; returns the error of each that failed."""
    failed = {}
    for number, trial in enumerate(pending, start=1):

        def report(step: int, score: float, name: str = trial.name) -> None:
            if progress:
                print(_score_line(name, step, score), flush=True)

        try:
            run_trial(spec, trial, folder / "trials" / trial.name, report)
        except Exception as error:  # as on Ray: the other trials go on, the sweep says what failed
            failed[trial.name] = f"{type(error).__name__}: {error}"
        if progress:
            state = "failed" if trial.name in failed else "done"
            print(f"{trial.name}: {state} ({number}/{len(pending)})", flush=True)
    return failed


def _score_line(name: str, step: int, score: float) -> str:
    return f"{name}: step {step:,}, score {score:.3f}"


def load_spec(folder: str | Path) -> SweepSpec:
    """The spec a sweep folder was run with (its ``sweep.json``)."""
    path = Path(folder) / "sweep.json"
    try:
        return SweepSpec.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise RunError(f"{folder} is not a sweep folder: {path} is missing") from None
    except (json.JSONDecodeError, TypeError, ValueError) as error:
        raise RunError(f"{path} does not hold a sweep ({error}); is it damaged?") from error


def _complete(spec: SweepSpec, trial: Trial, folder: Path) -> bool:
    scores = read_scores(folder / "trials" / trial.name)
    return set(spec.score_steps(trial)) <= set(scores)


def _locked(folder: Path):
    """Hold the sweep folder's lock, so that two processes never run one sweep at once."""
    return holding_lock(folder / "sweep.lock", "run")


def _import_ray():
    try:
        import ray
        from ray import tune
    except ImportError:
        raise RunError(NEEDS_RAY) from None
    return ray, tune


def connect(address: str | None = None, cpus_per_trial: int = 1) -> None:
    """Join the Ray cluster at ``address`` (or ``RAY_ADDRESS``), or start one on this machine.

    Nothing happens when this process is already connected. The address is tried first with a
    plain TCP connection, so a cluster that is not there is an error within seconds.
    """
    ray, _ = _import_ray()
    if ray.is_initialized() and address:
        raise RunError(
            f"this process is already connected to a Ray cluster; call ray.shutdown() before "
            f"joining the one at {address}"
        )
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
        if address:
            _check_reachable(address)
            try:
                ray.init(address=address, **quiet)
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise RunError(f"could not join the Ray cluster at {address}: {error}") from error
        else:
            _start_local_ray(ray, quiet)
    cpus = ray.cluster_resources().get("CPU", 0)
    if cpus < cpus_per_trial:
        raise RunError(
            f"a trial asks for {cpus_per_trial} CPUs, but the Ray cluster has {cpus:g}; "
            "ask for fewer (--cpus-per-trial)"
        )


def _check_reachable(address: str) -> None:
    if address == "auto":
        return  # Ray itself finds the cluster of this machine, or says there is none
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not host or not port.isdigit():
        raise ValueError(f"bad Ray address {address!r}: write HOST:PORT (like 10.0.0.5:6379)")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise RunError(
            f"no Ray cluster answers at {address} ({error}); start one there with "
            "`ray start --head`, or leave --address out to run on this machine"
        ) from None


def _start_local_ray(ray, quiet: dict) -> None:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    for attempt in (1, 2):
        try:
            # On the loopback address: a local Ray needs no network, nor a firewall's consent.
            ray.init(num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1", **quiet)
            return
        except Exception as error:  # Ray raises a bare Exception when its node times out
            if attempt == 2:
                raise RunError(
                    f"the local Ray did not start ({error}). Its helper processes must come up "
                    "within seconds, which a busy machine can miss; try again, or start one with "
                    "`ray start --head` and pass --address auto"
                ) from error
            ray.shutdown()


def _run_on_tune(spec, pending, folder, cpus_per_trial, progress) -> dict[str, str]:
    """Run the trials on Ray Tune; returns the error of each trial that failed."""
    _, tune = _import_ray()
    jobs = [
        {
            "name": t.name,
            "trial": dataclasses.asdict(t),
            "spec": spec.to_dict(),
            "folder": str(folder / "trials" / t.name),
            "cpus": cpus_per_trial,
        }
        for t in pending
    ]
    callbacks = [_printer(tune, len(jobs))] if progress else []
    # Tune's newer console output ignores verbose=0; the older one keeps quiet, and the
    # printer above says what happens, a line per score.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    tuner = tune.Tuner(
        tune.with_resources(_tune_trial, {"cpu": cpus_per_trial}),
        param_space={"job": tune.grid_search(jobs)},
        tune_config=tune.TuneConfig(
            reuse_actors=True,  # a worker that imported TensorFlow once keeps it for the next
            trial_name_creator=lambda t: t.config["job"]["name"],
            trial_dirname_creator=lambda t: t.config["job"]["name"],
        ),
        run_config=tune.RunConfig(
            name=time.strftime("%Y%m%d-%H%M%S"),
            storage_path=str(folder / "tune"),
            verbose=0,
            progress_reporter=tune.CLIReporter(),  # silent at verbose=0, also in a notebook
            callbacks=callbacks,
            # A trial whose worker is lost (a machine down) is tried once more, from its folder.
            failure_config=tune.FailureConfig(max_failures=1),
        ),
    )
    failed = {}
    for result in tuner.fit():
        if result.error is not None:
            lines = str(result.error).strip().splitlines() or ["unknown error"]
            failed[result.config["job"]["name"]] = lines[-1]
    return failed


def _printer(tune, total: int):
    """A Ray Tune callback printing one line per score and per finished trial."""

    class Printer(tune.Callback):
        def __init__(self):
            self.done = 0

        def on_trial_result(self, iteration, trials, trial, result, **info):
            name = trial.config["job"]["name"]
            print(_score_line(name, result["step"], result["score"]), flush=True)

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.done += 1
            print(f"{trial.config['job']['name']}: done ({self.done}/{total})", flush=True)

        def on_trial_error(self, iteration, trials, trial, **info):
            self.done += 1
            print(f"{trial.config['job']['name']}: failed ({self.done}/{total})", flush=True)

    return Printer()


def collect(spec: SweepSpec, folder: str | Path, ran: Sequence[str] = ()) -> SweepResult:
    """Gather every trial's scores into results.csv, summary.csv and the sweep's figure."""
    folder = Path(folder)
    results = []
    for trial in spec.trials():
        scores = read_scores(folder / "trials" / trial.name)
        results += [
            {"setting": trial.setting, "seed": trial.seed, "step": step, "score": score}
            for step, score in sorted(scores.items())
        ]
    summary = summarize(results)
    _write_csv(folder / "results.csv", RESULT_FIELDS, results)
    _write_csv(folder / "summary.csv", SUMMARY_FIELDS, summary)
    figure = None
    if summary:
        import matplotlib.pyplot as plt

        from rlbook import charts

        seeds = len(spec.seeds)
        agent = spec.agents[0]
        if agent == "dqn":
            measure = f"game score (IQM of {seeds} seeds, {spec.eval_games} games each)"
        else:
            measure = f"success rate of the greedy policy (IQM of {seeds} seeds)"
        compared = " x ".join(spec.grid) or spec.agent
        title = f"{spec.game}: {compared}, {seeds} seed{'s' * (seeds > 1)} each"
        ax = charts.plot_sweep(summary, xlabel=STEP_LABEL[agent], ylabel=measure, title=title)
        figure = charts.save_png("sweep", ax.figure, folder=folder)
        plt.close(ax.figure)  # saved, not shown: a notebook draws what it asks for itself
    return SweepResult(folder, results, summary, list(ran), figure)


def summarize(results: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Per setting and step: the runs there, their mean and IQM, each with its 95% interval."""
    scores: dict[str, dict[int, list[float]]] = {}
    for row in results:
        scores.setdefault(row["setting"], {}).setdefault(int(row["step"]), []).append(row["score"])
    rows = []
    for setting, by_step in scores.items():
        for step in sorted(by_step):
            summary = stats.summarize(by_step[step])
            rows.append({"setting": setting, "step": step, **dataclasses.asdict(summary)})
    return rows


def format_summary(*results: SweepResult) -> str:
    """The summary at each setting's last step, of one sweep or several, as a table."""
    lines = [f"{'setting':<28} {'step':>11} {'runs':>4} {'mean':>9}  IQM [95% interval]"]
    for row in (row for result in results for row in result.final_summary()):
        lines.append(
            f"{row['setting']:<28} {row['step']:>11,} {row['runs']:>4} {row['mean']:>9.3f}  "
            f"{row['iqm']:.3f} [{row['iqm_low']:.3f}, {row['iqm_high']:.3f}]"
        )
    return "\n".join(lines)


def _write_csv(path: Path, fields: list[str], rows: Iterable[Mapping]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(path, text.getvalue())


# --- the command line --------------------------------------------------------------------------


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``sweep`` to the subcommands of ``python -m rlbook``."""
    parser = subparsers.add_parser(
        "sweep",
        help="train many seeds and settings as trials on Ray, with IQM and 95%% intervals",
        description="Train every setting of a grid with every seed as trials on Ray Tune, score "
        "them as they go, and sum each setting up by its IQM and 95% stratified-bootstrap "
        "interval (results.csv, summary.csv and a figure in the sweep folder).",
    )
    parser.add_argument("--run", type=Path, required=True, help="folder of the sweep")
    parser.add_argument("--resume", action="store_true", help="go on with the sweep in --run")
    parser.add_argument("--agent", choices=sorted(AGENTS), help="the agent [dqn]")
    parser.add_argument(
        "--game", help="DQN: Atari game or Catch [Breakout]; tabular, qnetwork: [FrozenLake-v1]"
    )
    parser.add_argument("--steps", help="DQN: agent steps per trial (the steps setting)")
    parser.add_argument("--episodes", help="tabular, qnetwork: training episodes per trial")
    parser.add_argument("--seeds", help="seeds of every setting, like 0-4 or 0,2,7 [0-4]")
    parser.add_argument(
        "--grid",
        action="append",
        metavar="FIELD=V1,V2",
        help="a setting compared at each value (repeat for a grid of several)",
    )
    parser.add_argument(
        "--set", action="append", metavar="FIELD=VALUE", help="a setting for every trial"
    )
    parser.add_argument("--eval-games", type=int, help="DQN: games per milestone score [30]")
    parser.add_argument(
        "--score-every", type=int, help="tabular, qnetwork: episodes between scores [100]"
    )
    parser.add_argument(
        "--address", help="a Ray cluster, HOST:PORT or auto [RAY_ADDRESS; else a local Ray]"
    )
    parser.add_argument("--cpus-per-trial", type=int, default=1, help="CPUs of each trial [1]")
    parser.add_argument("--quiet", action="store_true", help="no line per score")
    return parser


def spec_from_args(args: argparse.Namespace) -> SweepSpec:
    """The spec the flags ask for; with ``--resume``, the saved one with the flags given."""
    base = load_spec(args.run) if args.resume and (args.run / "sweep.json").exists() else None
    grid = dict(
        parse_setting("dqn", text, many=True) for text in args.grid or [] if _names_agent(text)
    )
    agents = grid.get("agent") or [args.agent or (base.agents[0] if base else "dqn")]
    agent = agents[0]  # the agents of one sweep agree on the types of their common settings
    given: dict[str, Any] = {}
    if args.agent:
        given["agent"] = args.agent
    if args.game:
        given["game"] = args.game
    if args.seeds:
        given["seeds"] = parse_seeds(args.seeds)
    if args.eval_games is not None:
        given["eval_games"] = args.eval_games
    if args.score_every is not None:
        given["score_every"] = args.score_every
    settings = dict(parse_setting(agent, text, many=False) for text in args.set or [])
    for name in ("steps", "episodes"):
        if getattr(args, name) is not None:
            settings.update([parse_setting(agent, f"{name}={getattr(args, name)}", many=False)])
    grid |= dict(parse_setting(agent, t, many=True) for t in args.grid or [] if not _names_agent(t))
    if settings:
        given["settings"] = {**(base.settings if base else {}), **settings}
    if grid:
        given["grid"] = grid
    if base is None:
        return SweepSpec(**given)
    if "agent" in given and given["agent"] != base.agent:
        given.setdefault("game", None)  # another agent plays its own default game
    return dataclasses.replace(base, **given)


def _names_agent(text: str) -> bool:
    return text.partition("=")[0].strip() == "agent"


def main(args: argparse.Namespace) -> int:
    """Run ``python -m rlbook sweep``; bad input raises ValueError or RunError."""
    spec = spec_from_args(args)
    result = run(
        spec,
        args.run,
        address=args.address,
        resume=args.resume,
        cpus_per_trial=args.cpus_per_trial,
        progress=not args.quiet,
    )
    print(format_summary(result))
    print(f"scores: {result.folder / 'results.csv'}\nsummary: {result.folder / 'summary.csv'}")
    if result.figure:
        print(f"figure: {result.figure}")
    return 0
