"""What a sweep's scores show: each trial's scores.csv, results.csv, summary.csv and the figure."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rlbook import stats
from rlbook.files import write_atomically

if TYPE_CHECKING:
    from rlbook.sweep.spec import SweepSpec

RESULT_FIELDS = ["setting", "seed", "step", "score"]
SUMMARY_FIELDS = [
    "setting",
    "step",
    "runs",
    "mean",
    "mean_low",
    "mean_high",
    "iqm",
    "iqm_low",
    "iqm_high",
]


def read_scores(trial_folder: Path) -> dict[int, float]:
    """A trial's scores so far (``scores.csv``), by step."""
    path = Path(trial_folder) / "scores.csv"
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        return {int(row["step"]): float(row["score"]) for row in csv.DictReader(f)}


def write_scores(trial_folder: Path, scores: Mapping[int, float]) -> None:
    rows = [{"step": step, "score": scores[step]} for step in sorted(scores)]
    write_csv(trial_folder / "scores.csv", ["step", "score"], rows)


def write_csv(path: Path, fields: list[str], rows: Iterable[Mapping]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(path, text.getvalue())


def score_line(name: str, step: int, score: float) -> str:
    return f"{name}: step {step:,}, score {score:.3f}"


@dataclass
class SweepResult:
    """What a sweep holds once it ran: every score, the summary, the trials of this sitting."""

    folder: Path
    results: list[dict]  # setting, seed, step, score: one row per score of every trial
    summary: list[dict]  # setting, step, runs, mean, IQM and their intervals (SUMMARY_FIELDS)
    ran: list[str]  # the trials this sitting ran (the others were already complete)
    figure: Path | None

    def final_scores(self) -> dict[str, np.ndarray]:
        """Each setting's scores at its last step, one per seed, in the order of the seeds."""
        last: dict[str, int] = {}
        for row in self.results:
            last[row["setting"]] = max(last.get(row["setting"], 0), row["step"])
        return {
            setting: np.array(
                [r["score"] for r in self.results if r["setting"] == setting and r["step"] == step]
            )
            for setting, step in last.items()
        }

    def final_summary(self) -> list[dict]:
        """The summary's row at each setting's last step."""
        last = {}
        for row in self.summary:
            last[row["setting"]] = row  # rows come in order of steps
        return list(last.values())


def collect(spec: SweepSpec, folder: str | Path, ran: Sequence[str] = ()) -> SweepResult:
    """Gather every trial's scores into results.csv, summary.csv and the sweep's figure."""
    folder = Path(folder)
    results = []
    for trial in spec.trials():
        scores = read_scores(folder / "trials" / trial.name)
        results += [
            {"setting": trial.setting, "seed": trial.seed, "step": step, "score": score}
            for step, score in sorted(scores.items())
        ]
    summary = summarize(results)
    write_csv(folder / "results.csv", RESULT_FIELDS, results)
    write_csv(folder / "summary.csv", SUMMARY_FIELDS, summary)
    figure = _draw(spec, summary, folder) if summary else None
    return SweepResult(folder, results, summary, list(ran), figure)


def _draw(spec: SweepSpec, summary: list[dict], folder: Path) -> Path:
    import matplotlib.pyplot as plt

    from rlbook import charts

    seeds = len(spec.seeds)
    measure = spec.kind.measure.format(seeds=seeds, games=spec.eval_games)
    compared = " x ".join(spec.grid) or spec.agent
    title = f"{spec.game}: {compared}, {seeds} seed{'s' * (seeds > 1)} each"
    ax = charts.plot_sweep(summary, xlabel=spec.kind.step_label, ylabel=measure, title=title)
    figure = charts.save_png("sweep", ax.figure, folder=folder)
    plt.close(ax.figure)  # saved, not shown: a notebook draws what it asks for itself
    return figure


def summarize(results: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Per setting and step: the runs there, their mean and IQM, each with its 95% interval."""
    scores: dict[str, dict[int, list[float]]] = {}
    for row in results:
        scores.setdefault(row["setting"], {}).setdefault(int(row["step"]), []).append(row["score"])
    rows = []
    for setting, by_step in scores.items():
        for step in sorted(by_step):
            summary = stats.summarize(by_step[step])
            rows.append({"setting": setting, "step": step, **dataclasses.asdict(summary)})
    return rows


def format_summary(*results: SweepResult) -> str:
    """The summary at each setting's last step, of one sweep or several, as a table."""
    lines = [f"{'setting':<28} {'step':>11} {'runs':>4} {'mean':>9}  IQM [95% interval]"]
    for row in (row for result in results for row in result.final_summary()):
        lines.append(
            f"{row['setting']:<28} {row['step']:>11,} {row['runs']:>4} {row['mean']:>9.3f}  "
            f"{row['iqm']:.3f} [{row['iqm_low']:.3f}, {row['iqm_high']:.3f}]"
        )
    return "\n".join(lines)
