"""The command line: ``python -m rlbook train | evaluate | play | sweep | games``.

Every field of ``DQNConfig`` is a flag of ``train`` (``--buffer-size 100000``, ``--double``),
with the help that the field carries (``rlbook.dqn_config``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from rlbook import settings, sweep
from rlbook.dqn_config import DQNConfig


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("DQN settings (defaults: the DQN paper and the book)")
    for field in dataclasses.fields(DQNConfig):
        flag = "--" + field.name.replace("_", "-")
        text = f"{settings.help_of(field)} [default: {field.default}]"
        if settings.type_of(field) is bool:
            group.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=text
            )
        else:
            group.add_argument(
                flag,
                type=_reader(field),
                default=argparse.SUPPRESS,
                help=text,
                metavar=settings.type_of(field).__name__.upper(),
            )


def _reader(field: dataclasses.Field):
    def read(text: str):
        try:
            return settings.parse(field, text)
        except ValueError as error:  # argparse shows an ArgumentTypeError's own words
            raise argparse.ArgumentTypeError(str(error)) from None

    return read


def _agent_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", nargs="?", type=Path, help="a run folder made by `train`")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        help="weights other than the run's latest, e.g. RUN/milestones/step-000250000; "
        "given more than once, the agent acts with the mean of their weights",
    )
    parser.add_argument(
        "--pretrained",
        metavar="GAME",
        help="use the agent shipped with rlbook for GAME instead of a run (GAME/NAME: another "
        "of the game's shipped agents, e.g. Breakout/dqn)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rlbook", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a DQN agent (resumable)")
    train.add_argument("--run", type=Path, required=True, help="folder for logs and checkpoints")
    train.add_argument("--resume", action="store_true", help="continue the run in --run")
    train.add_argument(
        "--from-pretrained",
        metavar="GAME",
        help="start --run from the agent rlbook ships for GAME (or GAME/NAME) and continue its "
        "training (its step count and log go on; optimizer and replay memory start afresh)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_config_flags(train)

    evaluate = commands.add_parser("evaluate", help="score an agent under the DQN paper's protocol")
    _agent_source(evaluate)
    evaluate.add_argument("--episodes", type=int, default=30, help="games to play [30]")
    evaluate.add_argument("--epsilon", type=float, default=0.05, help="random actions [0.05]")
    evaluate.add_argument("--seed", type=int, default=1, help="seed of the games [1]")
    evaluate.add_argument(
        "--max-frames",
        type=int,
        help="cap each game at this many frames [108000, 30 minutes; the 2015 paper: 18000]",
    )
    evaluate.add_argument("--random", action="store_true", help="score a random agent instead")

    play = commands.add_parser("play", help="record an agent playing one game")
    _agent_source(play)
    play.add_argument("--out", type=Path, required=True, help="animation: .gif or .mp4")
    play.add_argument("--filmstrip", type=Path, help="also save a strip of frames as PNG")
    play.add_argument("--epsilon", type=float, default=0.05, help="random actions [0.05]")
    play.add_argument("--seed", type=int, default=1, help="seed of the game [1]")
    play.add_argument("--max-steps", type=int, default=27_000, help="cut the game after this")

    commands.add_parser("games", help="list the Atari games ale-py knows")
    sweep.add_parser(commands)
    return parser


def _load(args):
    from rlbook import pretrained
    from rlbook.runs import restore_agent
    from rlbook.weight_average import restore_averaged

    if args.pretrained:
        return pretrained.load(args.pretrained)
    if args.run is None:
        raise SystemExit("error: give a run folder or --pretrained GAME")
    if args.checkpoint and len(args.checkpoint) > 1:
        return restore_averaged(args.run, args.checkpoint)
    return restore_agent(args.run, args.checkpoint[0] if args.checkpoint else None)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "games":
        from ale_py import roms

        print("\n".join(roms.get_all_rom_ids()))
        return 0

    from rlbook.runs import RunError, RunFolder

    try:
        if args.command == "train":
            from rlbook import pretrained
            from rlbook.train import train

            if args.from_pretrained and args.resume:
                raise RunError("--from-pretrained starts a new run; it cannot go with --resume")
            fields = {f.name for f in dataclasses.fields(DQNConfig)}
            given = {k: v for k, v in vars(args).items() if k in fields}
            if args.from_pretrained:
                base = DQNConfig.from_json(pretrained.folder(args.from_pretrained) / "config.json")
            else:
                # A resume may be on another machine: its update path is chosen afresh there.
                saved = RunFolder(args.run).load_config() if args.resume else None
                base = saved.for_another_machine() if saved else DQNConfig()
            # Built (and so checked) before anything is written to the run folder.
            config = dataclasses.replace(base, **given)
            if args.from_pretrained:
                pretrained.start_from_pretrained(args.from_pretrained, args.run, config)
            resume = args.resume or bool(args.from_pretrained)
            train(config, args.run, resume=resume, progress=not args.quiet)
        elif args.command == "evaluate":
            from rlbook.evaluate import evaluate, summary

            agent = None if args.random else _load(args)
            game = (
                agent.config.game
                if agent
                else RunFolder(args.run).load_config().game
                if args.run
                else (args.pretrained or "Breakout")
            )
            scores = evaluate(
                agent,
                game,
                episodes=args.episodes,
                epsilon=args.epsilon,
                seed=args.seed,
                max_frames=args.max_frames,
            )
            print(summary(scores, game))
        elif args.command == "sweep":
            return sweep.main(args)
        elif args.command == "play":
            from rlbook.record import play_and_record

            agent = _load(args)
            paths = play_and_record(
                agent,
                args.out,
                filmstrip_path=args.filmstrip,
                epsilon=args.epsilon,
                seed=args.seed,
                max_steps=args.max_steps,
            )
            print("\n".join(str(p) for p in paths))
    except (RunError, ValueError, OSError) as error:  # OSError: missing file, full disk
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
