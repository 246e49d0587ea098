"""The sweep's trials as Ray Tune runs them: one Tune trial per sweep trial, a line per event.

Imported only once Ray is known to be there (``rlbook.sweep.cluster.connect``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from ray import tune

from rlbook.sweep.results import score_line
from rlbook.sweep.spec import SweepSpec, Trial
from rlbook.sweep.trials import run_trial


def tune_trial(config: dict) -> None:
    """The function Ray Tune runs for each trial (a module-level name, so workers import it)."""
    job = config["job"]
    cpus = str(job["cpus"])
    # Before TensorFlow loads in this worker: its thread pools follow the trial's CPUs.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", cpus)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", cpus)
    run_trial(
        SweepSpec.from_dict(job["spec"]),
        Trial(**job["trial"]),
        job["folder"],
        report=lambda step, score: tune.report({"step": step, "score": score}),
    )


class Printer(tune.Callback):
    """One line per score and per finished or failed trial."""

    def __init__(self, total: int):
        self.total, self.done = total, 0

    def on_trial_result(self, iteration, trials, trial, result, **info):
        print(score_line(trial.config["job"]["name"], result["step"], result["score"]), flush=True)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.done += 1
        print(f"{trial.config['job']['name']}: done ({self.done}/{self.total})", flush=True)

    def on_trial_error(self, iteration, trials, trial, **info):
        self.done += 1
        print(f"{trial.config['job']['name']}: failed ({self.done}/{self.total})", flush=True)


def run_on_tune(spec: SweepSpec, pending, folder: Path, cpus_per_trial, progress) -> dict[str, str]:
    """Run the trials on Ray Tune; returns the error of each trial that failed."""
    jobs = [
        {
            "name": t.name,
            "trial": dataclasses.asdict(t),
            "spec": spec.to_dict(),
            "folder": str(folder / "trials" / t.name),
            "cpus": cpus_per_trial,
        }
        for t in pending
    ]
    callbacks = [Printer(len(jobs))] if progress else []
    # Tune's newer console output ignores verbose=0; the older one keeps quiet, and the
    # printer above says what happens, a line per score.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    tuner = tune.Tuner(
        tune.with_resources(tune_trial, {"cpu": cpus_per_trial}),
        param_space={"job": tune.grid_search(jobs)},
        tune_config=tune.TuneConfig(
            reuse_actors=True,  # a worker that imported TensorFlow once keeps it for the next
            trial_name_creator=lambda t: t.config["job"]["name"],
            trial_dirname_creator=lambda t: t.config["job"]["name"],
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
