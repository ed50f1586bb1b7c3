"""Lotus's JSON form of an RLE+ bitfield: run lengths from a run of zeros ({0,1,2,8,9} is [0,3,5,2])."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["decode_runs", "encode_runs"]


def encode_runs(sorted_numbers: Iterable[int]) -> list[int]:
    """Return the run-length list of a strictly increasing sequence of set bits; `[0]` when empty."""
    runs: list[int] = []
    position = 0  # next bit index not yet described
    run_start = -1
    previous = -1
    for n in sorted_numbers:
        if n <= previous:
            raise ValueError(f"bitfield members must be strictly increasing: {n} after {previous}")
        if run_start >= 0 and n == previous + 1:
            previous = n
            continue
        if run_start >= 0:
            runs.append(previous + 1 - run_start)
            position = previous + 1
        runs.append(n - position)
        run_start = previous = n
    if run_start >= 0:
        runs.append(previous + 1 - run_start)
    return runs or [0]


def decode_runs(runs: Iterable[int]) -> Iterator[int]:
    """Yield the set bits described by a run-length list (the inverse of encode_runs)."""
    position = 0
    is_set = False
    for length in runs:
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise ValueError(f"bitfield run {length!r} is not a non-negative integer")
        if is_set:
            yield from range(position, position + length)
        position += length
        is_set = not is_set
