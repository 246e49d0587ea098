"""The DQN training loop: step the games, store transitions, learn, sync the target, log, save.

``train`` reads top to bottom as the chapter tells it; the files of the run folder (config,
checkpoints, milestones, log, replay memory) belong to ``rlbook.runs``, which the loop calls.

Ctrl-C, SIGINT or SIGTERM (also sent to a run started in the background, where the shell has
SIGINT ignored) stops the run within a step: it saves a checkpoint and the replay memory, then
returns. ``resume=True`` picks the run up at the saved step, with the same exploration schedule.
``log.csv`` is the record of a run: a resume drops its rows past the checkpoint, while
TensorBoard, which cannot forget events, then shows that stretch twice.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from rlbook.dqn import DQNAgent, DQNConfig
from rlbook.envs import make_game
from rlbook.replay import ReplayMemory
from rlbook.runs import (
    Checkpoints,
    GameLog,
    RunFolder,
    load_replay,
    progress_record,
    save_replay,
)


class GameTracker:
    """Running sums for each environment's current game, turned into a log row when it ends."""

    def __init__(self, n: int):
        self.score = np.zeros(n)
        self.clipped = np.zeros(n)
        self.length = np.zeros(n, dtype=np.int64)
        self.q_sum = np.zeros(n)
        self.q_count = np.zeros(n, dtype=np.int64)
        self.loss_mark = np.zeros((n, 2))  # (loss sum, update count) when the game began
        self.loss_sum, self.loss_count = 0.0, 0

    def add_loss(self, loss: float) -> None:
        self.loss_sum += loss
        self.loss_count += 1

    def step(self, rewards: np.ndarray, max_q: np.ndarray) -> None:
        self.score += rewards
        self.clipped += np.sign(rewards)
        self.length += 1
        seen = ~np.isnan(max_q)
        self.q_sum[seen] += max_q[seen]
        self.q_count += seen

    def finish(self, i: int) -> dict:
        updates = self.loss_count - self.loss_mark[i, 1]
        row = {
            "score": float(self.score[i]),
            "clipped_return": float(self.clipped[i]),
            "length": int(self.length[i]),
            "avg_max_q": self.q_sum[i] / self.q_count[i] if self.q_count[i] else "",
            "loss": (self.loss_sum - self.loss_mark[i, 0]) / updates if updates else "",
        }
        self.score[i] = self.clipped[i] = self.length[i] = self.q_sum[i] = self.q_count[i] = 0
        self.loss_mark[i] = (self.loss_sum, self.loss_count)
        return row


# --- the loop --------------------------------------------------------------------------------


def train(
    config: DQNConfig,
    run: str | Path,
    resume: bool = False,
    progress: bool = True,
    on_milestone: Callable[[int, DQNAgent], None] | None = None,
) -> DQNAgent:
    """Train a DQN agent in folder ``run`` (or continue it with ``resume=True``).

    ``on_milestone(step, agent)`` is called once each milestone is saved, with the agent as it
    is there (a sweep scores it, without stopping the run).
    """
    folder = RunFolder(run)
    if resume:
        folder.check_resumable(config)
    else:
        folder.refuse_existing()
    with _StopOnSignal(progress) as stop:
        env = make_game(config.game, config.num_envs, config.sticky_actions, config.noop_max)
        try:
            agent = DQNAgent(config, env.obs_shape, env.n_actions)
            memory = ReplayMemory(
                config.buffer_size,
                config.num_envs,
                env.obs_shape[1:],
                env.obs_shape[0],
                config.seed,
                n_step=config.n_step,
                discount=config.discount,
            )
            with folder.locked(), folder.telling_where_to_resume():
                _learn(folder, env, agent, memory, resume, stop, progress, on_milestone)
        finally:
            env.close()
    return agent


