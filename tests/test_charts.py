import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from rlbook import charts
from rlbook.atari import MAX_FRAMES
from rlbook.evaluate import PAPER_MAX_FRAMES


def test_save_png_uses_the_book_name(tmp_path, monkeypatch):
    monkeypatch.setenv("RLBOOK_CHARTS", str(tmp_path))
    charts.plot_reward([0, 1, 0, 1, 1], window=2)
    path = charts.save_png("reward")
    assert path == tmp_path / "B09124_13_reward.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_save_png_refuses_a_path_as_name(tmp_path, monkeypatch):
    monkeypatch.setenv("RLBOOK_CHARTS", str(tmp_path))
    with pytest.raises(ValueError, match="plain word"):
        charts.save_png("../reward.png")


def test_moving_average_is_the_trailing_mean():
    np.testing.assert_allclose(charts.moving_average([2, 4, 6, 8], window=2), [2, 3, 5, 7])
    np.testing.assert_allclose(charts.moving_average([1, 1, 1], window=20), [1, 1, 1])


DATA = Path(__file__).resolve().parents[1] / "notebooks" / "data"


def test_read_rows_turns_numbers_into_floats_and_blanks_into_none(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("run,agent_steps,std\nbreakout-a,250000,\n")
    assert charts.read_rows(path) == [{"run": "breakout-a", "agent_steps": 250000.0, "std": None}]


def capped_as_drawn(row: dict) -> bool:
    """Games of up to 30 minutes, or the 2015 paper's 5 on fresh games only (100 of them), so the
    figures drawn from the seed-1 games all share one cap."""
    return row["max_frames"] == MAX_FRAMES or (
        row["max_frames"] == PAPER_MAX_FRAMES and row["games"] == 100
    )


def test_every_milestone_row_names_how_it_was_measured():
    rows = charts.read_rows(DATA / "breakout_milestones.csv")
    assert {r["eval_seed"] for r in rows} >= {1, 2, 3, 4, 5, 6}
    for row in rows:
        # 10 games screen a candidate checkpoint (one every 50,000 steps), 30 score a milestone,
        # 100 check a choice on fresh games.
        assert row["games"] in (10, 30, 100) and row["epsilon"] in (0.01, 0.05), row
        assert row["agent_steps"] % 50_000 == 0 and row["recipe"], row
        assert capped_as_drawn(row), row
    seed1 = [r for r in rows if r["run"] == "breakout-lrdecay" and r["eval_seed"] == 1]
    assert [r["mean"] for r in seed1 if r["agent_steps"] == 5_000_000 and r["epsilon"] == 0.05] == [
        192.3
    ]  # rlbook's last DQN agent before C51, as the Experiments page gives it


def test_every_averaged_agent_row_names_the_checkpoints_it_averaged():
    rows = charts.read_rows(DATA / "breakout_weight_average.csv")
    assert rows
    for row in rows:
        # the checkpoints one every 50,000 steps from the first to the last, scored as milestones
        span = row["last_step"] - row["first_step"]
        assert span % 50_000 == 0 and span // 50_000 + 1 == row["checkpoints"] >= 2, row
        assert row["games"] in (30, 100) and row["epsilon"] == 0.05, row
        assert capped_as_drawn(row), row


def test_every_continuation_row_is_a_stretch_after_the_weights_or_their_level():
    rows = charts.read_rows(DATA / "breakout_continuation.csv")
    levels = [r for r in rows if r["after_steps"] == 0]
    # one level: the last 100 games of the run that made the weights (it never refilled)
    assert len(levels) == 1 and levels[0]["games"] == 100 and levels[0]["learning_from"] is None
    for row in rows:
        assert row["after_steps"] % 50_000 == 0 and row["games"] >= 1 and row["label"], row
        if row["after_steps"] > 0:  # the runs that went on from the shipped weights refilled
            assert row["learning_from"] >= 80_000, row


def test_milestone_figure_draws_one_line_per_recipe_and_each_reference(tmp_path, monkeypatch):
    monkeypatch.setenv("RLBOOK_CHARTS", str(tmp_path))
    milestones = charts.read_rows(DATA / "breakout_milestones.csv")
    references = charts.read_rows(DATA / "breakout_references.csv")
    runs = ["breakout-a", "breakout-a2", "breakout-lrdecay"]  # a and a2: one recipe
    ax = charts.plot_milestones(milestones, references, runs=runs)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels.count("four changes") == 1
    assert sum("CleanRL" in label for label in labels) == 4  # two curves, two agents
    assert any("DQN paper" in label for label in labels)
    four = ax.get_lines()[labels.index("four changes")]
    assert list(four.get_xdata()) == [250_000, 500_000, 750_000, 1_000_000]
    with pytest.raises(ValueError, match="breakout-nope"):
        charts.plot_milestones(milestones, references, runs=["breakout-nope"])
    assert charts.save_png("experiments_scores").exists()


def test_milestone_figure_tells_apart_runs_past_its_colour_cycle():
    # eleven recipes: more than the nine colours a run may take
    milestones = [
        {"run": f"run-{i}", "recipe": f"recipe {i}", "agent_steps": step, "games": 30,
         "eval_seed": 1, "epsilon": 0.05, "mean": 10.0 * i, "std": 1.0}
        for i in range(11)
        for step in (250_000, 500_000)
    ]  # fmt: skip
    ax = charts.plot_milestones(milestones, [], runs=[f"run-{i}" for i in range(11)])
    looks = [(line.get_color(), line.get_linestyle(), line.get_marker()) for line in ax.get_lines()]
    assert len(looks) == 11 and len(set(looks)) == 11


def test_ablation_and_speed_figures_draw_a_bar_per_value():
    milestones = charts.read_rows(DATA / "breakout_milestones.csv")
    ax = charts.plot_ablation(milestones, runs=["breakout-book", "breakout-eps-adam"])
    widths = sorted(round(bar.get_width(), 1) for bar in ax.patches)
    assert widths == [0.8, 1.1, 1.1, 10.2]  # 250k and 500k steps of each run
    with pytest.raises(ValueError, match="no milestone at 750,000"):
        charts.plot_ablation(milestones, runs=["breakout-eps"], steps=(750_000,))
    speed = charts.read_rows(DATA / "breakout_speed.csv")
    ax = charts.plot_speed(speed)
    # One bar per machine and implementation, at the median of its runs.
    groups = {}
    for row in speed:
        groups.setdefault((row["machine"], row["implementation"]), []).append(
            float(row["steps_per_second"])
        )
    medians = sorted(round(float(np.median(runs)), 1) for runs in groups.values())
    assert sorted(round(bar.get_width(), 1) for bar in ax.patches) == medians
    machines = {row["machine"] for row in speed}
    assert {260.2, 204.4, 68.8} <= set(medians) and len(medians) == 2 * len(machines) == 8


def test_plot_score_draws_the_mean_and_the_reference_levels():
    log = {"step": np.arange(1, 201) * 9, "score": np.r_[-np.ones(100), np.ones(100)]}
    ax = charts.plot_score(log, window=10, references={"perfect": 1.0, "random": -0.6})
    mean = ax.get_lines()[1].get_ydata()
    assert mean[0] == -1 and mean[-1] == 1
    levels = [line.get_ydata()[0] for line in ax.get_lines()[2:]]
    assert levels == [1.0, -0.6]


def test_importing_charts_leaves_matplotlib_settings_as_they_were():
    code = (
        "import matplotlib as mpl; before = dict(mpl.rcParams); import rlbook.charts; "
        "changed = [k for k, v in mpl.rcParams.items() if before[k] != v]; "
        "assert not changed, changed; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout == "ok\n", done.stderr


def test_figures_are_drawn_and_saved_in_the_book_style_and_only_they(tmp_path, monkeypatch):
    monkeypatch.setenv("RLBOOK_CHARTS", str(tmp_path))
    ax = charts.plot_reward([0, 1, 0, 1, 1], window=2)
    assert not ax.spines["top"].get_visible() and ax.title.get_fontweight() == "bold"
    assert tuple(ax.figure.get_size_inches()) == (6.4, 3.6)
    with Image.open(charts.save_png("reward", ax.figure)) as png:
        assert round(png.info["dpi"][0]) == 150
    plt.close("all")

    _, own = plt.subplots()  # a notebook's own figure keeps matplotlib's look
    assert own.spines["top"].get_visible() and matplotlib.rcParams["savefig.dpi"] == "figure"
    with charts.book_style():
        _, styled = plt.subplots()
    assert not styled.spines["top"].get_visible()
    plt.close("all")


def test_settings_changed_while_a_figure_is_drawn_outlast_it():
    interactive = matplotlib.is_interactive()
    try:
        with charts.book_style():
            matplotlib.interactive(True)  # as a notebook's inline backend does as it starts
        assert matplotlib.is_interactive()
        assert matplotlib.rcParams["axes.spines.top"]  # while the book's look is put back
    finally:
        matplotlib.interactive(interactive)


def test_runs_table_gives_each_run_its_best_and_last_protocol_score():
    rows = [
        {
            "run": "r1",
            "recipe": "a",
            "agent_steps": s,
            "eval_seed": 1,
            "epsilon": 0.05,
            "games": 30,
            "mean": m,
            "std": 1.0,
        }
        for s, m in ((250_000, 5.0), (500_000, 9.0), (750_000, 7.0))
    ]
    # A fresh-seed check and a training-game figure are not the protocol's 30 seed-1 games.
    rows.append({**rows[1], "eval_seed": 2, "games": 100, "mean": 99.0})
    rows.append({**rows[1], "run": "r2", "epsilon": 0.01, "mean": 50.0})
    table = charts.runs_table(rows)
    assert [r["run"] for r in table.rows] == ["r1"]
    assert table.rows[0]["best"] == (9.0, 500_000) and table.rows[0]["last"] == 7.0
    assert "| `r1` | a | 3 | 750,000 | 9.0 (500,000) | 7.0 |" in table._repr_markdown_()


def test_training_games_figure_draws_each_run_beside_the_training_game_references(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("RLBOOK_CHARTS", str(tmp_path))
    references = charts.read_rows(DATA / "breakout_references.csv")
    rows = [
        {"run": run, "recipe": run, "agent_steps": s, "games": 100, "mean": m, "std": 5.0}
        for run in ("a", "b")
        for s, m in ((250_000, 2.0), (500_000, 9.0))
    ]
    ax = charts.plot_training_games(rows, references)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:2] == ["a (rlbook, one seed)", "b (rlbook, one seed)"]
    assert {"CleanRL dqn_atari (3 seeds)", "CleanRL c51_atari (3 seeds)"} <= set(labels)
    assert not any("protocol" in label for label in labels)  # another measure, not drawn here


def test_reference_looks_follow_the_source_and_measure_not_the_order_of_the_rows():
    references = charts.read_rows(DATA / "breakout_references.csv")
    # seven sources no look is kept for, each with a curve of training games and an agent
    references += [
        {"source": f"peer {i}", "measure": measure, "agent_steps": step, "seeds": seeds,
         "epsilon": 0.01, "score": 10.0 * i}
        for i in range(7)
        for measure, seeds in (("training games", 5.0), ("protocol", None))
        for step in (1_000_000, 2_000_000)
    ]  # fmt: skip

    def looks(rows, plot):
        ax = plot(rows)
        return {line.get_label(): (line.get_color(), line.get_linestyle(), line.get_marker())
                for line in ax.get_lines()}  # fmt: skip

    drawn = looks(references, lambda rows: charts.plot_milestones([], rows, runs=[]))
    assert len(drawn) == 5 + 14 and len(set(drawn.values())) == 5 + 14
    assert drawn["CleanRL c51_atari (protocol), epsilon 0.05"] == ("0.45", "None", "P")
    assert drawn["peer 3 (training games), epsilon 0.01"][1] == "-."  # a curve is a line
    assert drawn["peer 3 (protocol), epsilon 0.01"][1] == "None"  # an agent is a marker alone
    # the same reference keeps its look when the rows come in another order
    assert looks(references[::-1], lambda rows: charts.plot_milestones([], rows, runs=[])) == drawn
    curves = looks(references, lambda rows: charts.plot_training_games([], rows))
    for source in ("CleanRL c51_atari", "peer 6"):  # a curve looks the same in both figures
        seeds = "3 seeds" if source.startswith("CleanRL") else "5 seeds"
        assert curves[f"{source} ({seeds})"] == drawn[f"{source} (training games), epsilon 0.01"]
    assert len(curves) == len(set(curves.values())) == 2 + 7


def test_the_continuation_figure_draws_each_run_from_the_level_its_weights_had():
    rows = [{"run": "a", "label": "A", "after_steps": 0, "games": 100, "mean": 300.0, "std": 50.0}]
    rows += [
        {
            "run": run,
            "label": run.upper(),
            "after_steps": s,
            "games": 8,
            "mean": m,
            "std": 40.0,
            "learning_from": 80_000.0,
        }
        for run, m in (("a", 290.0), ("b", 120.0))
        for s in (25_000, 50_000, 75_000)
    ]
    ax = charts.plot_continuation(rows)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["A"].get_xdata()) == [25_000, 50_000, 75_000]  # step 0 is the level line
    assert list(lines["B"].get_ydata()) == [120.0] * 3
    level = [line for line in ax.get_lines() if list(line.get_ydata()) == [300.0, 300.0]]
    assert level and "300" in ax.texts[0].get_text()
    with pytest.raises(ValueError, match="no continuation rows"):
        charts.plot_continuation([])


def test_the_training_figure_names_the_loss_the_run_minimised():
    from rlbook.dqn_config import DQNConfig

    n = 50
    log = {"step": np.arange(1, n + 1) * 100.0, "score": np.ones(n)}
    log |= {"avg_max_q": np.linspace(0, 1, n), "loss": np.linspace(1, 0.5, n)}
    names = {
        "cross-entropy": DQNConfig(distributional=True),
        "squared error": DQNConfig(loss="mse"),
        "Huber": DQNConfig(),
    }
    for name, config in names.items():
        fig = charts.plot_training(log, window=10, loss=config.loss_name)
        assert fig.axes[2].get_ylabel() == f"loss ({name})"


def test_the_weight_average_figure_draws_each_mean_as_a_bar_over_its_checkpoints():
    def alone(step, games, mean):
        return {"run": "r", "agent_steps": step, "games": games, "eval_seed": 1.0}, {
            "epsilon": 0.05,
            "mean": mean,
            "std": 90.0,
        }

    milestones = [a | b for a, b in (alone(s, 10, 250.0) for s in (100, 150, 200))]
    milestones += [a | b for a, b in (alone(200, 30, 230.0), alone(300, 30, 999.0))]
    milestones[-1]["run"] = "other"  # another run's checkpoints are left out
    averaged = [
        {"run": "r", "first_step": 100, "last_step": 200, "checkpoints": 3, "games": 30}
        | {"eval_seed": 1.0, "epsilon": 0.05, "mean": 370.0, "std": 80.0}
    ]
    ax = charts.plot_weight_average(milestones, averaged, "r")
    bars = [line for line in ax.get_lines() if line.get_label().startswith("the mean")]
    assert list(bars[0].get_xdata()) == [100, 200] and list(bars[0].get_ydata()) == [370.0] * 2
    dots = {bars.get_label(): bars.lines[0] for bars in ax.containers}  # errorbar's data lines
    assert list(dots["one checkpoint, 30 games"].get_ydata()) == [230.0]
    assert list(dots["one checkpoint, 10 games"].get_xdata()) == [100, 150, 200]
    with pytest.raises(ValueError, match="no checkpoints of 'other'"):
        charts.plot_weight_average(milestones, averaged, "other")

    # a mean of more checkpoints than ``most`` is left out, unless it is the shipped one
    many = averaged[0] | {"first_step": 0, "last_step": 200, "checkpoints": 5, "mean": 380.0}
    ax = charts.plot_weight_average(milestones, [*averaged, many], "r", most=3)
    drawn = [list(line.get_ydata()) for line in ax.get_lines()]
    assert [370.0] * 2 in drawn and [380.0] * 2 not in drawn
    ax = charts.plot_weight_average(milestones, [*averaged, many], "r", shipped=(0, 200), most=3)
    shipped = [line for line in ax.get_lines() if line.get_label().startswith("the shipped")]
    assert shipped[0].get_label().endswith("the mean of 5 checkpoints")
    assert list(shipped[0].get_ydata()) == [380.0] * 2
    with pytest.raises(ValueError, match=r"no mean of 'r'.s checkpoints from 0 to 100"):
        charts.plot_weight_average(milestones, averaged, "r", shipped=(0, 100))


def test_the_checkpoints_averaged_figure_sets_each_mean_by_its_count_beside_single_ones():
    k = 50_000

    def row(**values):
        return {"run": "r", "eval_seed": 1.0, "epsilon": 0.05, "games": 30.0, "std": 60.0} | values

    # each checkpoint alone on 10 games: the one before the averaged stretch, the one after it
    # and one scored on 30 games are left out
    milestones = [row(agent_steps=s * k, mean=m, games=10.0) for s, m in ((2, 200.0), (3, 300.0))]
    milestones += [row(agent_steps=k, mean=999.0, games=10.0), row(agent_steps=9 * k, mean=999.0)]
    milestones += [row(agent_steps=2 * k, mean=999.0), row(agent_steps=9 * k, mean=9.0, games=10.0)]
    averaged = [
        row(first_step=2 * k, last_step=4 * k, checkpoints=3, mean=350.0),
        row(first_step=2 * k, last_step=6 * k, checkpoints=5, mean=380.0),
        row(first_step=3 * k, last_step=7 * k, checkpoints=5, mean=400.0),
        row(first_step=2 * k, last_step=8 * k, checkpoints=7, mean=395.0),
        row(first_step=2 * k, last_step=4 * k, checkpoints=3, mean=1.0, games=100.0),  # 100 games
    ]
    ax = charts.plot_checkpoints_averaged(milestones, averaged, "r")
    dots = {bars.get_label(): bars.lines[0] for bars in ax.containers}
    assert list(dots["one checkpoint, 10 games"].get_ydata()) == [200.0, 300.0]
    assert sorted(dots["the mean of several, 30 games"].get_xdata()) == [3, 5, 5, 7]
    trend = next(line for line in ax.get_lines() if line.get_label() == "the average at each count")
    assert list(trend.get_xdata()) == [1, 3, 5, 7]
    assert list(trend.get_ydata()) == [250.0, 350.0, 390.0, 395.0]
    # only means of more than five checkpoints are labelled with their stretch
    assert [t.get_text() for t in ax.texts if not t.get_text().startswith("DQN")] == ["100k-400k"]
    with pytest.raises(ValueError, match="no means of 'other'"):
        charts.plot_checkpoints_averaged(milestones, averaged, "other")


def test_every_dormant_unit_row_is_a_fraction_of_a_network_at_a_known_step():
    rows = charts.read_rows(DATA / "breakout_dormant_units.csv")
    assert {r["tau"] for r in rows} == {0.0, 0.1}
    for row in rows:
        assert 0 <= row["dormant"] <= 1 and row["agent_steps"] % 250_000 == 0, row
    # a unit that never fires is tau-dormant for every tau, so tau 0.1 counts at least as many
    by_network = {}
    for row in rows:
        network = (row["run"], row["agent_steps"], row["states"])
        by_network.setdefault(network, {})[row["tau"]] = row["dormant"]
    assert all(f[0.0] <= f[0.1] for f in by_network.values())
    assert {r["states"] for r in rows} == {"shipped agent's", "its own"}


def test_the_dormant_unit_figure_draws_runs_as_lines_and_many_runs_agents_as_points():
    rows = [
        {"run": run, "label": label, "agent_steps": s, "states": probe, "tau": tau, "dormant": d}
        for run, label, s, d, probe in (
            ("old@1", "earlier", 1_000_000, 0.1, "shipped agent's"),
            ("old@2", "earlier", 2_000_000, 0.2, "shipped agent's"),
            ("c51", "C51", 0, 0.3, "shipped agent's"),
            ("c51", "C51", 250_000, 0.05, "shipped agent's"),
            ("c51", "C51", 250_000, 0.9, "its own"),  # another probe: not on this figure
        )
        for tau in (0.0, 0.1)
    ]
    ax = charts.plot_dormant_units(rows)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["C51"].get_ydata()) == [30.0, 5.0] and lines["C51"].get_linestyle() == "-"
    assert lines["earlier"].get_linestyle() == "None"  # the agents of two runs: points
    assert lines["earlier"].get_color() == "C0" and lines["C51"].get_color() == "C1"  # row order
    assert "never fire" in ax.get_ylabel()
    with pytest.raises(ValueError, match=r"tau=0\.5"):
        charts.plot_dormant_units(rows, tau=0.5)
