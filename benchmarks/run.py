"""rlbook's benchmarks: ``make bench`` prints the figures the README and the issues quote.

1. FrozenLake: seconds for each agent's 2000-episode run (median of 3, wall clock and CPU), the
   tabular agent's episodes per second, seconds for the chapter's 20 Q-network seeds trained side
   by side in one graph and scored every 100 episodes (median of 3), and each agent's greedy
   success rate over 10 seeds (5,000 played episodes each) beside the optimum.
2. DQN on Breakout, on the machine it runs on: the CPU and the features that decide how the
   update runs (avx2, avx512f, avx512_bf16, amx); every candidate update path's time (median)
   and the one chosen; the bound the fastest update sets (4 / update seconds, at one update per
   4 steps); steady-state training steps per second (after the warm-up, learning on, epsilon
   0.1), median of 3 runs, for DQN, Double DQN and C51 (with C51's speed as a share of DQN's),
   and the fraction of the bound each reaches;
   Stable-Baselines3's DQN with the same settings (installed by ``sb3_dqn.py`` in its own
   virtual environment) and the ratio; and the resident memory of a full 1,000,000-transition
   replay memory. Every figure comes from the same run.

Run one part with ``--only frozenlake`` or ``--only dqn``; ``--no-sb3`` skips the comparison;
``--markdown`` ends with the DQN figures as a table row for the README (one row per CPU kind).
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


# The agents timed: the DQN paper's, Double DQN, and C51 with the Adam of the recipe rlbook
# recommends for Breakout (its update computes a distribution per action and projects it).
AGENTS = {
    "DQN": {},
    "Double DQN": {"double": True},
    "C51": {"distributional": True, "adam": True},
}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def timed_cpu(fn) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``fn()``: on a shared machine the CPU time is the steadier."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def frozenlake(seeds: int = 10, repeats: int = 3) -> None:
    import gymnasium as gym
    import numpy as np

    from rlbook import planning
    from rlbook.episodes import success_rate
    from rlbook.qnetwork import QNetworkAgent, QNetworkConfig, train_side_by_side
    from rlbook.tabular import TabularConfig, TabularQ

    env = gym.make("FrozenLake-v1")
    optimum = planning.optimal_success_rate(env)
    print("\n== FrozenLake-v1 (slippery, 100-step limit), 2000 training episodes ==")
    for name, make in (
        ("tabular Q", lambda s: TabularQ(env, TabularConfig(seed=s))),
        ("Q-network", lambda s: QNetworkAgent(env, QNetworkConfig(seed=s))),
    ):
        runs = [timed_cpu(lambda s=s, m=make: m(s).train(progress=False)) for s in range(repeats)]
        times = [wall for wall, _ in runs]
        line = (
            f"{name:10s} train time: median {statistics.median(times):5.2f} s of {repeats} "
            f"({statistics.median(cpu for _, cpu in runs):.2f} s of CPU)"
        )
        if name == "tabular Q":
            line += f"  ({2000 / statistics.median(times):,.0f} episodes/s)"
        print(line, flush=True)
        if name == "Q-network":
            together = [
                timed_cpu(lambda: train_side_by_side(QNetworkConfig(), range(20), progress=False))
                for _ in range(repeats)
            ]
            print(
                f"{name:10s} 20 seeds side by side, scored every 100 episodes (the chapter's "
                f"comparison): median {statistics.median(w for w, _ in together):5.2f} s of "
                f"{repeats} ({statistics.median(c for _, c in together):.2f} s of CPU)",
                flush=True,
            )
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


def dqn_speed(warmup: int, steps: int, seed: int, **settings) -> float:
    """Steps per second of the real training loop, after warm-up, learning on; ``settings``
    are DQNConfig fields (``double=True``, C51's)."""
    from rlbook.dqn_config import DQNConfig
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
            **settings,
        )
        train(config, Path(run) / "run", progress=False)
        with open(Path(run) / "run" / "log.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) > warmup + 400]
    (s0, t0), (s1, t1) = [(int(r["step"]), float(r["wall_seconds"])) for r in (rows[0], rows[-1])]
    return (s1 - s0) / (t1 - t0)


def cpu_features() -> str:
    """The CPU model and, for each feature that decides the update path, whether it has it."""
    from rlbook import update_path

    flags = update_path.cpu_flags()
    features = {
        "avx2": "avx2" in flags,
        "avx512f": "avx512f" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx": "amx_bf16" in flags or "amx_tile" in flags,
    }
    listed = ", ".join(f"{name} {'yes' if have else 'no'}" for name, have in features.items())
    if update_path.apple_silicon():
        listed += ", Apple silicon (native bfloat16)"
    return f"{update_path.cpu_model()} ({listed})"


def update_paths(settings: dict):
    """Time every candidate update path (batch 32, Nature network) afresh, and cache the choice.

    The training runs that follow read the cache, so they use the path chosen here.
    """
    from rlbook.dqn_config import DQNConfig
    from rlbook.update_path import choose_update_path

    return choose_update_path(DQNConfig(**settings), (4, 84, 84), 4, refresh=True, budget=3.0)


def dqn(repeats: int = 3, warmup: int = 2000, steps: int = 3000, sb3: bool = True) -> dict:
    """Print the DQN speed figures and return them (for the Markdown row)."""
    print("\n== DQN on Breakout: training steps per second (agent steps, 4 frames each) ==")
    print(
        f"   {os.cpu_count()} CPU cores; warm-up {warmup}, then {steps} timed steps at "
        f"epsilon 0.1, one update (batch 32) per 4 steps; median of {repeats}",
        flush=True,
    )
    figures = {"cpu": cpu_features(), "cores": os.cpu_count()}
    print(f"CPU: {figures['cpu']}", flush=True)
    for name, settings in AGENTS.items():
        choice = update_paths(settings)
        best = choice.seconds[str(choice.path)]
        candidates = ", ".join(f"{path} {1000 * s:.1f} ms" for path, s in choice.seconds.items())
        print(
            f"{name} update, median of each candidate: {candidates}; chosen {choice.path}; "
            f"at one update per 4 steps no implementation on this CPU passes "
            f"{4 / best:.0f} steps/s",
            flush=True,
        )
        runs = [dqn_speed(warmup, steps, seed, **settings) for seed in range(repeats)]
        ours = statistics.median(runs)
        print(
            f"rlbook {name:10s} (TensorFlow, {choice.path})  {ours:6.1f} steps/s   runs: "
            + ", ".join(f"{r:.1f}" for r in runs)
            + f";  {ours / (4 / best):.0%} of the bound",
            flush=True,
        )
        figures[name] = {
            "path": str(choice.path),
            "update_ms": {path: 1000 * s for path, s in choice.seconds.items()},
            "bound": 4 / best,
            "steps_per_second": ours,
            "runs": runs,
        }
    c51 = figures["C51"]["steps_per_second"] / figures["DQN"]["steps_per_second"]
    print(f"C51 trains at {c51:.2f}x DQN's steps per second", flush=True)
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
                f"Stable-Baselines3 {theirs['sb3']:6s} DQN {sps:6.1f} steps/s   runs: "
                + ", ".join(f"{r:.1f}" for r in theirs["runs"])
            )
            print(f"ratio rlbook DQN / SB3: {figures['DQN']['steps_per_second'] / sps:.2f}x")
            figures["sb3"] = {"version": theirs["sb3"], "steps_per_second": sps}
        else:
            print("Stable-Baselines3 benchmark failed (see its messages above)")
    gib = replay_peak_memory()
    print(
        f"\nreplay memory, 1,000,000 transitions, filled: peak resident {gib:.2f} GiB "
        f"({gib * 2**30 / 1e6:,.0f} bytes per transition, with the interpreter)"
    )
    return figures


