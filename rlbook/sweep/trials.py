"""One trial, on whichever machine runs it: trained from what its folder holds, and scored.

How trials are scored: a DQN at every milestone (``milestone_every`` agent steps) and at its last
step, under the DQN paper's protocol (``rlbook.evaluate``: epsilon 0.05, up to 30 no-ops, 30
games of seed 1, as ``python -m rlbook evaluate`` plays them); a FrozenLake agent every
``score_every`` training episodes, by the exact success rate of its greedy policy, computed from
the lake's transition table (``rlbook.planning``), so no sampling noise is added to the seeds'.

A DQN trial is one ordinary run: ``train`` calls the trial back at each milestone, which scores
the agent there and reports it, and the run goes on, as if no sweep were watching.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import gymnasium as gym
import numpy as np

from rlbook.files import RunError, write_atomically
from rlbook.sweep.results import read_scores, write_scores

if TYPE_CHECKING:
    from rlbook.sweep.spec import SweepSpec, Trial

EVAL_EPSILON, EVAL_SEED = 0.05, 1  # the DQN paper's protocol, as `rlbook evaluate` plays it
LOCK = "trial.lock"  # held by the process training the trial, as sweep.lock by the driver
PLACES = "nodes.csv"  # where each sitting of the trial ran, and from which step
# A trial whose last process was lost with its driver or node may still be running for a few
# seconds until Ray ends it; the next one waits for its lock this long before giving up.
LOCK_WAIT_S = 120.0


def run_trial(
    spec: SweepSpec,
    trial: Trial,
    folder: str | Path,
    report: Callable[[int, float], None] | None = None,
    started: Callable[[int], None] | None = None,
    lock_wait_s: float = LOCK_WAIT_S,
) -> dict[int, float]:
    """Train and score one trial in ``folder``, going on from what the folder holds.

    ``report(step, score)`` is called for every score, old and new, in order of steps (the
    sweep passes Ray Tune's report); ``started(step)`` once the trial holds its folder, with
    the step it goes on from. Returns the trial's scores by step.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    report = report or (lambda step, score: None)
    with holding_trial(folder, lock_wait_s):
        if started:
            started(trial.kind.start_step(folder))
        scores = read_scores(folder)
        trial.kind.run(spec, trial, folder, spec.score_steps(trial), scores, report)
    return scores


@contextlib.contextmanager
def holding_trial(folder: Path, wait_s: float):
    """Hold the trial folder's lock, waiting up to ``wait_s`` for a process that still has it.

    So that no two processes write one trial at once: after a lost driver or node, Ray may start
    the trial again before the old process has died.
    """
    with open(folder / LOCK, "a+") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise RunError(
                        f"{folder} is still being trained by {holder} after {wait_s:g} s; "
                        "stop it, then resume the sweep"
                    ) from None
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} on {os.uname().nodename}\n")
        handle.flush()
        yield


def check_sees_sweep(mark: Path, sitting: str, node: str) -> None:
    """Refuse to train on a node that does not see the sweep folder the driver wrote.

    The driver writes ``mark`` with an id of its sitting; a node whose path leads elsewhere
    (not mounted, another disk) would otherwise train into a folder nobody reads.
    """
    try:
        seen = mark.read_text().strip()
    except OSError as error:
        seen = f"nothing ({error.strerror})"
    if seen != sitting:
        raise RunError(
            f"node {node} cannot see the sweep folder {mark.parent}: it finds {seen} at {mark} "
            "where the driver wrote this sitting's id; every node must mount the sweep folder "
            "at the same path (a shared file system)"
        )


def run_dqn(spec, trial, folder, wanted, scores, report) -> None:
    """Train the trial in one run, scoring each milestone as the run reaches it."""
    from rlbook.evaluate import evaluate
    from rlbook.runs import RunFolder, restore_agent
    from rlbook.train import train

    config = trial.kind.build_config(trial.config)
    run = RunFolder(folder)

    def score(step: int, agent) -> None:
        if step not in scores:
            games = evaluate(
                agent, config.game, spec.eval_games, EVAL_EPSILON, seed=EVAL_SEED, progress=False
            )
            scores[step] = float(np.mean(games))
            write_scores(folder, scores)
        report(step, scores[step])

    saved = run.last_complete_step()
    if saved is None and run.holds_a_run():
        # Stopped before its first checkpoint: nothing to go on from, so it starts again.
        run.start_over(keep=("scores.csv", LOCK, PLACES))
    # What an earlier sitting trained, scored now if it stopped before scoring it.
    for step in (s for s in wanted if saved is not None and s <= saved):
        if step in scores:
            report(step, scores[step])
        else:
            weights = run.milestone(step) if step < saved else run.checkpoint(saved)
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


def run_lake_agent(spec, trial, folder, wanted, scores, report) -> None:
    """Train a FrozenLake agent in one call, scoring it between episodes."""
    if set(wanted) <= set(scores):
        for step in wanted:
            report(step, scores[step])
        return
    # A FrozenLake trial takes seconds and keeps no checkpoint: an unfinished one starts again.
    from rlbook import envs
    from rlbook.planning import policy_success_rate

    scores.clear()
    write_atomically(folder / "config.json", json.dumps(dict(trial.config), indent=2))

    def score(episodes: int) -> None:
        scores[episodes] = policy_success_rate(env, agent.policy)
        write_scores(folder, scores)
        report(episodes, scores[episodes])

    env = _ScoreBetweenEpisodes(envs.make(spec.game), wanted, score)
    try:
        agent = trial.kind.agent_class()(env, trial.kind.build_config(trial.config))
        agent.train(progress=False)
    finally:
        env.close()
    missing = sorted(set(wanted) - set(scores))
    if missing:
        raise RunError(f"{trial.name} ended without scores at episodes {missing}")
