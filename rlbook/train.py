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

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rlbook import update_path
from rlbook.dqn import DQNAgent, DQNConfig
from rlbook.games import make_game
from rlbook.memory import check_replay_fits
from rlbook.replay import ReplayMemory
from rlbook.run_report import Report
from rlbook.runs import (
    Checkpoints,
    RunFolder,
    load_replay,
    progress_record,
    save_replay,
)


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
    # Refused now, not hours later when a memory larger than the machine's has filled it.
    check_replay_fits(config)
    folder = RunFolder(run)
    if resume:
        folder.check_resumable(config)
    else:
        folder.refuse_existing()
    with _StopOnSignal(progress) as stop:
        env = make_game(config.game, config.num_envs, config.sticky_actions, config.noop_max)
        try:
            # The update's path is chosen once, here, where the run starts.
            config = update_path.resolve(config, env.obs_shape, env.n_actions)
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
    report = Report(folder, config, step, resume, progress)
    run = Training(env, agent, memory, checkpoints, report, rng, step, episode, on_milestone)
    try:
        run.loop(stop)
    except KeyboardInterrupt:  # a notebook's interrupt button, or a second signal
        stop.requested = True
    finally:
        report.close()
    checkpoints.save(run.step, progress_record(run.episode, rng))
    try:
        save_replay(folder, memory, run.step)
    except KeyboardInterrupt:
        print("the replay memory was not saved; a resumed run refills it", file=sys.stderr)
    if progress:
        state = "stopped" if stop.requested else "finished"
        print(
            f"{state} at step {run.step:,} after {run.episode:,} games; saved to {folder}",
            flush=True,
        )


class Training:
    """The parts of a run that the loop moves forward, and the loop itself."""

    def __init__(self, env, agent, memory, checkpoints, report, rng, step, episode, on_milestone):
        self.env, self.agent, self.memory, self.config = env, agent, memory, agent.config
        self.checkpoints, self.report, self.on_milestone = checkpoints, report, on_milestone
        self.rng, self.step, self.episode = rng, step, episode
        # A run that goes on without its memory refills it with its own policy first, and eases
        # its optimizer in: a few updates on a small memory can undo what a trained agent knows.
        self.restarted = bool(step) and len(memory) == 0
        self.warmed_up = self.config.memory_before_learning(self.restarted)
        self.learning_again_at: int | None = None
        self.learning_rate = None  # the rate last given to the optimizer

    def loop(self, stop) -> None:
        """Act, let the games step, learn meanwhile, store what happened; until done.

        In the chapter: Breakout, "Training".
        """
        config, env, memory = self.config, self.env, self.memory
        # A resumed run starts fresh games: emulator state is not part of a checkpoint.
        observations = env.reset(seed=config.seed + self.step)
        starts = np.ones(config.num_envs, dtype=bool)
        while self.step < config.steps and not stop.requested:
            step, epsilon = self.step, config.epsilon_at(self.step)
            actions, max_q = self.choose_actions(observations, epsilon)
            env.send(actions)
            # Learn while the games advance in ale-py's threads; the batch comes from
            # transitions up to the previous step, one step staler than the textbook loop.
            self.learn(step, step + config.num_envs)
            out = env.receive()
            memory.add(
                observations[:, -1],
                out.actions,
                np.sign(out.rewards),  # the paper's reward clipping
                terminals=out.game_over | out.life_lost,
                episode_starts=starts,
                valid=~out.truncated,
            )
            self.step += config.num_envs
            self.episode += self.report.after_step(self.step, out, max_q, epsilon, self.episode)
            starts, observations = out.game_over | out.truncated, out.observations
            self.on_schedule(step, self.step)

    def choose_actions(self, observations, epsilon: float):
        """Random actions during warm-up, else epsilon-greedy ones; and the max Q of each."""
        if self.config.acts_at_random(self.step):
            n = self.config.num_envs
            return self.rng.integers(self.env.n_actions, size=n), np.full(n, np.nan)
        return self.agent.act(observations, epsilon, self.rng)

    def learn(self, step: int, next_step: int) -> None:
        """One gradient step per ``train_every`` agent steps, once the memory holds enough.

        In the chapter: Breakout, "Training".
        """
        config = self.config
        if next_step < config.learning_starts or len(self.memory) < self.warmed_up:
            return
        # Set whenever the schedule moves, and once on resume, where the config's schedule
        # wins over the rate the checkpoint holds.
        rate = config.learning_rate_at(step) * self.rewarming(step)
        if rate != self.learning_rate:
            self.agent.optimizer.learning_rate = self.learning_rate = rate
        for _ in range(next_step // config.train_every - step // config.train_every):
            loss, _ = self.agent.update(self.memory.sample(config.batch_size))
            self.report.add_loss(loss)

    def rewarming(self, step: int) -> float:
        """The share of the scheduled step size a run that went on without its memory takes."""
        if not self.restarted or not self.config.rewarm_steps:
            return 1.0
        if self.learning_again_at is None:
            self.learning_again_at = step
        return min(1.0, (step - self.learning_again_at + 1) / self.config.rewarm_steps)

    def on_schedule(self, previous: int, step: int) -> None:
        """Sync the target network, save a checkpoint or keep a milestone when their time comes.

        In the chapter: Breakout, "Training".
        """
        config = self.config

        def due(every: int) -> bool:
            return step // every > previous // every

        if due(config.target_update):
            self.agent.sync_target()
        if due(config.checkpoint_every):
            self.checkpoints.save(step, progress_record(self.episode, self.rng))
        if due(config.milestone_every):
            milestone = step // config.milestone_every * config.milestone_every
            self.checkpoints.save_milestone(milestone)
            if self.on_milestone is not None:
                self.on_milestone(milestone, self.agent)


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
