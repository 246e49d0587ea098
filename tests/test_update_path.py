import json
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from rlbook import update_path
from rlbook._keras import tf
from rlbook.dqn import DQNAgent, DQNConfig
from rlbook.networks import build_network
from rlbook.replay import Batch
from rlbook.update_path import UpdatePath

XLA, GRAPH = UpdatePath("xla", "float32"), UpdatePath("graph", "float32")
CATCH = dict(game="Catch", network="small", buffer_size=1000)
OBS = (4, 10, 10)


class FakeTimer:
    """Seconds per update by path (one figure, or one per round), recording each call."""

    def __init__(self, seconds: dict[UpdatePath, float | list[float]]):
        self.seconds, self.timed = seconds, []

    def __call__(self, path: UpdatePath) -> float:
        figures = self.seconds[path]
        figures = figures if isinstance(figures, list) else [figures]
        self.timed.append(path)
        return figures[(self.timed.count(path) - 1) % len(figures)]


def test_chooser_picks_the_faster_of_two_paths():
    for fast, slow in ((GRAPH, XLA), (XLA, GRAPH)):
        timer = FakeTimer({fast: 0.010, slow: 0.013})
        choice = update_path.choose([XLA, GRAPH], timer, "key", cache_file=None)
        assert choice.path == fast
        assert choice.seconds == {str(fast): 0.010, str(slow): 0.013}


def test_chooser_times_the_paths_in_turns_and_keeps_each_ones_median():
    # A burst of load during one round must not decide: XLA's 0.05 is an outlier.
    timer = FakeTimer({XLA: [0.010, 0.050, 0.011], GRAPH: [0.012, 0.012, 0.013]})
    choice = update_path.choose([XLA, GRAPH], timer, "key", cache_file=None, rounds=3)
    assert timer.timed == [XLA, GRAPH] * 3
    assert choice.path == XLA and choice.seconds == {"xla/float32": 0.011, "graph/float32": 0.012}


def test_cache_is_used_on_the_second_call_and_another_key_times_again(tmp_path):
    cache = tmp_path / "rlbook" / "update_paths.json"
    timer = FakeTimer({XLA: 0.02, GRAPH: 0.01})
    first = update_path.choose([XLA, GRAPH], timer, "cpu A | batch 32", cache, rounds=1)
    assert not first.cached and len(timer.timed) == 2
    timer.seconds = {XLA: 0.01, GRAPH: 0.02}  # the cache, not the timer, answers now
    second = update_path.choose([XLA, GRAPH], timer, "cpu A | batch 32", cache, rounds=1)
    assert second.cached and second.path == GRAPH and len(timer.timed) == 2
    other = update_path.choose([XLA, GRAPH], timer, "cpu A | batch 64", cache, rounds=1)
    assert not other.cached and other.path == XLA and len(timer.timed) == 4
    saved = json.loads(cache.read_text())
    assert saved["cpu A | batch 32"] == {"xla/float32": 0.02, "graph/float32": 0.01}
    refreshed = update_path.choose(
        [XLA, GRAPH], timer, "cpu A | batch 32", cache, refresh=True, rounds=1
    )
    assert refreshed.path == XLA and len(timer.timed) == 6


def test_a_damaged_cache_is_timed_again_and_rewritten(tmp_path):
    cache = tmp_path / "update_paths.json"
    cache.write_text("{not json")
    choice = update_path.choose([XLA, GRAPH], FakeTimer({XLA: 0.3, GRAPH: 0.2}), "k", cache)
    assert choice.path == GRAPH and json.loads(cache.read_text())["k"]["graph/float32"] == 0.2


def test_cache_key_names_what_the_timings_depend_on():
    key = update_path.cache_key("nature", (4, 84, 84), 32, double=True)
    assert update_path.cpu_model() in key and tf.__version__ in key
    assert "nature 4x84x84" in key and "batch 32" in key and "double" in key
    assert key != update_path.cache_key("nature", (4, 84, 84), 32, double=False)
    assert key != update_path.cache_key("nature", (4, 84, 84), 64, double=True)


@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"), reason="oneDNN's switch is for x86"
)
def test_onednn_is_on_on_x86_unless_the_reader_turned_it_off():
    """rlbook asks for oneDNN's kernels wherever TensorFlow would leave them off, and a reader's
    TF_ENABLE_ONEDNN_OPTS wins; the cache key tells the two apart, as their timings differ."""
    probe = (
        "from rlbook import update_path as u; "
        "print(u.onednn_on(), u.cache_key('nature', (4, 84, 84), 32, False))"
    )
    seen = {}
    for setting in (None, "0"):
        env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
        if setting is not None:
            env["TF_ENABLE_ONEDNN_OPTS"] = setting
        out = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        seen[setting] = out.stdout.strip().split(" ", 1)
    assert seen[None][0] == "True" and "oneDNN" in seen[None][1]
    assert seen["0"][0] == "False" and "oneDNN" not in seen["0"][1]


def test_default_cache_file_honours_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert update_path.default_cache_file() == tmp_path / "rlbook" / "update_paths.json"


