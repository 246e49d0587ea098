"""Sweeps: an agent over many seeds and settings, run as trials on Ray Tune, and what they show.

One run is one seed, and deep RL agents differ a lot from one seed to the next. A sweep trains
every combination of the settings it compares (the grid) with every seed, scores each trial as
it goes, and sums each setting up with the interquartile mean and its 95% stratified-bootstrap
interval (``rlbook.stats``). The trials run on Ray Tune: on a Ray started on this machine, one
trial per free CPU (so a laptop runs them in turn), or unchanged on the cluster at ``address``;
a sweep of seconds can run them one after another in this process instead (``on_ray=False``).

A sweep lives in one folder:

    sweep.json       what was asked: the agent, game, fixed settings, grid, seeds and scoring
    sweep.lock       held (``flock``) by the process running the sweep
    sitting          an id of the driver's sitting, which a trial must see to run (on Ray)
    trials/          one folder per setting and seed, ``<setting>-seed<k>/``: for a DQN an
                     ordinary run folder (``python -m rlbook evaluate|play|train --resume`` and
                     TensorBoard work on it), for a FrozenLake agent its config.json. Each
                     holds ``scores.csv``, the trial's scores so far, ``trial.lock``, held by
                     the process training it, and on Ray ``nodes.csv``: the node each sitting
                     of the trial ran on and the step it went on from.
    tune/            Ray Tune's own records of each sitting, the errors of failed trials among them
    ray.log          what Ray itself printed: its log, tracebacks, reports of lost nodes
    results.csv      every score of every trial: setting, seed, step, score
    summary.csv      per setting and step: runs, mean and IQM, each with its 95% interval
    B09124_13_sweep.png   score against steps, one IQM line and interval band per setting

A sweep that stops (Ctrl-C, a killed process, a lost machine) goes on with ``resume=True``
(``--resume``): a trial whose scores are complete is not run again, an unfinished DQN trial goes
on from its last checkpoint, and an unfinished FrozenLake trial, seconds long, starts again. On
a cluster, the sweep folder must be on a file system that every node sees at the same path; a
trial whose node is lost goes on from its checkpoint on another node, and a driver that loses
the cluster's head ends within seconds, saying to resume (``docs/cluster.md``).

The package, one job per module: ``kinds`` (what the sweep knows of each agent kind),
``fields`` (a setting's type, checked and parsed), ``spec`` (the sweep asked for and its
trials), ``trials`` (one trial, trained and scored), ``cluster`` (joining or starting Ray),
``tuner`` (the trials on Ray Tune), ``results`` (scores, summary, figure), ``driver``
(running a sweep in its folder) and ``command`` (``python -m rlbook sweep``).
"""

from rlbook.sweep.cluster import NEEDS_RAY, connect
from rlbook.sweep.command import add_parser, main, spec_from_args
from rlbook.sweep.driver import run
from rlbook.sweep.fields import parse_seeds, parse_setting
from rlbook.sweep.kinds import KINDS, AgentKind
from rlbook.sweep.results import (
    RESULT_FIELDS,
    SUMMARY_FIELDS,
    SweepResult,
    collect,
    format_summary,
    read_scores,
    summarize,
)
from rlbook.sweep.spec import SweepSpec, Trial, load_spec
from rlbook.sweep.trials import EVAL_EPSILON, EVAL_SEED, run_trial

__all__ = [
    "EVAL_EPSILON",
    "EVAL_SEED",
    "KINDS",
    "NEEDS_RAY",
    "RESULT_FIELDS",
    "SUMMARY_FIELDS",
    "AgentKind",
    "SweepResult",
    "SweepSpec",
    "Trial",
    "add_parser",
    "collect",
    "connect",
    "format_summary",
    "load_spec",
    "main",
    "parse_seeds",
    "parse_setting",
    "read_scores",
    "run",
    "run_trial",
    "spec_from_args",
    "summarize",
]
