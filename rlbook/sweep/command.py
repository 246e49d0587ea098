"""The sweep's command line: ``python -m rlbook sweep``, its flags and the spec they ask for."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from rlbook.sweep.driver import run
from rlbook.sweep.fields import parse_seeds, parse_setting
from rlbook.sweep.kinds import KINDS
from rlbook.sweep.results import format_summary
from rlbook.sweep.spec import SweepSpec, load_spec


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``sweep`` to the subcommands of ``python -m rlbook``."""
    parser = subparsers.add_parser(
        "sweep",
        help="train many seeds and settings as trials on Ray, with IQM and 95%% intervals",
        description="Train every setting of a grid with every seed as trials on Ray Tune, score "
        "them as they go, and sum each setting up by its IQM and 95% stratified-bootstrap "
        "interval (results.csv, summary.csv and a figure in the sweep folder).",
    )
    parser.add_argument("--run", type=Path, required=True, help="folder of the sweep")
    parser.add_argument("--resume", action="store_true", help="go on with the sweep in --run")
    parser.add_argument("--agent", choices=sorted(KINDS), help="the agent [dqn]")
    parser.add_argument(
        "--game", help="DQN: Atari game or Catch [Breakout]; tabular, qnetwork: [FrozenLake-v1]"
    )
    parser.add_argument("--steps", help="DQN: agent steps per trial (the steps setting)")
    parser.add_argument("--episodes", help="tabular, qnetwork: training episodes per trial")
    parser.add_argument("--seeds", help="seeds of every setting, like 0-4 or 0,2,7 [0-4]")
    parser.add_argument(
        "--grid",
        action="append",
        metavar="FIELD=V1,V2",
        help="a setting compared at each value (repeat for a grid of several)",
    )
    parser.add_argument(
        "--set", action="append", metavar="FIELD=VALUE", help="a setting for every trial"
    )
    parser.add_argument("--eval-games", type=int, help="DQN: games per milestone score [30]")
    parser.add_argument(
        "--score-every", type=int, help="tabular, qnetwork: episodes between scores [100]"
    )
    parser.add_argument(
        "--address", help="a Ray cluster, HOST:PORT or auto [RAY_ADDRESS; else a local Ray]"
    )
    parser.add_argument("--cpus-per-trial", type=int, default=1, help="CPUs of each trial [1]")
    parser.add_argument("--quiet", action="store_true", help="no line per score")
    return parser


def spec_from_args(args: argparse.Namespace) -> SweepSpec:
    """The spec the flags ask for; with ``--resume``, the saved one with the flags given."""
    base = load_spec(args.run) if args.resume and (args.run / "sweep.json").exists() else None
    grid = dict(
        parse_setting("dqn", text, many=True) for text in args.grid or [] if _names_agent(text)
    )
    agents = grid.get("agent") or [args.agent or (base.agents[0] if base else "dqn")]
    agent = agents[0]  # the agents of one sweep agree on the types of their common settings
    given: dict[str, Any] = {}
    if args.agent:
        given["agent"] = args.agent
    if args.game:
        given["game"] = args.game
    if args.seeds:
        given["seeds"] = parse_seeds(args.seeds)
    if args.eval_games is not None:
        given["eval_games"] = args.eval_games
    if args.score_every is not None:
        given["score_every"] = args.score_every
    settings = dict(parse_setting(agent, text, many=False) for text in args.set or [])
    for name in ("steps", "episodes"):
        if getattr(args, name) is not None:
            settings.update([parse_setting(agent, f"{name}={getattr(args, name)}", many=False)])
    grid |= dict(parse_setting(agent, t, many=True) for t in args.grid or [] if not _names_agent(t))
    if settings:
        given["settings"] = {**(base.settings if base else {}), **settings}
    if grid:
        given["grid"] = grid
    if base is None:
        return SweepSpec(**given)
    if "agent" in given and given["agent"] != base.agent:
        given.setdefault("game", None)  # another agent plays its own default game
    return dataclasses.replace(base, **given)


def _names_agent(text: str) -> bool:
    return text.partition("=")[0].strip() == "agent"


def main(args: argparse.Namespace) -> int:
    """Run ``python -m rlbook sweep``; bad input raises ValueError or RunError."""
    spec = spec_from_args(args)
    result = run(
        spec,
        args.run,
        address=args.address,
        resume=args.resume,
        cpus_per_trial=args.cpus_per_trial,
        progress=not args.quiet,
    )
    print(format_summary(result))
    print(f"scores: {result.folder / 'results.csv'}\nsummary: {result.folder / 'summary.csv'}")
    if result.figure:
        print(f"figure: {result.figure}")
    return 0
