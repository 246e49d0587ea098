"""The sweep's driver: checks the sweep, holds its folder, runs what is unfinished, collects."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from rlbook.files import RunError, holding_lock, write_atomically
from rlbook.memory import refuse_unless_fits
from rlbook.sweep.cluster import check_memory, connect, ray_output_into, watching_head
from rlbook.sweep.fields import check_positive
from rlbook.sweep.results import SweepResult, collect, read_scores, score_line
from rlbook.sweep.spec import SweepSpec, Trial, load_spec
from rlbook.sweep.trials import run_trial


def run(
    spec: SweepSpec,
    folder: str | Path,
    address: str | None = None,
    resume: bool = False,
    cpus_per_trial: int = 1,
    progress: bool = True,
    on_ray: bool = True,
) -> SweepResult:
    """Run the sweep ``spec`` in ``folder`` on Ray Tune (``resume=True`` goes on with it).

    ``address`` names a Ray cluster (``HOST:PORT`` or ``auto``; default ``RAY_ADDRESS``); without
    one, a Ray is started on this machine and stays up for the next sweep of this process
    (``ray.shutdown()`` ends it). Every check of the input is made before Ray starts.
    ``on_ray=False`` runs the same trials one after another in this process instead: for a
    sweep of seconds, where starting Ray would take longer, or to debug a trial.
    """
    trials = spec.trials()
    check_positive("cpus_per_trial", cpus_per_trial)
    folder = Path(folder).resolve()
    saved = folder / "sweep.json"
    if resume:
        if not saved.exists():
            raise RunError(f"{folder} holds no sweep to resume ({saved} is missing)")
        asked = load_spec(folder)
        if asked != spec:
            changed = [k for k, v in spec.to_dict().items() if asked.to_dict()[k] != v]
            raise RunError(
                f"{folder} holds another sweep: its {', '.join(changed)} differ; resume it as it "
                "was asked (only --run and --resume), or start a new one in another folder"
            )
    elif saved.exists():
        raise RunError(f"{folder} already holds a sweep; pass --resume to go on with it")
    pending = [t for t in trials if not _complete(spec, t, folder)]
    needs = [(t.name, t.kind.memory_bytes(t.config)) for t in pending]
    if pending and on_ray:
        with ray_output_into(folder / "ray.log") as terminal:
            # Before sweep.json is written: Ray may not be there, or too small for a trial.
            joined = connect(address, cpus_per_trial, log=folder / "ray.log")
            check_memory(needs)
            with _locked(folder):
                write_atomically(saved, json.dumps(spec.to_dict(), indent=2))
                write_atomically(folder / "sitting", uuid.uuid4().hex)
                # Ray Tune is imported only now: without the sweep extra, connect() said so.
                from rlbook.sweep.tuner import run_on_tune

                again = f"python -m rlbook sweep --run {folder} --resume --address {joined}"
                hint = f"go on with `{again}`"
                with watching_head(joined, hint, terminal):
                    say = terminal.say if progress else None
                    failed = run_on_tune(pending, folder, cpus_per_trial, say)
                result = collect(spec, folder, ran=[t.name for t in pending])
    else:
        for name, nbytes in needs:
            refuse_unless_fits(nbytes, f"trial {name}'s replay memory")
        with _locked(folder):
            write_atomically(saved, json.dumps(spec.to_dict(), indent=2))
            failed = _run_here(spec, pending, folder, progress) if pending else {}
            result = collect(spec, folder, ran=[t.name for t in pending])
    if failed:
        errors = "; ".join(f"{name}: {error}" for name, error in failed.items())
        records = f"; Ray Tune's records of them are in {folder / 'tune'}" if on_ray else ""
        raise RunError(
            f"{len(failed)} of {len(trials)} trials failed ({errors}){records}. The summary holds "
            "the others; resume the sweep to run the failed trials again"
        )
    return result


def _run_here(spec, pending, folder, progress) -> dict[str, str]:
    """Run the trials one after another in this process; returns the error of each that failed."""
    failed = {}
    for number, trial in enumerate(pending, start=1):
        try:
            run_trial(spec, trial, folder / "trials" / trial.name, _printing(trial, progress))
        except Exception as error:  # as on Ray: the other trials go on, the sweep says what failed
            failed[trial.name] = f"{type(error).__name__}: {error}"
        if progress:
            state = "failed" if trial.name in failed else "done"
            print(f"{trial.name}: {state} ({number}/{len(pending)})", flush=True)
    return failed


def _printing(trial: Trial, progress: bool):
    def report(step: int, score: float) -> None:
        if progress:
            print(score_line(trial.name, step, score), flush=True)

    return report


def _complete(spec: SweepSpec, trial: Trial, folder: Path) -> bool:
    scores = read_scores(folder / "trials" / trial.name)
    return set(spec.score_steps(trial)) <= set(scores)


def _locked(folder: Path):
    """Hold the sweep folder's lock, so that two processes never run one sweep at once."""
    return holding_lock(folder / "sweep.lock", "run")