def _learn(folder, env, agent, memory, resume, stop, progress, on_milestone) -> None:
    """The loop of ``train``, in a run folder that this process holds."""
    config = agent.config  # the settings as the agent resolved them
    checkpoints = Checkpoints(folder, agent)
    rng = np.random.default_rng(config.seed)
    step, episode = 0, 0
    if resume:
        saved = checkpoints.restore()
        step, episode = saved["step"], saved["episode"]
        rng.bit_generator.state = saved["rng"]
        load_replay(folder, memory, step)
    else:
        folder.refuse_existing()  # again, now that the lock is held
    # Written only once the game, network, memory (and checkpoint) work with this config, so a
    # command that fails leaves the folder as it was.
    folder.write_config(config)
    if progress:
        print(f"DQN run in {folder}\n{config.to_json()}", flush=True)
    log = GameLog(folder, step if resume else None)
    games = GameTracker(config.num_envs)

    # A resumed run starts fresh games: emulator state is not part of a checkpoint.
    observations = env.reset(seed=config.seed + step)
    starts = np.ones(config.num_envs, dtype=bool)
    recent_scores, speed = deque(maxlen=20), deque([(step, time.perf_counter())], maxlen=500)
    started = time.perf_counter() - log.wall_seconds
    # Sampling needs the state n steps on stored in some lane: n + 1 entries per lane at least.
    warmed_up = max(config.learning_starts, (config.n_step + 1) * config.num_envs)
    # Redraw twice a second on a terminal or in a notebook, every half minute into a log file.
    bar = tqdm(
        total=config.steps,
        initial=step,
        unit="step",
        disable=not progress,
        mininterval=0.5 if os.isatty(2) or "ipykernel" in sys.modules else 30,
        smoothing=0.1,
    )
    learning_rate = None  # the rate last given to the optimizer
    try:
        while step < config.steps and not stop.requested:
            epsilon = config.epsilon_at(step)
            if config.acts_at_random(step):
                actions = rng.integers(env.n_actions, size=config.num_envs)
                max_q = np.full(config.num_envs, np.nan)
            else:
                actions, max_q = agent.act(observations, epsilon, rng)
            env.send(actions)
            next_step = step + config.num_envs
            # Learn while the games advance in ale-py's threads; the batch comes from
            # transitions up to the previous step, one step staler than the textbook loop.
            if next_step >= config.learning_starts and len(memory) >= warmed_up:
                # Set whenever the schedule moves, and once on resume, where the config's
                # schedule wins over the rate the checkpoint holds.
                rate = config.learning_rate_at(step)
                if rate != learning_rate:
                    agent.optimizer.learning_rate = learning_rate = rate
                for _ in range(next_step // config.train_every - step // config.train_every):
                    loss, _ = agent.update(memory.sample(config.batch_size))
                    games.add_loss(loss)
            out = env.receive()
            previous, step = step, next_step
            memory.add(
                observations[:, -1],
                out.actions,
                np.sign(out.rewards),
                terminals=out.game_over | out.life_lost,
                episode_starts=starts,
                valid=~out.truncated,
            )
            games.step(out.rewards, max_q)
            speed.append((step, time.perf_counter()))
            sps = (speed[-1][0] - speed[0][0]) / max(speed[-1][1] - speed[0][1], 1e-9)
            for i in np.flatnonzero(out.game_over | out.truncated):
                episode += 1
                row = games.finish(i)
                recent_scores.append(row["score"])
                log.write(
                    {
                        **row,
                        "step": step,
                        "episode": episode,
                        "epsilon": round(epsilon, 4),
                        "steps_per_second": round(sps, 1),
                        "wall_seconds": round(time.perf_counter() - started, 1),
                    }
                )
            starts = out.game_over | out.truncated
            observations = out.observations

            if step // config.target_update > previous // config.target_update:
                agent.sync_target()
            if step // config.checkpoint_every > previous // config.checkpoint_every:
                checkpoints.save(step, progress_record(episode, rng))
            if step // config.milestone_every > previous // config.milestone_every:
                milestone = step // config.milestone_every * config.milestone_every
                checkpoints.save_milestone(milestone)
                if on_milestone is not None:
                    on_milestone(milestone, agent)
            bar.update(step - previous)
            if recent_scores and step % (config.num_envs * 50) == 0:
                bar.set_postfix(
                    score=f"{np.mean(recent_scores):.1f}",
                    eps=f"{epsilon:.2f}",
                    sps=f"{sps:.0f}",
                    refresh=False,
                )
    except KeyboardInterrupt:  # a notebook's interrupt button, or a second signal
        stop.requested = True
    finally:
        bar.close()
        log.close()
    checkpoints.save(step, progress_record(episode, rng))
    try:
        save_replay(folder, memory, step)
    except KeyboardInterrupt:
        print("the replay memory was not saved; a resumed run refills it", file=sys.stderr)
    if progress:
        state = "stopped" if stop.requested else "finished"
        print(f"{state} at step {step:,} after {episode:,} games; saved to {folder}", flush=True)


class _StopOnSignal:
    """Turn SIGINT and SIGTERM into a clean stop at the end of the current step.

    Installed explicitly, because a shell starts background jobs with SIGINT ignored, and Python
    then never raises KeyboardInterrupt there. A second signal while the run saves abandons the
    replay memory's save (the checkpoint is written first; the memory can be refilled).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, progress: bool):
        self.requested = False
        self.progress = progress
        self._previous = {}
        if threading.current_thread() is threading.main_thread():  # signals reach only it
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.progress:
            name = signal.Signals(signum).name
            print(f"\n{name}: stopping after this step and saving", file=sys.stderr, flush=True)

    def __enter__(self) -> _StopOnSignal:
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