def test_bfloat16_is_a_candidate_only_when_asked_for_by_name(monkeypatch):
    # Not even where the CPU computes it natively: it changes the numbers, not just the speed.
    monkeypatch.setattr(update_path, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16"}))
    assert update_path.candidates() == [XLA, GRAPH]
    assert update_path.candidates("graph", "auto") == [GRAPH]
    # Asked for by name, bfloat16 runs anywhere (emulated where it is not native).
    monkeypatch.setattr(update_path, "cpu_flags", lambda: frozenset({"avx2"}))
    assert update_path.candidates("auto", "bfloat16") == [
        UpdatePath("xla", "bfloat16"),
        UpdatePath("graph", "bfloat16"),
    ]


def test_median_seconds_times_at_least_five_calls_after_the_warmup():
    calls = []
    seconds = update_path.median_seconds(lambda: calls.append(1), budget=0.0, warmup=2)
    assert len(calls) == 7 and 0.0 <= seconds < 0.01


@pytest.mark.parametrize("compile", ["xla", "graph"])
def test_a_named_compilation_is_honoured_and_recorded_in_the_agent_config(
    compile, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    agent = DQNAgent(DQNConfig(compile=compile, **CATCH), OBS, 3)
    assert (agent.config.compile, agent.config.precision) == (compile, "float32")
    assert agent._update._jit_compile == (compile == "xla")
    assert not (tmp_path / "rlbook").exists()  # one candidate: nothing timed, nothing cached


@pytest.mark.parametrize("faster", [XLA, GRAPH])
def test_auto_takes_the_cached_fastest_path_and_records_it(faster, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    config = DQNConfig(**CATCH)
    key = update_path.cache_key("small", OBS, config.batch_size, config.double)
    seconds = {str(path): 0.5 if path == faster else 1.0 for path in (XLA, GRAPH)}
    cache = update_path.default_cache_file()
    cache.parent.mkdir(parents=True)
    cache.write_text(json.dumps({key: seconds}))
    agent = DQNAgent(update_path.resolve(config, OBS, 3), OBS, 3)
    assert (agent.config.compile, agent.config.precision) == (faster.compile, "float32")
    assert config.compile == "auto"  # the caller's config is left as it was


def test_an_agent_never_times_its_update_and_takes_a_plain_graph_for_auto(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    agent = DQNAgent(DQNConfig(**CATCH), OBS, 3)
    assert (agent.config.compile, agent.config.precision) == ("graph", "float32")
    assert not agent._update._jit_compile
    assert not (tmp_path / "rlbook").exists()  # nothing was timed


def test_config_refuses_an_unknown_compilation_or_precision():
    with pytest.raises(ValueError, match=r"unknown compile 'jit'.*'xla', 'graph', 'auto'"):
        DQNConfig(compile="jit")
    with pytest.raises(ValueError, match=r"unknown precision 'float16'.*'bfloat16'"):
        DQNConfig(precision="float16")


def _batch(rng, size=16):
    frames = rng.integers(0, 256, (2, size, *OBS), dtype=np.uint8)
    return Batch(
        frames[0],
        rng.integers(3, size=size, dtype=np.int32),
        rng.standard_normal(size).astype(np.float32),
        frames[1],
        np.zeros(size, np.float32),
    )


def test_weights_trained_on_one_path_restore_on_another_with_the_same_q_values(tmp_path):
    rng = np.random.default_rng(0)
    trained = DQNAgent(DQNConfig(compile="graph", precision="bfloat16", **CATCH), OBS, 3)
    for _ in range(5):
        trained.update(_batch(rng))
    saved = tf.train.Checkpoint(online=trained.online).write(str(tmp_path / "weights"))
    restored = {}
    for compile in ("xla", "graph"):
        agent = DQNAgent(DQNConfig(compile=compile, precision="float32", seed=1, **CATCH), OBS, 3)
        tf.train.Checkpoint(online=agent.online).read(saved).assert_consumed()
        restored[compile] = agent
    for agent in restored.values():
        for w_trained, w_restored in zip(trained.online.weights, agent.online.weights, strict=True):
            assert w_trained.dtype == w_restored.dtype == tf.float32  # float32 master weights
            np.testing.assert_array_equal(w_trained.numpy(), w_restored.numpy())
    obs = rng.integers(0, 256, (64, *OBS), dtype=np.uint8)
    q_xla, q_graph = (restored[c].q_values(obs) for c in ("xla", "graph"))
    np.testing.assert_allclose(q_xla, q_graph, rtol=1e-5, atol=1e-6)
    # The mixed-precision agent computes the same function, to bfloat16's 8 bits of mantissa.
    np.testing.assert_allclose(trained.q_values(obs), q_xla, rtol=0.05, atol=0.02)


def test_bfloat16_network_computes_in_bfloat16_and_returns_float32_q_values():
    model = build_network("small", OBS, 3, precision="bfloat16")
    q = model(np.zeros((2, *OBS), np.uint8))
    assert q.dtype == tf.float32
    assert all(w.dtype == "float32" for w in model.weights)
    hidden, output = model.layers[1:-1], model.layers[-1]
    assert {layer.compute_dtype for layer in hidden} == {"bfloat16"}
    assert output.compute_dtype == "float32"


def test_a_bfloat16_update_learns_what_the_float32_update_learns():
    """One step on the same batch from the same weights moves them alike in both precisions."""
    rng = np.random.default_rng(3)
    batch = _batch(rng, size=32)
    moved = {}
    for precision in ("float32", "bfloat16"):
        agent = DQNAgent(
            DQNConfig(compile="graph", precision=precision, adam=True, **CATCH), OBS, 3
        )
        before = [w.numpy() for w in agent.online.weights]
        loss, _ = agent.update(batch)
        moved[precision] = np.concatenate(
            [(w.numpy() - b).ravel() for w, b in zip(agent.online.weights, before, strict=True)]
        )
        assert np.isfinite(loss)
    cosine = moved["float32"] @ moved["bfloat16"]
    cosine /= np.linalg.norm(moved["float32"]) * np.linalg.norm(moved["bfloat16"])
    assert cosine > 0.9, cosine
