"""Tests for lotus_sim.bitfield against go-bitfield's documented JSON form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lotus_sim.bitfield import decode_runs, encode_runs


@pytest.mark.parametrize(
    ("bits", "runs"),
    [([0, 1, 2, 8, 9], [0, 3, 5, 2]), ([], [0]), ([5], [5, 1]), ([1, 3], [1, 1, 1, 1])],
)
def test_known_encodings(bits: list[int], runs: list[int]) -> None:
    assert encode_runs(bits) == runs
    assert list(decode_runs(runs)) == bits


def test_unsorted_input_is_refused() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        encode_runs([3, 1])


@given(st.sets(st.integers(min_value=0, max_value=5000)))
def test_round_trip(bits: set[int]) -> None:
    assert list(decode_runs(encode_runs(sorted(bits)))) == sorted(bits)