def markdown(figures: dict) -> str:
    """The DQN figures as a Markdown table: one row for the CPU this run measured."""
    dqn, double, sb3 = figures["DQN"], figures["Double DQN"], figures.get("sb3")
    candidates = ", ".join(f"{path} {ms:.1f}" for path, ms in dqn["update_ms"].items())
    sb3_cell = f"{sb3['steps_per_second']:.1f} (SB3 {sb3['version']})" if sb3 else "-"
    ratio = f"{dqn['steps_per_second'] / sb3['steps_per_second']:.2f}x" if sb3 else "-"
    header = (
        "| CPU | update path (ms per update, batch 32) | bound | rlbook DQN (of bound) "
        "| rlbook Double DQN (of bound) | SB3 DQN | ratio |\n|---|---|---|---|---|---|---|"
    )
    row = (
        f"| {figures['cpu']}, {figures['cores']} cores | {dqn['path']} ({candidates}) "
        f"| {dqn['bound']:.0f} | {dqn['steps_per_second']:.1f} "
        f"({dqn['steps_per_second'] / dqn['bound']:.0%}) "
        f"| {double['steps_per_second']:.1f} ({double['steps_per_second'] / double['bound']:.0%}, "
        f"{double['path']}) "
        f"| {sb3_cell} | {ratio} |"
    )
    return f"{header}\n{row}"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["frozenlake", "dqn"], help="run one part")
    parser.add_argument("--no-sb3", action="store_true", help="skip Stable-Baselines3")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure [3]")
    parser.add_argument(
        "--markdown", action="store_true", help="end with the DQN figures as a Markdown table"
    )
    args = parser.parse_args()
    if args.only in (None, "frozenlake"):
        frozenlake(repeats=args.repeats)
    if args.only in (None, "dqn"):
        figures = dqn(repeats=args.repeats, sb3=not args.no_sb3)
        if args.markdown:
            print("\n" + markdown(figures))


if __name__ == "__main__":
    main()
