"""rlbook's benchmarks: ``make bench`` prints the figures the README and the issues quote.

1. FrozenLake: seconds for each agent's 2000-episode run (median of 3), the tabular agent's
   episodes per second, and each agent's greedy success rate over 10 seeds (5,000 played
   episodes each) beside the optimum.
2. DQN on Breakout: steady-state training steps per second (after the warm-up, learning on,
   epsilon 0.1), median of 3 runs, beside Stable-Baselines3's DQN with the same settings
   (installed by ``sb3_dqn.py`` in its own virtual environment), and the resident memory of a
   full 1,000,000-transition replay memory.

Run one part with ``--only frozenlake`` or ``--only dqn``; ``--no-sb3`` skips the comparison.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def frozenlake(seeds: int = 10, repeats: int = 3) -> None:
    import gymnasium as gym
    import numpy as np

    from rlbook import planning
    from rlbook.episodes import success_rate
    from rlbook.qnetwork import QNetworkAgent, QNetworkConfig
    from rlbook.tabular import TabularConfig, TabularQ

    env = gym.make("FrozenLake-v1")
    optimum = planning.optimal_success_rate(env)
    print("\n== FrozenLake-v1 (slippery, 100-step limit), 2000 training episodes ==")
    for name, make in (
        ("tabular Q", lambda s: TabularQ(env, TabularConfig(seed=s))),
        ("Q-network", lambda s: QNetworkAgent(env, QNetworkConfig(seed=s))),
    ):
        times = [timed(lambda s=s, m=make: m(s).train(progress=False)) for s in range(repeats)]
        line = f"{name:10s} train time: median {statistics.median(times):5.2f} s of {repeats}"
        if name == "tabular Q":
            line += f"  ({2000 / statistics.median(times):,.0f} episodes/s)"
        print(line, flush=True)
        rates = []
        for seed in range(seeds):
            agent = make(seed)
            agent.train(progress=False)
            rates.append(success_rate(env, agent.policy, episodes=5000, seed=1000 + seed))
        print(
            f"{name:10s} greedy success rate over {seeds} seeds x 5,000 episodes: median "
            f"{np.median(rates):.3f} (min {min(rates):.3f}, max {max(rates):.3f}); "
            f"optimum {optimum:.3f}; ratio {np.median(rates) / optimum:.2f}",
            flush=True,
        )


def dqn_speed(warmup: int, steps: int, seed: int) -> float:
    """Steps per second of the real training loop, after warm-up, learning on."""
    from rlbook.dqn import DQNConfig
    from rlbook.train import train

    with tempfile.TemporaryDirectory() as run:
        config = DQNConfig(
            steps=warmup + steps,
            learning_starts=warmup,
            buffer_size=100_000,
            epsilon_start=0.1,
            epsilon_end=0.1,
            checkpoint_every=10**9,
            seed=seed,
        )
        train(config, Path(run) / "run", progress=False)
        with open(Path(run) / "run" / "log.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) > warmup + 400]
    (s0, t0), (s1, t1) = [(int(r["step"]), float(r["wall_seconds"])) for r in (rows[0], rows[-1])]
    return (s1 - s0) / (t1 - t0)


def update_milliseconds(repeats: int = 40) -> float:
    """Median time of one Nature-DQN update (batch 32) on random frames."""
    import numpy as np

    from rlbook.dqn import DQNAgent, DQNConfig
    from rlbook.replay import Batch

    agent = DQNAgent(DQNConfig(), (4, 84, 84), 4)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (2, 32, 4, 84, 84), dtype=np.uint8)
    batch = Batch(
        frames[0],
        rng.integers(4, size=32).astype(np.int32),
        np.ones(32, np.float32),
        frames[1],
        np.zeros(32, np.float32),
    )
    times = [timed(lambda: agent.update(batch)) for _ in range(repeats + 5)][5:]
    return 1000 * statistics.median(times)


def replay_peak_memory() -> float:
    """Peak resident GiB of a process that fills a 1,000,000-transition replay memory."""
    code = """
import resource, numpy as np
from rlbook.replay import ReplayMemory
m = ReplayMemory(1_000_000, num_envs=4, seed=0)
frames = np.random.default_rng(0).integers(0, 255, (4, 84, 84), dtype=np.uint8)
a, r, f = np.zeros(4, np.int64), np.zeros(4, np.float32), np.zeros(4, bool)
for _ in range(250_000):
    m.add(frames, a, r, f, f, ~f)
m.sample(32)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def dqn(repeats: int = 3, warmup: int = 2000, steps: int = 3000, sb3: bool = True) -> None:
    print("\n== DQN on Breakout: training steps per second (agent steps, 4 frames each) ==")
    print(
        f"   {os.cpu_count()} CPU cores; warm-up {warmup}, then {steps} timed steps at "
        f"epsilon 0.1, one update (batch 32) per 4 steps; median of {repeats}",
        flush=True,
    )
    update_ms = update_milliseconds()
    print(
        f"one update (batch 32): {update_ms:.1f} ms, so at one update per 4 steps no "
        f"implementation on this CPU passes {4000 / update_ms:.0f} steps/s",
        flush=True,
    )
    runs = [dqn_speed(warmup, steps, seed) for seed in range(repeats)]
    ours = statistics.median(runs)
    print(
        f"rlbook (TensorFlow)      {ours:6.1f} steps/s   runs: "
        + ", ".join(f"{r:.1f}" for r in runs),
        flush=True,
    )
    if sb3:
        out = subprocess.run(
            [
                sys.executable,
                str(HERE / "sb3_dqn.py"),
                "--steps",
                str(steps),
                "--warmup",
                str(warmup),
                "--repeats",
                str(repeats),
            ],
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if out.returncode == 0:
            theirs = json.loads(out.stdout.strip().splitlines()[-1])
            sps = theirs["steps_per_second_median"]
            print(
                f"Stable-Baselines3 {theirs['sb3']:6s} {sps:6.1f} steps/s   runs: "
                + ", ".join(f"{r:.1f}" for r in theirs["runs"])
            )
            print(f"ratio rlbook / SB3: {ours / sps:.2f}x")
        else:
            print("Stable-Baselines3 benchmark failed (see its messages above)")
    gib = replay_peak_memory()
    print(
        f"\nreplay memory, 1,000,000 transitions, filled: peak resident {gib:.2f} GiB "
        f"({gib * 2**30 / 1e6:,.0f} bytes per transition, with the interpreter)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["frozenlake", "dqn"], help="run one part")
    parser.add_argument("--no-sb3", action="store_true", help="skip Stable-Baselines3")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure [3]")
    args = parser.parse_args()
    if args.only in (None, "frozenlake"):
        frozenlake(repeats=args.repeats)
    if args.only in (None, "dqn"):
        dqn(repeats=args.repeats, sb3=not args.no_sb3)


if __name__ == "__main__":
    main()
