"""Choosing the fastest way to run the DQN update on this machine.

The same update can run as one XLA program or as a plain TensorFlow graph, in float32 or in mixed
bfloat16, and which is fastest depends on the processor: XLA won by a third on a 2-core AMD EPYC
with AVX-512, while on an Intel Xeon with AMX plain graphs were 8-20% faster and bfloat16 a
further 20-30%. So rlbook times the candidates on random frames, keeps the fastest, and remembers
the timings in the user's cache folder, keyed by everything that could change the answer.

Only the compilation is chosen for the user: it changes the speed, not the numbers. bfloat16
changes the numbers, so it is timed only when a run asks for it by name ("auto" precision means
float32) until a learning comparison on Breakout shows that it learns as well.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlbook._keras import tf
from rlbook.dqn import DQNAgent
from rlbook.dqn_config import COMPILES, PRECISIONS, DQNConfig
from rlbook.files import writing_whole
from rlbook.replay import Batch

# CPU flags that decide which path wins; the model name alone can hide them (a cloud VM may
# report a bare "AMD EPYC" for a Zen 3 without AVX-512 and a Zen 4 with it).
RELEVANT_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


@dataclass(frozen=True)
class UpdatePath:
    """One way to run the update: how it is compiled and in which precision it computes."""

    compile: str  # "xla" or "graph"
    precision: str  # "float32" or "bfloat16" (mixed: float32 weights, output and loss)

    def __str__(self) -> str:
        return f"{self.compile}/{self.precision}"


@dataclass(frozen=True)
class Choice:
    """The chosen path, the median seconds of one update on each candidate, and their source."""

    path: UpdatePath
    seconds: dict[str, float]  # by str(path)
    cached: bool  # True when no candidate had to be timed


def cpu_model() -> str:
    """The processor's name, as the operating system reports it."""
    info = _cpuinfo()
    if "model name" in info:
        return info["model name"]
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    return frozenset(_cpuinfo().get("flags", "").split())


def apple_silicon() -> bool:
    """Whether this is an Apple M-series machine (its cores compute bfloat16 natively)."""
    return platform.system() == "Darwin" and platform.machine() == "arm64"


def cpu_description() -> str:
    """The CPU model and the features that matter to the update, e.g. ``AMD EPYC [avx2]``."""
    flags = cpu_flags()
    present = [flag for flag in RELEVANT_FLAGS if flag in flags]
    if apple_silicon():
        present.append("apple-silicon")
    return f"{cpu_model()} [{' '.join(present) or 'none of ' + ', '.join(RELEVANT_FLAGS)}]"


def candidates(compile: str = "auto", precision: str = "auto") -> list[UpdatePath]:
    """The paths worth timing: every compilation, in the precision asked for.

    A compile other than ``"auto"`` fixes that half of the choice; precision ``"auto"`` is
    float32, since bfloat16 would change what the run computes.
    """
    if compile not in (*COMPILES, "auto"):
        raise ValueError(f"unknown compile {compile!r}; choose one of {[*COMPILES, 'auto']}")
    if precision not in (*PRECISIONS, "auto"):
        raise ValueError(f"unknown precision {precision!r}; choose one of {[*PRECISIONS, 'auto']}")
    compiles = COMPILES if compile == "auto" else (compile,)
    return [UpdatePath(c, "float32" if precision == "auto" else precision) for c in compiles]


def cache_key(
    network: str,
    obs_shape: tuple[int, ...],
    batch_size: int,
    double: bool,
    distributional: bool = False,
) -> str:
    """What the timings depend on: processor, cores, TensorFlow (and whether it runs oneDNN's
    kernels), network, frames, batch, target, head."""
    gpus = [
        tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
        for gpu in tf.config.list_physical_devices("GPU")
    ]
    machine = " + ".join(gpus) if gpus else f"{cpu_description()} x{_cores()}"
    frames = "x".join(map(str, obs_shape))
    target = ("double" if double else "dqn") + (" c51" if distributional else "")
    onednn = " oneDNN" if onednn_on() else ""
    return (
        f"{machine} | TF {tf.__version__}{onednn} | {network} {frames} | batch {batch_size} "
        f"| {target}"
    )


def onednn_on() -> bool:
    """Whether TensorFlow's graphs run on oneDNN's kernels (rlbook asks for them on x86)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # a TensorFlow without this probe: go by the setting
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1"
    return bool(_pywrap_util_port.IsMklEnabled())


def default_cache_file() -> Path:
    """``$XDG_CACHE_HOME/rlbook/update_paths.json``, by default under ``~/.cache``."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "rlbook" / "update_paths.json"


