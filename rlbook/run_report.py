"""What a training run tells as it goes: a log row per game, and the progress bar.

Rows go to the run's ``log.csv`` and TensorBoard through ``rlbook.runs.GameLog``; the bar shows
the recent score, epsilon and agent steps per second.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque

import numpy as np
from tqdm.auto import tqdm

from rlbook.runs import GameLog


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


class Report:
    """What a run tells: a log row per game, TensorBoard, and the progress bar."""

    def __init__(self, folder, config, step: int, resume: bool, progress: bool):
        self.config = config
        self.log = GameLog(folder, step if resume else None)
        self.games = GameTracker(config.num_envs)
        self.recent_scores = deque(maxlen=20)
        self.speed = deque([(step, time.perf_counter())], maxlen=500)
        self.started = time.perf_counter() - self.log.wall_seconds
        # Redraw twice a second on a terminal or in a notebook, every half minute into a file.
        self.bar = tqdm(
            total=config.steps,
            initial=step,
            unit="step",
            disable=not progress,
            mininterval=0.5 if os.isatty(2) or "ipykernel" in sys.modules else 30,
            smoothing=0.1,
        )

    def add_loss(self, loss: float) -> None:
        self.games.add_loss(loss)

    def after_step(self, step: int, out, max_q, epsilon: float, episode: int) -> int:
        """Count the step, log each game that ended with it; returns how many ended."""
        self.games.step(out.rewards, max_q)
        self.speed.append((step, time.perf_counter()))
        (s0, t0), (s1, t1) = self.speed[0], self.speed[-1]
        sps = (s1 - s0) / max(t1 - t0, 1e-9)
        ended = np.flatnonzero(out.game_over | out.truncated)
        for k, i in enumerate(ended, start=1):
            row = self.games.finish(i)
            self.recent_scores.append(row["score"])
            self.log.write(
                {
                    **row,
                    "step": step,
                    "episode": episode + k,
                    "epsilon": round(epsilon, 4),
                    "steps_per_second": round(sps, 1),
                    "wall_seconds": round(time.perf_counter() - self.started, 1),
                }
            )
        self.bar.update(self.config.num_envs)
        if self.recent_scores and step % (self.config.num_envs * 50) == 0:
            self.bar.set_postfix(
                score=f"{np.mean(self.recent_scores):.1f}",
                eps=f"{epsilon:.2f}",
                sps=f"{sps:.0f}",
                refresh=False,
            )
        return len(ended)

    def close(self) -> None:
        self.bar.close()
        self.log.close()
