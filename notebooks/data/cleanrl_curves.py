"""Read CleanRL's Breakout learning curves off their published images into breakout_references.csv.

CleanRL publishes its training-game curves (the mean of 3 seeds, smoothed) only as images:
``docs/rl-algorithms/dqn/BreakoutNoFrameskip-v4.png`` and ``.../c51/...`` in its repository
(4256 x 2656 pixels). This reads the dark red mean line at every 250,000 agent steps up to
5,000,000, from the axes' own tick marks and grid lines (below), in place of the
training-game rows up to 5,000,000 steps the file held. The readings at 10,000,000 steps agree
with the final returns CleanRL reports (366.7 against 366.9 for DQN, 461.9 against 461.86 for
C51), which checks the scales. Run from the repository's root with the images' folder:
``.venv/bin/python notebooks/data/cleanrl_curves.py path/to/cleanrl/docs/rl-algorithms``.
"""

import csv
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np

OUT = Path(__file__).with_name("breakout_references.csv")
# Pixels of the axes, read off the images: the x tick marks at 2M, 4M, 6M and 8M steps lie at
# columns 1183.5, 1882, 2580 and 3278 (698.2 per 2M); the score 0 is row 2287, and the grid lines
# lie 302.2 rows apart per 100 points in the C51 image (scale to 500) and 428.0 in DQN's (to 400).
STEP_ZERO, COLUMNS_PER_STEP = 485.3, 698.2 / 2_000_000
SCORE_ZERO = 2287.0
ROWS_PER_POINT = {"dqn": 4.280, "c51": 3.022}
NOTE = "read from the pixels of CleanRL's published curve (mean of 3 seeds, smoothed)"


def curve(image: Path, rows_per_point: float, steps) -> list[float]:
    """The mean line's score at each of ``steps``, from the median of its red pixels."""
    pixels = iio.imread(image)[..., :3].astype(int)
    red = (pixels[..., 0] > 170) & (pixels[..., 1] < 120) & (pixels[..., 2] < 120)
    red[:500] = False  # the legend above the plot is written in the same red
    scores = []
    for step in steps:
        column = round(STEP_ZERO + step * COLUMNS_PER_STEP)
        rows = [
            np.median(r) for dx in range(-3, 4) if (r := np.flatnonzero(red[:, column + dx])).size
        ]
        scores.append(round((SCORE_ZERO - float(np.median(rows))) / rows_per_point, 1))
    return scores


def epsilon(step: int) -> float:
    """CleanRL's exploration at ``step``: from 1 to 0.01 over the first 1,000,000 steps."""
    return round(max(0.01, 1.0 - 0.99 * step / 1_000_000), 3)


def main(folder: Path) -> None:
    steps = range(250_000, 5_000_001, 250_000)
    kept = [
        r for r in csv.DictReader(OUT.open())
        if not (r["measure"] == "training games" and int(r["agent_steps"]) <= steps[-1])
    ]  # fmt: skip
    fields = list(kept[0])
    new = []
    for algo, per_point in ROWS_PER_POINT.items():
        image = folder / algo / "BreakoutNoFrameskip-v4.png"
        for step, score in zip(steps, curve(image, per_point, steps), strict=True):
            new.append(
                {"source": f"CleanRL {algo}_atari", "measure": "training games",
                 "agent_steps": step, "games": "", "seeds": 3, "epsilon": epsilon(step),
                 "score": score, "std": "", "note": NOTE}
            )  # fmt: skip
    with OUT.open("w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(new + kept)
    print(f"{len(new)} rows read from the curves, {len(kept)} kept, in {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
