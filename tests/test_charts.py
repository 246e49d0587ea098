import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from rlbook import charts


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
