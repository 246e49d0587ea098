"""Where the data scripts here find the Breakout runs still in training, and how the tables
name each run's recipe."""

from pathlib import Path

RUN_ROOT = Path.home() / "rlbook-runs"
RECIPES = {
    "breakout-c51": "C51 with CleanRL's c51_atari settings",
    "breakout-cleanrl-dqn": "plain DQN with CleanRL's dqn_atari settings",
    "breakout-c51-seed1": "C51 with CleanRL's c51_atari settings, training seed 1",
    "breakout-cleanrl-dqn-seed1": "plain DQN with CleanRL's dqn_atari settings, training seed 1",
    "breakout-c51-seed2": "C51 with CleanRL's c51_atari settings, training seed 2",
    "breakout-c51-n3-double": (
        "C51 with CleanRL's c51_atari settings, 3-step returns and the Double target"
    ),
    "breakout-c51-seed3": "C51 with CleanRL's c51_atari settings, training seed 3",
    "breakout-c51-eps05": "C51 with CleanRL's c51_atari settings, training epsilon ending at 0.05",
    "breakout-c51-teps05": (
        "C51 with CleanRL's c51_atari settings, target valuing s' at epsilon 0.05"
    ),
}
