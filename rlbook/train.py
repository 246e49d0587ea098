"""The DQN training loop: step the games, store transitions, learn, sync the target, log, save.

A run lives in one folder:

    config.json      the DQNConfig of the run
    log.csv          one row per finished game: real score, clipped return, length, max-Q, ...
    tensorboard/     the same per-game figures as TensorBoard summaries
    checkpoints/     online and target weights, optimizer, step (tf.train.CheckpointManager)
    milestones/      the weights every 250,000 steps, kept for scoring the run as it went
    progress.json    what a resumed run needs besides the weights: episode count, the random
                     state of exploration (the games themselves start afresh)
    origin.json      for a run started from a shipped agent: how that agent was trained
    replay.npz       the replay memory, written when the run stops (interrupted or finished)

Ctrl-C (or SIGTERM) saves a checkpoint and the replay memory, then returns; ``resume=True``
picks the run up at the saved step, with the same exploration schedule. ``log.csv`` is the
record of a run: a resume drops its rows past the checkpoint, while TensorBoard, which cannot
forget events, then shows that stretch twice.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import sys
import time
import zipfile
from collections import deque
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from rlbook._keras import tf
from rlbook.dqn import DQNAgent, DQNConfig
from rlbook.envs import make_game
from rlbook.replay import ReplayMemory

MILESTONE = 250_000  # agent steps between checkpoints that are kept for good
LOG_FIELDS = [
    "step",
    "episode",
    "score",
    "clipped_return",
    "length",
    "avg_max_q",
    "loss",
    "epsilon",
    "steps_per_second",
    "wall_seconds",
]


class RunError(RuntimeError):
    """A run folder that cannot be used as asked (exists, missing, from another game, ...)."""


# --- checkpoints ------------------------------------------------------------------------------


class Checkpoints:
    """Weights and optimizer through ``tf.train.CheckpointManager``, the rest as JSON beside."""

    def __init__(self, run: Path, agent: DQNAgent, keep: int = 2):
        self.run = run
        self.step = tf.Variable(0, dtype=tf.int64, name="step")
        self.checkpoint = tf.train.Checkpoint(
            online=agent.online, target=agent.target, optimizer=agent.optimizer, step=self.step
        )
        self.manager = tf.train.CheckpointManager(self.checkpoint, run / "checkpoints", keep)
        self.weights = tf.train.Checkpoint(online=agent.online)

    def save(self, step: int, progress: dict) -> None:
        self.step.assign(step)
        with _disk_errors(f"the checkpoint at step {step}", self.run):
            self.manager.save(checkpoint_number=step)
            _write_json_atomically(self.run / "progress.json", {"step": step, **progress})

    def save_milestone(self, step: int) -> None:
        """Keep the online weights at this step for good, for scoring the run as it went."""
        with _disk_errors(f"the milestone at step {step}", self.run):
            self.weights.write(str(self.run / "milestones" / f"step-{step:09d}"))

    def restore(self) -> dict:
        """Load the checkpoint that progress.json names.

        progress.json is written after the weights, so it always names a complete checkpoint,
        even when a run was killed while saving a newer one.
        """
        path = self.run / "progress.json"
        if not path.exists() or self.manager.latest_checkpoint is None:
            raise RunError(f"{self.run} has no checkpoint to resume from")
        progress = json.loads(path.read_text())
        named = self.run / "checkpoints" / f"ckpt-{progress['step']}"
        if not named.with_suffix(".index").exists():
            raise RunError(f"{path} names step {progress['step']}, but {named} is missing")
        try:
            self.checkpoint.restore(str(named)).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            raise RunError(f"the checkpoint {named} does not fit this network: {error}") from error
        return progress


@contextlib.contextmanager
def _disk_errors(what: str, run: Path):
    try:
        yield
    except (OSError, tf.errors.OpError) as error:
        raise RunError(f"could not write {what} to {run}: {error} (is the disk full?)") from error


def _write_json_atomically(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def restore_agent(run: str | Path, checkpoint_path: str | Path | None = None) -> DQNAgent:
    """The agent of a run with its latest weights, or those of ``checkpoint_path`` (a milestone)."""
    run = Path(run)
    config = load_config(run)
    env = make_game(config.game, 1)
    agent = DQNAgent(config, env.obs_shape, env.n_actions)
    env.close()
    checkpoint = tf.train.Checkpoint(online=agent.online)
    latest = checkpoint_path or tf.train.latest_checkpoint(run / "checkpoints")
    if latest is None:
        raise RunError(f"{run} has no checkpoint (expected {run / 'checkpoints'})")
    latest = str(latest).removesuffix(".index")
    if not Path(latest + ".index").exists():
        raise RunError(f"no checkpoint at {latest} (a checkpoint is a pair of .index/.data files)")
    try:
        # read, not restore: a milestone holds the weights alone, without a save counter.
        checkpoint.read(latest).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as error:
        raise RunError(
            f"the checkpoint {latest} does not fit a {config.game} network: {error}"
        ) from error
    agent.sync_target()
    return agent


def start_from_pretrained(game: str, run: str | Path, config: DQNConfig | None = None) -> int:
    """Make ``run`` a run that continues the agent rlbook ships for ``game``; returns its step.

    The shipped weights become the online and target networks, and the shipped config (or
    ``config``, for the same game and network) and log carry on, so the step count, exploration
    schedule and learning curve go on where the shipped agent stopped. What a shipped agent does
    not hold starts afresh: the optimizer's state and the replay memory, which the agent refills
    with its own policy before learning resumes. This is how a run survives the loss of its
    folder.
    """
    from rlbook import pretrained

    run = Path(run)
    _refuse_existing_run(run)
    source = pretrained.folder(game)
    agent = pretrained.load(game, config)  # the run's config builds the optimizer
    config = agent.config
    info = pretrained.about(game)
    step, episode = int(info["agent_steps"]), int(info["games"])
    _write_config(run, config)
    shutil.copy(source / "log.csv", run / "log.csv")
    shutil.copy(source / "about.json", run / "origin.json")  # how the weights came to be
    rng = np.random.default_rng(config.seed + step)
    Checkpoints(run, agent).save(step, _progress(episode, rng))
    return step


def read_log(path: str | Path) -> dict[str, np.ndarray]:
    """A run's ``log.csv`` as one array per column; blanks (no loss yet, say) become NaN."""
    with Path(path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise RunError(f"{path} holds no finished game yet")
    return {k: np.array([float(r[k]) if r[k] != "" else np.nan for r in rows]) for k in rows[0]}


def load_config(run: str | Path) -> DQNConfig:
    path = Path(run) / "config.json"
    if not path.is_file():
        raise RunError(f"{run} is not a run folder: {path} is missing")
    return DQNConfig.from_json(path)


# --- the per-game log ------------------------------------------------------------------------


class EpisodeLog:
    """Per-game rows in ``log.csv`` and TensorBoard; on resume, rows past the checkpoint go."""

    def __init__(self, run: Path, resume_step: int | None):
        path = run / "log.csv"
        self.wall_seconds = 0.0  # training time before this sitting, so the log's clock goes on
        if resume_step is not None and path.exists():
            with path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
            self.wall_seconds = float(rows[-1]["wall_seconds"]) if rows else 0.0
            with path.open("w", newline="") as f:
                writer = csv.DictWriter(f, LOG_FIELDS)
                writer.writeheader()
                writer.writerows(rows)
        new = not path.exists()
        self.file = path.open("a", newline="")
        self.writer = csv.DictWriter(self.file, LOG_FIELDS)
        if new:
            self.writer.writeheader()
        self.summaries = tf.summary.create_file_writer(str(run / "tensorboard"))

    def write(self, row: dict) -> None:
        self.writer.writerow(row)
        self.file.flush()
        with self.summaries.as_default(step=row["step"]):
            for name in LOG_FIELDS[2:-1]:  # all but the counters and the clock
                if row[name] != "":
                    tf.summary.scalar(f"episode/{name}", float(row[name]))

    def close(self) -> None:
        self.file.close()
        self.summaries.close()


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
    config: DQNConfig, run: str | Path, resume: bool = False, progress: bool = True
) -> DQNAgent:
    """Train a DQN agent in folder ``run`` (or continue it with ``resume=True``)."""
    run = Path(run)
    _check_run(config, run, resume)
    env = make_game(config.game, config.num_envs, config.sticky_actions, config.noop_max)
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
    checkpoints = Checkpoints(run, agent)
    rng = np.random.default_rng(config.seed)
    step, episode = 0, 0
    if resume:
        saved = checkpoints.restore()
        step, episode = saved["step"], saved["episode"]
        rng.bit_generator.state = saved["rng"]
        _load_replay(run, memory, step)
    # Written only once the game, network, memory (and checkpoint) work with this config, so a
    # command that fails leaves the folder as it was.
    _write_config(run, config)
    if progress:
        print(f"DQN run in {run}\n{config.to_json()}", flush=True)
    log = EpisodeLog(run, step if resume else None)
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
    stop = _StopOnSignal()
    try:
        while step < config.steps and not stop.requested:
            epsilon = config.epsilon_at(step)
            if step < config.learning_starts:
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
                checkpoints.save(step, _progress(episode, rng))
            if step // MILESTONE > previous // MILESTONE:
                checkpoints.save_milestone(step // MILESTONE * MILESTONE)
            bar.update(step - previous)
            if recent_scores and step % (config.num_envs * 50) == 0:
                bar.set_postfix(
                    score=f"{np.mean(recent_scores):.1f}",
                    eps=f"{epsilon:.2f}",
                    sps=f"{sps:.0f}",
                    refresh=False,
                )
    except KeyboardInterrupt:
        stop.requested = True
    finally:
        bar.close()
        stop.restore()
        env.close()
        log.close()
    checkpoints.save(step, _progress(episode, rng))
    _save_replay(run, memory, step)
    if progress:
        state = "stopped" if stop.requested else "finished"
        print(f"{state} at step {step:,} after {episode:,} games; saved to {run}", flush=True)
    return agent


def _check_run(config: DQNConfig, run: Path, resume: bool) -> None:
    if resume:
        saved = load_config(run)
        # The checkpoint's optimizer state and replay memory only fit these.
        for name in ("game", "network", "adam", "num_envs", "buffer_size"):
            if getattr(saved, name) != getattr(config, name):
                raise RunError(
                    f"cannot resume {run}: it was trained with {name}={getattr(saved, name)!r}, "
                    f"not {getattr(config, name)!r}"
                )
    else:
        _refuse_existing_run(run)


def _write_config(run: Path, config: DQNConfig) -> None:
    run.mkdir(parents=True, exist_ok=True)
    with _disk_errors("config.json", run):
        (run / "config.json").write_text(config.to_json())


def _refuse_existing_run(run: Path) -> None:
    if (run / "config.json").exists():
        raise RunError(f"{run} already holds a run; pass --resume to continue it, or another --run")


def _progress(episode: int, rng: np.random.Generator) -> dict:
    return {"episode": episode, "rng": rng.bit_generator.state, "saved_at": time.time()}


def _save_replay(run: Path, memory: ReplayMemory, step: int) -> None:
    tmp = run / "replay.tmp.npz"
    try:
        np.savez(tmp, step=np.int64(step), **memory.state_dict())
        os.replace(tmp, run / "replay.npz")
    except OSError as error:
        tmp.unlink(missing_ok=True)
        print(f"warning: the replay memory was not saved ({error}); a resumed run refills it")


def _load_replay(run: Path, memory: ReplayMemory, step: int) -> None:
    path = run / "replay.npz"
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


class _StopOnSignal:
    """Turn SIGTERM into a clean stop, as Ctrl-C is, so a killed run still saves."""

    def __init__(self):
        self.requested = False
        self._previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame):
        self.requested = True

    def restore(self):
        signal.signal(signal.SIGTERM, self._previous)
