"""Tests for the frame-deduplicating replay memory."""

import io
from collections import Counter

import numpy as np
import pytest

from rlbook.replay import ReplayMemory

SHAPE = (2, 3)  # tiny frames keep the tests fast; every pixel holds the frame's number


def fill(memory, steps, starts=(1,), terminals=(), invalid=(), lane_offset=50):
    """Add steps 1..steps; env e's frame, action and reward all equal step + e * lane_offset."""
    n = memory.num_envs
    for step in range(1, steps + 1):
        numbers = step + lane_offset * np.arange(n)
        memory.add(
            frames=np.broadcast_to(numbers[:, None, None], (n, *SHAPE)).astype(np.uint8),
            actions=numbers,
            rewards=numbers.astype(np.float32),
            terminals=np.full(n, step in terminals),
            episode_starts=np.full(n, step in starts),
            valid=np.full(n, step not in invalid),
        )


def numbers_of(stacks):
    """Read the frame numbers of [B, stack, H, W] stacks, checking each frame is uniform."""
    assert (stacks == stacks[..., :1, :1]).all()
    return stacks[:, :, 0, 0].astype(int)


def expected_stack(last, starts, stack=4):
    """Return the frame numbers of the stack ending at step last, zero before its episode start."""
    start = max(s for s in starts if s <= last)
    return [n if n >= start else 0 for n in range(last - stack + 1, last + 1)]


def sampled_steps(memory, starts, batch_size=2000, lane_offset=50):
    """Sample, check every stack against the hand-computed one, and return the sampled steps."""
    batch = memory.sample(batch_size)
    states, next_states = numbers_of(batch.states), numbers_of(batch.next_states)
    for action, state, next_state in zip(batch.actions, states, next_states, strict=True):
        offset = action // lane_offset * lane_offset
        step = action - offset
        want = [n + offset if n else 0 for n in expected_stack(step, starts)]
        want_next = [n + offset if n else 0 for n in expected_stack(step + 1, starts)]
        assert list(state) == want
        assert list(next_state) == want_next
    return batch.actions


def test_batch_has_documented_shapes_and_dtypes():
    memory = ReplayMemory(16, frame_shape=SHAPE, seed=0)
    fill(memory, 6, terminals=(3,))
    batch = memory.sample(5)
    assert batch.states.shape == batch.next_states.shape == (5, 4, *SHAPE)
    assert batch.states.dtype == batch.next_states.dtype == np.uint8
    assert batch.actions.shape == batch.rewards.shape == batch.terminals.shape == (5,)
    assert batch.actions.dtype == np.int32
    assert batch.rewards.dtype == batch.terminals.dtype == np.float32
    np.testing.assert_array_equal(batch.rewards, batch.actions)
    np.testing.assert_array_equal(batch.terminals, batch.actions == 3)


def test_stacks_zero_frames_before_episode_start():
    memory = ReplayMemory(16, frame_shape=SHAPE, seed=0)
    # Episode 1 is steps 1-3 and ends terminal; episode 2 starts at step 4.
    fill(memory, 9, starts=(1, 4), terminals=(3,))
    steps = sampled_steps(memory, starts=(1, 4))
    assert set(steps) == set(range(1, 9))
    batch = memory.sample(500)
    states, next_states = numbers_of(batch.states), numbers_of(batch.next_states)
    by_step = {a: (s, n) for a, s, n in zip(batch.actions, states, next_states, strict=True)}
    assert list(by_step[4][0]) == [0, 0, 0, 4]
    assert list(by_step[5][0]) == [0, 0, 4, 5]
    assert list(by_step[6][0]) == [0, 4, 5, 6]
    assert list(by_step[7][0]) == [4, 5, 6, 7]
    # A terminal's next state runs into the new episode; it is masked but must be well formed.
    assert list(by_step[3][1]) == [0, 0, 0, 4]


def test_wraparound_never_mixes_overwritten_frames():
    memory = ReplayMemory(10, frame_shape=SHAPE, seed=0)
    # Steps 18..27 remain; step 18 is oldest, so its stack would need overwritten frames 15..17.
    fill(memory, 27, starts=(1, 19), terminals=(18,))
    assert len(memory) == 10
    steps = sampled_steps(memory, starts=(1, 19), batch_size=5000)
    # 19..21 reach back past the oldest entry, but the start at 19 zeroes those frames.
    assert set(steps) == set(range(19, 27))


