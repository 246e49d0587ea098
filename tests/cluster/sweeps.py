"""Running ``python -m rlbook sweep`` against the loopback cluster, as a user would."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

# Catch trials of seconds: the small network is the sweep's own choice for Catch.
CATCH_FLAGS = [
    "--game",
    "Catch",
    "--eval-games",
    "8",
    *("--set", "buffer_size=1000", "--set", "learning_starts=100", "--set", "target_update=100"),
    *("--set", "compile=graph", "--set", "precision=float32"),
]
EVENT = re.compile(
    r"^\S+-seed\d+: (running on node \w{8} \(\S+\), from (the start|step [\d,]+)"
    r"|step [\d,]+, score -?\d\.\d{3}|done \(\d+/\d+\)"
    r"|lost on (node \w{8} \(\S+\)|its node) \(.*\); Ray runs it again elsewhere)$"
)


def sweep_command(folder: Path, address: str, steps: int, every: int, seeds: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "rlbook",
        "sweep",
        "--run",
        str(folder),
        "--address",
        address,
        "--steps",
        str(steps),
        "--set",
        f"milestone_every={every}",
        "--set",
        f"checkpoint_every={every}",
        "--seeds",
        seeds,
        *CATCH_FLAGS,
    ]


def run_sweep(command: list[str], env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def places(folder: Path) -> dict[str, list[dict]]:
    """Where each trial ran: its rows of nodes.csv, one per sitting it started."""
    return {
        trial.name: read_csv(trial / "nodes.csv")
        for trial in sorted((folder / "trials").iterdir())
        if (trial / "nodes.csv").exists()
    }


def assert_each_score_once(folder: Path, trials: list[str], steps: list[int]) -> None:
    rows = read_csv(folder / "results.csv")
    seen = sorted((f"{r['setting']}-seed{r['seed']}", int(r["step"])) for r in rows)
    assert seen == sorted((t, s) for t in trials for s in steps)


def event_lines(out: str) -> list[str]:
    """The lines before the summary table: each must be one event."""
    lines = out.splitlines()
    return lines[: next(i for i, line in enumerate(lines) if line.startswith("setting "))]