def choose(
    options: list[UpdatePath],
    time_update: Callable[[UpdatePath], float],
    key: str,
    cache_file: Path | None,
    refresh: bool = False,
    rounds: int = 3,
) -> Choice:
    """The fastest of ``options``, by ``time_update`` (seconds per update) of each.

    Each path is timed ``rounds`` times, taking turns, and keeps the median: on a machine shared
    with other work the load drifts, and timing one path after the other would hand the quieter
    moment to one of them. Timings already in ``cache_file`` under ``key`` are reused unless
    ``refresh``; new ones are added to it. ``cache_file=None`` keeps nothing.
    """
    if not options:
        raise ValueError("no update paths to choose from")
    if rounds < 1:
        raise ValueError(f"rounds must be positive, got {rounds}")
    cache = _read_cache(cache_file)
    seconds = {} if refresh else dict(cache.get(key, {}))
    missing = [path for path in options if str(path) not in seconds]
    samples: dict[UpdatePath, list[float]] = {path: [] for path in missing}
    for _ in range(rounds if missing else 0):
        for path in missing:
            samples[path].append(float(time_update(path)))
    seconds.update({str(path): statistics.median(times) for path, times in samples.items()})
    if missing and cache_file is not None:
        cache[key] = seconds
        _write_cache(cache_file, cache)
    best = min(options, key=lambda path: seconds[str(path)])
    return Choice(best, {str(path): seconds[str(path)] for path in options}, cached=not missing)


def median_seconds(
    run: Callable[[], object], budget: float = 1.0, warmup: int = 2, most: int = 200
) -> float:
    """Median wall time of ``run()`` over about ``budget`` seconds, after ``warmup`` calls.

    The warm-up calls trace and compile; at least 5 calls are timed, at most ``most``.
    """
    for _ in range(warmup):
        run()
    times: list[float] = []
    deadline = time.perf_counter() + budget
    while len(times) < 5 or (time.perf_counter() < deadline and len(times) < most):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo; empty where there is none."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    info: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        name, _, value = line.partition(":")
        info.setdefault(name.strip(), value.strip())
    return info


def _read_cache(cache_file: Path | None) -> dict[str, dict[str, float]]:
    if cache_file is None:
        return {}
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return {}  # absent or damaged: a cache, so time again rather than fail
    return cache if isinstance(cache, dict) else {}


def _write_cache(cache_file: Path, cache: dict[str, dict[str, float]]) -> None:
    # Written whole, so a reader never sees half a file, and shared: trials of a sweep time
    # their updates at the same moment. An unwritable cache folder costs only the timing next
    # time, so it is not an error.
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with writing_whole(cache_file, shared=True) as partial:
            partial.write_text(json.dumps(cache, indent=2, sort_keys=True))
    except OSError:
        pass


def resolve(config: DQNConfig, obs_shape: tuple[int, int, int], n_actions: int) -> DQNConfig:
    """``config`` with "auto" compilation replaced by the faster path here (timed or cached).

    Called where a run starts, before its agent is built: the agent itself never times.
    """
    if config.compile != "auto":
        return config.for_acting()
    chosen = choose_update_path(config, obs_shape, n_actions).path
    return dataclasses.replace(config, compile=chosen.compile, precision=chosen.precision)


def choose_update_path(
    config: DQNConfig,
    obs_shape: tuple[int, int, int],
    n_actions: int,
    cache_file: Path | None = None,
    refresh: bool = False,
    budget: float = 1.0,
) -> Choice:
    """The fastest update path for this config on this machine, timed or from the cache.

    ``cache_file`` defaults to the user's (``default_cache_file()``); ``refresh``
    times every candidate again, each for about ``budget`` seconds.
    """
    options = candidates(config.compile, config.precision)
    if len(options) == 1 and not refresh:
        return Choice(options[0], {}, cached=True)
    key = cache_key(
        config.network, tuple(obs_shape), config.batch_size, config.double, config.distributional
    )
    rounds = 3
    runners: dict[UpdatePath, Callable[[], object]] = {}

    def time_update(path: UpdatePath) -> float:
        if path not in runners:  # built and compiled once, then timed in each round
            runners[path] = update_runner(config, obs_shape, n_actions, path)
        return median_seconds(runners[path], budget / rounds, warmup=0)

    return choose(
        options,
        time_update,
        key,
        cache_file or default_cache_file(),
        refresh,
        rounds,
    )


def update_runner(
    config: DQNConfig,
    obs_shape: tuple[int, int, int],
    n_actions: int,
    path: UpdatePath,
) -> Callable[[], object]:
    """A function that runs one update of ``config``'s agent on ``path``, on random frames.

    Its agent is built and its update compiled (by two warm-up calls) before it is returned.
    """
    agent = DQNAgent(
        dataclasses.replace(config, compile=path.compile, precision=path.precision),
        obs_shape,
        n_actions,
    )
    size = config.batch_size
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, size, *obs_shape), dtype=np.uint8)
    batch = Batch(
        frames[0],
        rng.integers(n_actions, size=size, dtype=np.int32),
        rng.standard_normal(size).astype(np.float32),
        frames[1],
        (rng.random(size) < 0.1).astype(np.float32),
    )
    for _ in range(2):
        agent.update(batch)
    return lambda: agent.update(batch)
