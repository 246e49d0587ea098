"""Measure Stable-Baselines3 DQN training speed on Atari Breakout (CPU).

The figure is printed beside rlbook's own DQN speed, so the settings mirror the DQN paper
(and rlbook): 84x84 grey frames, 4-frame stack, batch 32, train every 4 agent steps, one
gradient step each, target sync every 10k steps, epsilon 1.0 -> 0.1 over 1e6 steps.

SB3 needs PyTorch, which rlbook does not depend on, so this script keeps everything in a
private virtual environment (default ``~/.cache/rlbook/sb3-venv``), creating and filling it
on first use and reusing it afterwards.  It then re-runs itself inside that environment with
``--inner`` to do the measurement.  Only the standard library is imported at module level so
the outer half runs under any Python 3.

Progress goes to stderr; the very last line on stdout is one JSON object, e.g.::

    {"steps_per_second_median": 143.2, "runs": [141.0, 143.2, 145.9], "steps": 2000, ...}

Usage::

    python benchmarks/sb3_dqn.py                      # 3 runs of 2000 measured steps
    python benchmarks/sb3_dqn.py --steps 500 --repeats 1 --warmup 500   # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_VENV = "~/.cache/rlbook/sb3-venv"
# A CPU build of this version lies on the project's machines (pip finds it through their
# find-links config), so pinning it avoids pulling the multi-GB CUDA build of plain `torch`.
PINNED_TORCH = "torch==2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# cv2 is needed by SB3's AtariWrapper (frame resizing); the headless build has no GUI deps.
SB3_PACKAGES = ["stable-baselines3", "gymnasium", "ale-py", "opencv-python-headless"]
# Everything the inner run imports; if all import, the venv is complete and is reused.
REQUIRED_IMPORTS = "import torch, stable_baselines3, gymnasium, ale_py, cv2"

# The DQN paper anneals epsilon over the first million agent steps.


def log(message: str) -> None:
    """Progress to stderr, so stdout carries only the final JSON line."""
    print(f"[sb3_dqn] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Measure Stable-Baselines3 DQN steady-state training speed (agent steps per "
            "second) on BreakoutNoFrameskip-v4 on CPU. Creates/reuses a private venv with "
            "CPU PyTorch + SB3, runs there, and prints one JSON line as the last stdout line."
        ),
        epilog=(
            "PyTorch install: by default `pip install torch==2.13.0` (a local CPU build on "
            f"rlbook's machines), falling back to `--index-url {TORCH_CPU_INDEX}`. Set "
            "RLBOOK_TORCH_INDEX to try an index first (its value if it is a URL, else the "
            "PyTorch CPU index)."
        ),
    )
    parser.add_argument(
        "--venv",
        default=DEFAULT_VENV,
        help=f"virtual environment to create or reuse (default: {DEFAULT_VENV})",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=2000,
        help="M: agent steps timed after warm-up, with learning on (default: 2000)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=1000,
        help="W: untimed steps first; also SB3's learning_starts (default: 1000)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="R: fresh runs (new env and model each); the median is reported (default: 3)",
    )
    parser.add_argument(
        "--buffer-size",
        type=int,
        default=100_000,
        help="replay buffer capacity; 100k keeps memory modest (paper: 1M) (default: 100000)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the first run; run i uses seed+i (default: 0)"
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=0,
        help=(
            "torch.set_num_threads value; 0 keeps PyTorch's default of one per core. Set 1 "
            "when other processes are busy: OpenMP threads that share a loaded core slow "
            "training many-fold (default: 0)"
        ),
    )
    parser.add_argument(
        "--epsilon",
        type=float,
        default=0.1,
        help="fixed exploration rate while timing (default: 0.1, the paper's final value)",
    )
    parser.add_argument(
        "--inner",
        action="store_true",
        help="internal: run the measurement in the current interpreter (used inside the venv)",
    )
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1 or args.buffer_size < 1:
        parser.error("--steps, --repeats and --buffer-size must be >= 1")
    if args.warmup < 0 or args.torch_threads < 0:
        parser.error("--warmup and --torch-threads must be >= 0")
    return args


# ----------------------------------------------------------------------------- outer half


def venv_python_path(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def run_checked(cmd: list[str], what: str) -> None:
    """Run a setup command with its output on stderr; exit with the command named on failure."""
    log(f"{what}: {' '.join(cmd)}")
    try:
        # pip's chatter goes to stderr too, keeping stdout for the JSON result.
        proc = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr, check=False)
    except OSError as exc:
        sys.exit(f"[sb3_dqn] error: could not run `{' '.join(cmd)}`: {exc}")
    if proc.returncode != 0:
        sys.exit(f"[sb3_dqn] error: `{' '.join(cmd)}` failed with exit code {proc.returncode}")


def imports_ok(python: Path, statement: str) -> bool:
    if not python.exists():
        return False
    proc = subprocess.run(
        [str(python), "-c", statement],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return proc.returncode == 0


def torch_install_commands(pip: list[str]) -> list[list[str]]:
    """The PyTorch install attempts, in order (see the --help epilog)."""
    index = os.environ.get("RLBOOK_TORCH_INDEX", "").strip()
    index_url = index if "://" in index else TORCH_CPU_INDEX
    pinned = [*pip, PINNED_TORCH]
    from_index = [*pip, "--index-url", index_url, "torch"]
    return [from_index, pinned] if index else [pinned, from_index]


def ensure_venv(venv: Path) -> Path:
    """Create and fill the venv unless it already imports everything; return its python."""
    python = venv_python_path(venv)
    if imports_ok(python, REQUIRED_IMPORTS):
        log(f"reusing {venv}")
        return python

    started = time.perf_counter()
    if not python.exists():
        # The caller's interpreter (rlbook's .venv or plain python3) seeds the new venv;
        # venv resolves it to the base interpreter, so nesting is not an issue.
        run_checked([sys.executable, "-m", "venv", str(venv)], "creating venv")
    log("installing CPU PyTorch, stable-baselines3, gymnasium, ale-py, opencv (takes minutes)")
    pip = [str(python), "-m", "pip", "install"]

    if not imports_ok(python, "import torch"):
        tried: list[str] = []
        for cmd in torch_install_commands(pip):
            log(f"installing PyTorch: {' '.join(cmd)}")
            proc = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr, check=False)
            tried.append(f"`{' '.join(cmd)}` (exit {proc.returncode})")
            if proc.returncode == 0:
                break
            log(f"that failed (exit {proc.returncode}); trying the next way, if any")
        else:
            sys.exit("[sb3_dqn] error: PyTorch install failed: " + "; ".join(tried))

    # Pin the torch just installed: otherwise resolving SB3's `torch>=...` requirement could
    # swap it for a newer default (CUDA) build from the regular index.
    version = subprocess.run(
        [str(python), "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if version.returncode != 0:
        sys.exit(f"[sb3_dqn] error: torch does not import in {venv}:\n{version.stderr}")
    torch_pin = f"torch=={version.stdout.strip()}"
    run_checked([*pip, *SB3_PACKAGES, torch_pin], "installing SB3 and Atari packages")

    if not imports_ok(python, REQUIRED_IMPORTS):
        sys.exit(
            f"[sb3_dqn] error: after installing, `{python} -c '{REQUIRED_IMPORTS}'` still fails"
        )
    log(f"venv ready in {time.perf_counter() - started:.0f} s: {venv}")
    return python


def run_in_venv(python: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        str(python),
        str(Path(__file__).resolve()),
        "--inner",
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
        "--repeats",
        str(args.repeats),
        "--buffer-size",
        str(args.buffer_size),
        "--seed",
        str(args.seed),
        "--torch-threads",
        str(args.torch_threads),
        "--epsilon",
        str(args.epsilon),
    ]
    log(f"measuring: {' '.join(cmd)}")
    # stderr (progress, warnings) streams through live; stdout is captured for the JSON.
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout)
        sys.exit(f"[sb3_dqn] error: measurement `{' '.join(cmd)}` exited {proc.returncode}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        sys.exit(
            f"[sb3_dqn] error: no JSON result from the measurement; stdout was:\n{proc.stdout}"
        )
    return result


# ----------------------------------------------------------------------------- inner half


def make_breakout(seed: int) -> tuple[Any, str]:
    """Breakout as in the DQN paper: SB3's AtariWrapper (noop reset, frame skip 4, 84x84 grey,
    episode end on life loss, reward clipping) plus a 4-frame stack."""
    import ale_py
    import gymnasium as gym
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    # gymnasium 1.x no longer auto-loads plugins, so ALE ids exist only once registered.
    gym.register_envs(ale_py)
    env_id = "BreakoutNoFrameskip-v4"
    env_kwargs: dict[str, Any] = {}
    if env_id not in gym.registry:
        # Same dynamics as the v4 NoFrameskip id: AtariWrapper does the frame skipping, and
        # sticky actions are off as in the paper.
        env_id = "ALE/Breakout-v5"
        env_kwargs = {"frameskip": 1, "repeat_action_probability": 0.0}
    venv = make_atari_env(env_id, n_envs=1, seed=seed, env_kwargs=env_kwargs)
    return VecFrameStack(venv, n_stack=4), env_id


def measure_once(args: argparse.Namespace, seed: int) -> tuple[float, float, str]:
    """One fresh run; returns (steady-state steps/s, warm-up seconds, env id)."""
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    class Stopwatch(BaseCallback):
        """Times the steps after warm-up. _on_step runs once per agent step (n_envs=1),
        and _on_training_end after learn()'s final gradient step, so the window holds
        exactly the steps W+1..W+M and all training done for them."""

        def __init__(self, warmup: int) -> None:
            super().__init__()
            self.warmup = warmup
            self.t_begin = time.perf_counter()
            self.t_start = 0.0
            self.t_end = 0.0
            self.steps_start = -1
            self.steps_end = -1

        def _on_step(self) -> bool:
            if self.steps_start < 0 and self.num_timesteps >= self.warmup:
                self.t_start = time.perf_counter()
                self.steps_start = self.num_timesteps
            return True

        def _on_training_end(self) -> None:
            self.t_end = time.perf_counter()
            self.steps_end = self.num_timesteps

    env, env_id = make_breakout(seed)
    total = args.warmup + args.steps
    model = DQN(
        "CnnPolicy",
        env,
        learning_rate=2.5e-4,
        buffer_size=args.buffer_size,
        learning_starts=args.warmup,
        batch_size=32,
        gamma=0.99,
        train_freq=4,
        gradient_steps=1,
        target_update_interval=10_000,
        # A fixed epsilon, as in most of a long run after the decay: the network then picks
        # most actions, which is what steady-state training costs.
        exploration_fraction=1.0,
        exploration_initial_eps=args.epsilon,
        exploration_final_eps=args.epsilon,
        optimize_memory_usage=False,
        device="cpu",
        seed=seed,
        verbose=0,
    )
    stopwatch = Stopwatch(args.warmup)
    model.learn(total_timesteps=total, callback=stopwatch, progress_bar=False)
    env.close()
    measured = stopwatch.steps_end - stopwatch.steps_start
    elapsed = stopwatch.t_end - stopwatch.t_start
    if stopwatch.steps_start < 0 or measured <= 0 or elapsed <= 0:
        raise RuntimeError(f"nothing timed (steps {measured}, {elapsed:.3f} s)")
    return measured / elapsed, stopwatch.t_start - stopwatch.t_begin, env_id


def run_inner(args: argparse.Namespace) -> int:
    import ale_py
    import cv2
    import gymnasium
    import stable_baselines3
    import torch

    # By default the thread count is PyTorch's own (all cores), as a user would run it; it is
    # reported so figures from different machines can be read correctly.
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    threads = torch.get_num_threads()
    # Other busy processes distort the figure badly (OpenMP threads wait on each other when
    # one of them loses its core), so the load before starting goes into the result.
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else -1.0
    if load > 0.5 * (os.cpu_count() or 1):
        log(f"warning: 1-minute load average is {load:.2f} before measuring; figures may be low")
    log(
        f"torch {torch.__version__} ({threads} threads), sb3 {stable_baselines3.__version__}, "
        f"gymnasium {gymnasium.__version__}, ale-py {ale_py.__version__}, cv2 {cv2.__version__}"
    )
    runs: list[float] = []
    env_id = ""
    for i in range(args.repeats):
        speed, warm_s, env_id = measure_once(args, args.seed + i)
        runs.append(round(speed, 2))
        log(
            f"run {i + 1}/{args.repeats} on {env_id}: {speed:.1f} steps/s over {args.steps} "
            f"steps (warm-up of {args.warmup} steps took {warm_s:.1f} s)"
        )
    result = {
        "steps_per_second_median": round(statistics.median(runs), 2),
        "runs": runs,
        "steps": args.steps,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "buffer_size": args.buffer_size,
        "env_id": env_id,
        "device": "cpu",
        "torch_threads": threads,
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(load, 2),
        "torch": torch.__version__,
        "sb3": stable_baselines3.__version__,
        "gymnasium": gymnasium.__version__,
        "ale_py": ale_py.__version__,
        "python": sys.version.split()[0],
    }
    print(json.dumps(result), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.inner:
        return run_inner(args)
    python = ensure_venv(Path(args.venv).expanduser())
    result = run_in_venv(python, args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
