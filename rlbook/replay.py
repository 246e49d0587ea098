"""DQN replay memory that stores each Atari frame once and rebuilds frame stacks when sampling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

# Rejection rounds before sampling gives up on luck and enumerates every entry. Needing that many
# means almost nothing is sampleable, so the slow exact path runs only on a nearly empty memory.
_MAX_REDRAWS = 32


class Batch(NamedTuple):
    """A minibatch of transitions, ready to feed a Q-network."""

    states: np.ndarray  # uint8 [B, stack, H, W]
    actions: np.ndarray  # int32 [B]
    rewards: np.ndarray  # float32 [B], discounted sum over the n steps (the reward when n = 1)
    next_states: np.ndarray  # uint8 [B, stack, H, W], the state n steps later
    terminals: np.ndarray  # float32 [B], 1.0 where the episode ended within the n steps


class ReplayMemory:
    """Circular replay memory holding one frame per transition; stacks are rebuilt on sampling.

    Each of `num_envs` lock-stepped environments writes to its own lane of `capacity // num_envs`
    entries, and all lanes share one write head. A transition costs one frame (7,056 bytes at
    84x84), a uint8 action, a float32 reward and three bool flags: 7,064 bytes, about 7.1 GB for
    a million. Arrays come from np.zeros, so pages become resident only once written.

    With ``n_step`` > 1 a sampled transition spans n steps (Sutton 1988; Rainbow uses 3): its
    reward is the discounted sum of the n rewards, cut at the first terminal, and its next
    state is the one n steps on, so the learner bootstraps with ``discount ** n_step``.
    """

    def __init__(
        self,
        capacity: int,
        num_envs: int = 1,
        frame_shape: tuple[int, int] = (84, 84),
        stack: int = 4,
        seed: int | None = None,
        n_step: int = 1,
        discount: float = 0.99,
    ) -> None:
        if num_envs < 1 or stack < 1 or n_step < 1:
            raise ValueError(
                f"num_envs, stack and n_step must be positive, "
                f"got num_envs={num_envs}, stack={stack}, n_step={n_step}"
            )
        if capacity < 1 or capacity % num_envs:
            raise ValueError(
                f"capacity must be a positive multiple of num_envs, "
                f"got capacity={capacity}, num_envs={num_envs}"
            )
        if capacity // num_envs < stack + n_step:
            raise ValueError(
                f"capacity // num_envs must be at least stack + n_step = {stack + n_step} so that "
                f"a state and the state n_step later fit in a lane, "
                f"got capacity={capacity}, num_envs={num_envs}"
            )
        if len(frame_shape) != 2 or min(frame_shape) < 1:
            raise ValueError(f"frame_shape must be two positive sizes, got {frame_shape}")
        self.capacity = capacity
        self.num_envs = num_envs
        self.frame_shape = tuple(frame_shape)
        self.stack = stack
        self.n_step = n_step
        self._discounts = (discount ** np.arange(n_step)).astype(np.float32)
        self._lane_length = capacity // num_envs
        lanes = (num_envs, self._lane_length)
        self._frames = np.zeros(lanes + self.frame_shape, np.uint8)
        self._actions = np.zeros(lanes, np.uint8)
        self._rewards = np.zeros(lanes, np.float32)
        self._terminals = np.zeros(lanes, bool)
        self._episode_starts = np.zeros(lanes, bool)
        self._valid = np.zeros(lanes, bool)
        self._head = 0  # slot the next add writes, in every lane
        self._size = 0  # entries written per lane, at most the lane length
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """Return the number of stored transitions over all lanes."""
        return self._size * self.num_envs

    @property
    def nbytes(self) -> int:
        """Return the bytes held by all arrays."""
        return sum(array.nbytes for array in self._arrays().values())

    @property
    def bytes_per_transition(self) -> float:
        """Return the bytes held per transition of capacity."""
        return self.nbytes / self.capacity

    def add(
        self,
        frames: ArrayLike,
        actions: ArrayLike,
        rewards: ArrayLike,
        terminals: ArrayLike,
        episode_starts: ArrayLike,
        valid: ArrayLike,
    ) -> None:
        """Append one lock-step transition per environment at the shared write head.

        Each game's newest frame is stored once; ``sample`` rebuilds the stacks from them.

        In the chapter: Breakout, "Replay memory".
        """
        self._check_transition(frames, actions, rewards, terminals, episode_starts, valid)
        head = self._head
        self._frames[:, head] = frames
        self._actions[:, head] = actions
        self._rewards[:, head] = rewards
        self._terminals[:, head] = terminals
        self._episode_starts[:, head] = episode_starts
        self._valid[:, head] = valid
        self._head = (head + 1) % self._lane_length
        self._size = min(self._size + 1, self._lane_length)

    def _check_transition(self, frames, actions, rewards, terminals, episode_starts, valid):
        n = self.num_envs
        _checked("frames", frames, (n, *self.frame_shape), np.uint8)
        actions = _checked("actions", actions, (n,), np.integer)
        _checked("rewards", rewards, (n,), np.floating)
        for name, flags in (("terminals", terminals), ("episode_starts", episode_starts)):
            _checked(name, flags, (n,), np.bool_)
        _checked("valid", valid, (n,), np.bool_)
        if actions.min() < 0 or actions.max() > 255:
            raise ValueError(
                f"actions: expected values in [0, 256) to fit uint8, "
                f"got {actions.min()}..{actions.max()}"
            )

    def sample(self, batch_size: int) -> Batch:
        """Draw batch_size transitions uniformly, with replacement, among sampleable entries."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if self._size <= self.n_step:
            raise ValueError(
                f"nothing sampleable: each lane holds {self._size} entries and a transition "
                f"needs the frame {self.n_step} step(s) later written"
            )
        lanes, ages = self._draw(batch_size)
        redo = np.flatnonzero(~self._sampleable(lanes, ages))
        for _ in range(_MAX_REDRAWS):
            if redo.size == 0:
                break
            lanes[redo], ages[redo] = self._draw(redo.size)
            redo = redo[~self._sampleable(lanes[redo], ages[redo])]
        if redo.size:
            # Enumerating is slow but exact: it tells an empty memory from an unlucky streak.
            spans = self._size - self.n_step
            every_lane, every_age = np.divmod(np.arange(self.num_envs * spans), spans)
            good = np.flatnonzero(self._sampleable(every_lane, every_age))
            if good.size == 0:
                raise ValueError(
                    f"nothing sampleable among {len(self)} stored entries: all are invalid, "
                    f"among the newest {self.n_step} in their lane, or lack the "
                    f"{self.stack - 1} earlier frames of a stack"
                )
            pick = self._rng.choice(good, size=redo.size)
            lanes[redo], ages[redo] = every_lane[pick], every_age[pick]
        return self._gather(lanes, ages)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Return the contents as plain arrays (the memory's own, not copies) for np.savez."""
        return {**self._arrays(), "head": np.array(self._head), "size": np.array(self._size)}

    def break_lanes(self) -> None:
        """Mark the newest entry of every lane unsampleable: its successor will never come.

        Needed when the environments restart mid-episode (a resumed run starts new games), so
        that no transition bootstraps from the first frame of an unrelated game.
        """
        if self._size:
            self._valid[:, (self._head - 1) % self._lane_length] = False

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore contents from state_dict output; shapes must match this memory's."""
        head, size = int(state["head"]), int(state["size"])
        if not (0 <= head < self._lane_length and 0 <= size <= self._lane_length):
            raise ValueError(
                f"head and size must lie within the lane length {self._lane_length}, "
                f"got head={head}, size={size}"
            )
        # One array at a time: an np.load archive reads a member on each access, and holding
        # every saved array at once would double the memory of a full buffer.
        for name, array in self._arrays().items():
            saved = np.asarray(state[name])
            if saved.shape != array.shape:
                raise ValueError(f"{name}: expected shape {array.shape}, got shape {saved.shape}")
            array[...] = saved
        self._head, self._size = head, size

    def _arrays(self) -> dict[str, np.ndarray]:
        """Return the stored arrays by name."""
        return {
            "frames": self._frames,
            "actions": self._actions,
            "rewards": self._rewards,
            "terminals": self._terminals,
            "episode_starts": self._episode_starts,
            "valid": self._valid,
        }

    def _index(self, ages: np.ndarray) -> np.ndarray:
        """Map ages (0 = oldest stored entry, may be negative) to slots in a lane."""
        oldest = self._head - self._size
        return (oldest + ages) % self._lane_length

    def _draw(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw n candidate entries, excluding each lane's newest n_step, whose next frame is
        unwritten."""
        lanes = self._rng.integers(self.num_envs, size=n)
        return lanes, self._rng.integers(self._size - self.n_step, size=n)

    def _sampleable(self, lanes: np.ndarray, ages: np.ndarray) -> np.ndarray:
        """Return which candidate entries have every frame their stack needs and n valid steps

        In the chapter: Breakout, "Replay memory".
        (up to the first terminal) after them."""
        window = ages[:, None] - np.arange(self.stack - 1, -1, -1)
        # Frames older than the oldest entry are unwritten or overwritten; a stack may reach back
        # to them only when an episode start at or after the oldest entry zeroes them anyway.
        cut = (self._episode_starts[lanes[:, None], self._index(window)] & (window >= 0)).any(1)
        complete = (ages >= self.stack - 1) | cut
        slots, _, counted = self._steps(lanes, ages)
        # A step that is not valid (a time limit, a broken lane) ends the n steps inside a game
        # that did not end: no return can be formed across it.
        valid = (self._valid[lanes[:, None], slots] | ~counted).all(axis=1)
        return valid & complete

    def _steps(self, lanes: np.ndarray, ages: np.ndarray) -> tuple[np.ndarray, ...]:
        """The slots of the n steps from each entry, their terminal flags, and which steps
        count: those up to and including the first terminal."""
        slots = self._index(ages[:, None] + np.arange(self.n_step))
        terminals = self._terminals[lanes[:, None], slots]
        counted = np.ones_like(terminals)
        counted[:, 1:] = ~np.logical_or.accumulate(terminals[:, :-1], axis=1)
        return slots, terminals, counted

    def _gather(self, lanes: np.ndarray, ages: np.ndarray) -> Batch:
        """Build the batch for the given entries.

        In the chapter: Breakout, "Replay memory".
        """
        rows = lanes[:, None]
        state_slots = self._index(ages[:, None] + np.arange(1 - self.stack, 1))
        step_slots, terminals, counted = self._steps(lanes, ages)
        rewards = self._rewards[rows, step_slots] * counted
        return Batch(
            states=self._stacks(rows, state_slots),
            actions=self._actions[lanes, state_slots[:, -1]].astype(np.int32),
            rewards=rewards @ self._discounts,
            next_states=self._stacks(rows, (state_slots + self.n_step) % self._lane_length),
            terminals=terminals.any(axis=1).astype(np.float32),
        )

    def _stacks(self, rows: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """Read frame stacks, zeroing frames before the latest episode start as the env pads.

        In the chapter: Breakout, "Replay memory".
        """
        stacks = self._frames[rows, slots]
        starts = self._episode_starts[rows, slots]
        # A frame belongs to an earlier episode when a later frame of its stack starts one: a
        # reversed cumulative OR over the start flags, shifted by one place.
        earlier = np.zeros_like(starts)
        earlier[:, :-1] = np.logical_or.accumulate(starts[:, :0:-1], axis=1)[:, ::-1]
        # Fancy indexing returned a copy, so zeroing in place is safe, and far faster than
        # np.where with a mask broadcast over the pixels.
        stacks[earlier] = 0
        return stacks


def _checked(name: str, value: ArrayLike, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """Return value as an array, raising ValueError naming it if its shape or dtype is wrong."""
    array = np.asarray(value)
    if array.shape != shape or not np.issubdtype(array.dtype, dtype):
        raise ValueError(
            f"{name}: expected shape {shape} and dtype {dtype.__name__}, "
            f"got shape {array.shape} and dtype {array.dtype}"
        )
    return array
