"""The sweep's trials as Ray Tune runs them: one Tune trial per sweep trial, a line per event.

Imported only once Ray is known to be there (``rlbook.sweep.cluster.connect``). Each trial
reports, besides its scores, one event when it starts: the node it runs on and the step it goes
on from, so that a trial moved off a lost node says where it went and that it did not restart.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import ray
from ray import tune

from rlbook.sweep.results import score_line, write_csv
from rlbook.sweep.spec import Trial, load_spec
from rlbook.sweep.trials import PLACES, check_sees_sweep, run_trial

PLACE_FIELDS = ["sitting", "node", "ip", "pid", "from_step", "time"]


def tune_trial(config: dict) -> None:
    """The function Ray Tune runs for each trial (a module-level name, so workers import it)."""
    job = config["job"]
    cpus = str(job["cpus"])
    # Before TensorFlow loads in this worker: its thread pools follow the trial's CPUs.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", cpus)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", cpus)
    node, ip = ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address()
    sweep = Path(job["sweep"])
    check_sees_sweep(sweep / "sitting", job["sitting"], f"{node[:8]} ({ip})")
    folder = Path(job["folder"])

    def started(step: int) -> None:
        place = [job["sitting"], node, ip, os.getpid(), step, f"{time.time():.3f}"]
        _add_place(folder, dict(zip(PLACE_FIELDS, place, strict=True)))
        tune.report({"event": "started", "node": node, "ip": ip, "from_step": step})

    run_trial(
        load_spec(sweep),  # read where the trial runs: a copy in each trial's config weighs on Tune
        Trial(**job["trial"]),
        folder,
        report=lambda step, score: tune.report({"step": step, "score": score}),
        started=started,
    )


def _add_place(folder: Path, row: dict) -> None:
    path = folder / PLACES
    rows = list(csv.DictReader(path.open(newline=""))) if path.exists() else []
    write_csv(path, PLACE_FIELDS, [*rows, row])


class Printer(tune.Callback):
    """One line per event: a trial placed (node, step it goes on from), a score, lost, done."""

    def __init__(self, total: int, say: Callable[[str], None]):
        self.total, self.done, self.say = total, 0, say
        self.printed: set[tuple[str, int]] = set()  # each score once, however often reported
        self.nodes: dict[str, str] = {}

    def on_trial_result(self, iteration, trials, trial, result, **info):
        name = trial.config["job"]["name"]
        if result.get("event") == "started":
            node = f"{result['node'][:8]} ({result['ip']})"
            self.nodes[name] = node
            step = result["from_step"]
            where = f"from step {step:,}" if step else "from the start"
            self.say(f"{name}: running on node {node}, {where}")
        elif (name, result["step"]) not in self.printed:
            self.printed.add((name, result["step"]))
            self.say(score_line(name, result["step"], result["score"]))

    def on_trial_recover(self, iteration, trials, trial, **info):
        name = trial.config["job"]["name"]
        node = f"node {self.nodes[name]}" if name in self.nodes else "its node"
        self.say(f"{name}: lost on {node} ({_last_line(trial)}); Ray runs it again elsewhere")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.done += 1
        self.say(f"{trial.config['job']['name']}: done ({self.done}/{self.total})")

    def on_trial_error(self, iteration, trials, trial, **info):
        self.done += 1
        name = trial.config["job"]["name"]
        self.say(f"{name}: failed ({self.done}/{self.total}): {_last_line(trial)}")


def _last_line(trial) -> str:
    """The last line of a failed trial's error: the exception, without Ray's traceback."""
    try:
        text = Path(trial.error_file).read_text() if trial.error_file else ""
    except OSError:
        text = ""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines or re.search(r"The actor \w+ (is unavailable|died)", text):
        return "its worker stopped answering: the node or its process died"
    return lines[-1]


def run_on_tune(
    pending: list[Trial],
    folder: Path,
    cpus_per_trial: int,
    say: Callable[[str], None] | None,
) -> dict[str, str]:
    """Run the trials on Ray Tune, a line per event to ``say``; returns failed trials' errors.

    Each trial reads the sweep's spec from ``folder``'s ``sweep.json``, written before this."""
    sitting = (folder / "sitting").read_text().strip()
    jobs = [
        {
            "name": t.name,
            "trial": dataclasses.asdict(t),
            "sweep": str(folder),
            "folder": str(folder / "trials" / t.name),
            "sitting": sitting,
            "cpus": cpus_per_trial,
            "memory": t.kind.memory_bytes(t.config),
        }
        for t in pending
    ]
    callbacks = [Printer(len(jobs), say)] if say else []
    # Tune's newer console output ignores verbose=0; the older one keeps quiet, and the
    # printer above says what happens, a line per event.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    tuner = tune.Tuner(
        tune.with_resources(tune_trial, _resources),
        param_space={"job": tune.grid_search(jobs)},
        tune_config=tune.TuneConfig(
            reuse_actors=True,  # a worker that imported TensorFlow once keeps it for the next
            # Module-level, so that Tune's saved state names them instead of pickling them.
            trial_name_creator=_trial_name,
            trial_dirname_creator=_trial_name,
        ),
        run_config=tune.RunConfig(
            name=time.strftime("%Y%m%d-%H%M%S"),
            storage_path=str(folder / "tune"),
            verbose=0,
            progress_reporter=tune.CLIReporter(),  # silent at verbose=0, also in a notebook
            callbacks=callbacks,
            # A trial whose worker is lost (a machine down) is tried once more, from its folder.
            failure_config=tune.FailureConfig(max_failures=1),
        ),
    )
    failed = {}
    for result in tuner.fit():
        if result.error is not None:
            lines = str(result.error).strip().splitlines() or ["unknown error"]
            failed[result.config["job"]["name"]] = lines[-1]
    return failed


def _trial_name(trial) -> str:
    return trial.config["job"]["name"]


def _resources(config: dict) -> dict:
    """A trial's CPUs, and the memory its replay memory will take, so Ray never overfills a node."""
    job = config["job"]
    return {"cpu": job["cpus"], "memory": job["memory"]}