def test_wraparound_excludes_stacks_crossing_the_write_head():
    memory = ReplayMemory(10, frame_shape=SHAPE, seed=0)
    fill(memory, 27)
    assert set(sampled_steps(memory, starts=(1,), batch_size=5000)) == set(range(21, 27))


def test_samples_only_and_uniformly_the_sampleable_entries():
    memory = ReplayMemory(20, frame_shape=SHAPE, seed=1)
    invalid = (20, 25, 30)
    fill(memory, 33, invalid=invalid)
    # Steps 14..33 remain: 14..16 lack earlier frames, 33 is newest, and some are invalid.
    allowed = set(range(17, 33)) - set(invalid)
    counts = Counter(memory.sample(10_000).actions.tolist())
    assert set(counts) == allowed
    expected = 10_000 / len(allowed)
    assert all(0.8 * expected < c < 1.2 * expected for c in counts.values())


def test_sampling_finds_a_lone_sampleable_entry():
    memory = ReplayMemory(64, frame_shape=SHAPE, seed=0)
    fill(memory, 40, invalid=set(range(1, 41)) - {7})
    assert set(memory.sample(100).actions.tolist()) == {7}


def test_lanes_never_mix():
    memory = ReplayMemory(30, num_envs=3, frame_shape=SHAPE, seed=0)
    fill(memory, 25, starts=(1, 17), terminals=(16,))
    assert len(memory) == 30
    steps = sampled_steps(memory, starts=(1, 17), batch_size=5000)
    assert set(steps // 50) == {0, 1, 2}


def test_million_atari_transitions_fit_in_7200_bytes_each():
    # np.zeros maps pages lazily, so this reserves address space without touching 7 GB.
    memory = ReplayMemory(1_000_000, num_envs=8)
    assert memory.bytes_per_transition <= 7200
    assert memory.nbytes == 1_000_000 * memory.bytes_per_transition


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"capacity": 30, "num_envs": 4}, "capacity=30, num_envs=4"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": 8, "num_envs": 2}, "stack \\+ n_step = 5"),
        ({"capacity": 16, "frame_shape": (84,)}, "frame_shape"),
    ],
)
def test_bad_construction_raises_value_error_naming_it(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReplayMemory(**kwargs)


def good_step(n=2):
    """Return keyword arguments for one well-formed add with n envs."""
    return {
        "frames": np.zeros((n, *SHAPE), np.uint8),
        "actions": np.zeros(n, np.int64),
        "rewards": np.zeros(n, np.float32),
        "terminals": np.zeros(n, bool),
        "episode_starts": np.ones(n, bool),
        "valid": np.ones(n, bool),
    }


@pytest.mark.parametrize(
    ("name", "bad", "match"),
    [
        ("frames", np.zeros((2, 3, 2), np.uint8), r"frames: .*shape \(2, 2, 3\).*\(2, 3, 2\)"),
        ("frames", np.zeros((2, *SHAPE), np.float32), "frames.*uint8.*float32"),
        ("actions", np.array([0, 256]), r"actions: expected values in \[0, 256\)"),
        ("actions", np.array([0.0, 1.0]), "actions.*integer.*float64"),
        ("rewards", np.zeros(3, np.float32), r"rewards: expected shape \(2,\).*\(3,\)"),
        ("terminals", np.zeros(2, np.int8), "terminals.*bool.*int8"),
        ("episode_starts", np.ones((2, 1), bool), "episode_starts"),
        ("valid", [1, 0], "valid"),
    ],
)
def test_bad_add_raises_value_error_naming_the_argument(name, bad, match):
    memory = ReplayMemory(16, num_envs=2, frame_shape=SHAPE)
    with pytest.raises(ValueError, match=match):
        memory.add(**{**good_step(), name: bad})
    assert len(memory) == 0


def test_sampling_with_nothing_sampleable_raises():
    memory = ReplayMemory(16, frame_shape=SHAPE, seed=0)
    with pytest.raises(ValueError, match="nothing sampleable"):
        memory.sample(1)
    fill(memory, 10, invalid=range(1, 11))
    with pytest.raises(ValueError, match="nothing sampleable"):
        memory.sample(1)


def test_seeded_sampling_is_reproducible():
    batches = []
    for seed in (3, 3, 4):
        memory = ReplayMemory(40, num_envs=2, frame_shape=SHAPE, seed=seed)
        fill(memory, 30, starts=(1, 12))
        batches.append(memory.sample(64))
    for field_a, field_b in zip(batches[0], batches[1], strict=True):
        np.testing.assert_array_equal(field_a, field_b)
    assert not np.array_equal(batches[0].actions, batches[2].actions)


def test_state_dict_round_trip_gives_identical_samples():
    original = ReplayMemory(40, num_envs=2, frame_shape=SHAPE, seed=5)
    fill(original, 30, starts=(1, 12), terminals=(11,), invalid=(20,))
    saved = io.BytesIO()
    np.savez(saved, **original.state_dict())
    saved.seek(0)
    restored = ReplayMemory(40, num_envs=2, frame_shape=SHAPE, seed=5)
    with np.load(saved) as archive:
        restored.load_state_dict(archive)
    assert len(restored) == len(original)
    for memory in (original, restored):
        fill(memory, 1, starts=())  # the write head must carry on from the same slot
    for field_a, field_b in zip(original.sample(64), restored.sample(64), strict=True):
        np.testing.assert_array_equal(field_a, field_b)


def test_load_state_dict_rejects_a_different_shape():
    small = ReplayMemory(16, frame_shape=SHAPE)
    with pytest.raises(ValueError, match="frames: expected shape"):
        small.load_state_dict(ReplayMemory(20, frame_shape=SHAPE).state_dict())


def test_n_step_transitions_sum_discounted_rewards_and_look_n_steps_ahead():
    memory = ReplayMemory(32, frame_shape=SHAPE, seed=0, n_step=3, discount=0.5)
    fill(memory, 12)  # one episode, no terminal: rewards equal the step number
    batch = memory.sample(500)
    steps = batch.actions
    np.testing.assert_allclose(batch.rewards, steps + 0.5 * (steps + 1) + 0.25 * (steps + 2))
    assert (numbers_of(batch.next_states)[:, -1] == steps + 3).all()
    assert not batch.terminals.any()
    # The newest three entries lack the frame three steps on; every other entry is drawn.
    assert set(steps) == set(range(1, 10))


def test_n_step_return_stops_at_the_first_terminal():
    memory = ReplayMemory(32, frame_shape=SHAPE, seed=0, n_step=3, discount=0.5)
    fill(memory, 12, starts=(1, 6), terminals=(5,))  # a life or game ends with step 5
    batch = memory.sample(500)
    rows = zip(batch.actions, batch.rewards, batch.terminals, strict=True)
    by_step = {int(step): (float(reward), float(done)) for step, reward, done in rows}
    assert by_step[3] == (3 + 0.5 * 4 + 0.25 * 5, 1.0)
    assert by_step[4] == (4 + 0.5 * 5, 1.0)  # step 6's reward belongs to the next game
    assert by_step[5] == (5, 1.0)
    assert by_step[6] == (6 + 0.5 * 7 + 0.25 * 8, 0.0)


def test_n_step_never_spans_a_cut_game():
    memory = ReplayMemory(32, frame_shape=SHAPE, seed=0, n_step=3)
    # Step 5 is cut by a time limit (not terminal), a new game starts at step 6: a return from
    # steps 3, 4 or 5 would add the new game's rewards to the old one's.
    fill(memory, 12, starts=(1, 6), invalid=(5,))
    assert set(memory.sample(1000).actions) == {1, 2, 6, 7, 8, 9}


def test_one_step_memory_is_the_plain_transition():
    one = ReplayMemory(32, frame_shape=SHAPE, seed=3)
    fill(one, 12, terminals=(5,), starts=(1, 6))
    batch = one.sample(300)
    np.testing.assert_array_equal(batch.rewards, batch.actions)
    np.testing.assert_array_equal(batch.terminals, batch.actions == 5)
    assert (numbers_of(batch.next_states)[:, -1] == batch.actions + 1).all()
