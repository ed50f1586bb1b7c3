"""RLE+ bitfields: reference vectors from go-bitfield, round trips, and every malformed-input rejection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spdrill.errors import InputError
from spdrill.lotus.bitfield import Bitfield, decode_json, decode_rle, encode_json, encode_rle

# go-bitfield rle/rleplus_test.go TestDecode: the Rust reference encoding of this set, with version bits.
REFERENCE_SET = [0, 2, 4, 5, 6, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27]
REFERENCE_BYTES = bytes([124, 71, 34, 2])

members = st.sets(st.integers(min_value=0, max_value=5000), max_size=200) | st.sets(
    st.integers(min_value=0, max_value=2**63), max_size=20
)


def pack(bits: list[int]) -> bytes:
    """Bits in stream order (least significant first in each byte) to bytes."""
    value = sum(b << i for i, b in enumerate(bits))
    return value.to_bytes((len(bits) + 7) // 8, "little").rstrip(b"\0")  # encoders drop zero padding


def byte_bits(byte: int) -> list[int]:
    """The 8 bits of a byte in RLE+ stream order."""
    return [(byte >> i) & 1 for i in range(8)]


HEAD_VARINT = [0, 0, 0, 0, 0]  # version 00, first run zeros, '00' varint run


def test_reference_vector_decodes_and_encodes_exactly() -> None:
    assert decode_rle(REFERENCE_BYTES).to_list() == REFERENCE_SET
    assert encode_rle(Bitfield.from_iterable(REFERENCE_SET)) == REFERENCE_BYTES


def test_json_form_matches_go_bitfield_doc_example() -> None:
    # go-bitfield MarshalJSON: {0, 1, 2, 8, 9} is [0, 3, 5, 2]
    field = decode_json([0, 3, 5, 2])
    assert field.to_list() == [0, 1, 2, 8, 9]
    assert encode_json(Bitfield.from_iterable([9, 8, 2, 1, 0, 1])) == [0, 3, 5, 2]
    assert decode_json([5, 1]).to_list() == [5]  # the example in api-methods-v1-stable.md


@pytest.mark.parametrize("empty", [[0], []])
def test_empty_json_forms(empty: list[int]) -> None:
    field = decode_json(empty)
    assert len(field) == 0 and not field and field.to_list() == [] and encode_json(field) == [0]
    assert encode_rle(field) == b"" and decode_rle(b"") == field


def test_set_operations() -> None:
    field = decode_json([3, 2, 10, 1])  # {3, 4, 15}
    assert len(field) == 3 and field.max() == 15
    assert 3 in field and 4 in field and 15 in field
    assert 0 not in field and 5 not in field and 16 not in field and -1 not in field and "3" not in field
    assert list(field) == [3, 4, 15]
    assert Bitfield().max() is None


def test_long_runs_use_varints() -> None:
    field = Bitfield.from_iterable(range(1000, 1_000_000))
    data = encode_rle(field)
    assert len(data) < 10
    assert decode_rle(data) == field and len(decode_rle(data)) == 999_000


def test_dense_alternating_field() -> None:
    field = Bitfield.from_iterable(range(1, 20_001, 2))
    assert decode_rle(encode_rle(field)).to_list() == list(range(1, 20_001, 2))


@given(members)
@settings(max_examples=300, deadline=None)
def test_rle_round_trip(values: set[int]) -> None:
    field = Bitfield.from_iterable(values)
    data = encode_rle(field)
    assert not data.endswith(b"\0")
    back = decode_rle(data)
    assert back == field and back.to_list() == sorted(values) and len(back) == len(values)


@given(members)
@settings(max_examples=300, deadline=None)
def test_json_round_trip(values: set[int]) -> None:
    field = Bitfield.from_iterable(values)
    assert decode_json(encode_json(field)) == field
    assert all(v in field for v in values)


@given(st.binary(max_size=64))
@settings(max_examples=1000, deadline=None)
def test_garbage_bytes_only_raise_input_error(data: bytes) -> None:
    try:
        field = decode_rle(data)
    except InputError:
        return
    assert decode_rle(encode_rle(field)) == field  # whatever decoded is a well-formed bitfield


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01", "version bits are 1"),
        (b"\x03\x01", "version"),
        (b"\x1c\x00", "zero byte"),  # a trailing zero byte is not minimal (go-bitfield rejects it)
        (pack(HEAD_VARINT + byte_bits(0x80)), "truncated"),  # varint continuation runs off the end
        (pack(HEAD_VARINT + byte_bits(0xFF) * 9 + byte_bits(0x02)), "overflows 64 bits"),
        (pack(HEAD_VARINT + byte_bits(0xFF) * 10 + byte_bits(0x01)), "longer than 10 bytes"),
    ],
)
def test_malformed_rle_is_rejected(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        decode_rle(data)


def test_data_after_end_marker_is_rejected() -> None:
    # 00 | 0 | '01'+0000 (end) then a stray 1 bit: go ignores it, spdrill calls the field malformed
    with pytest.raises(InputError, match="after its end marker"):
        decode_rle(bytes([0b00010000, 0b00000010]))


def test_non_minimal_but_valid_run_is_accepted_like_go() -> None:
    # '01' + 0001 encodes a run of 1 the long way; go-bitfield decodes it, so must we
    assert decode_rle(pack([0, 0, 1, 0, 1, 1, 0, 0, 0])).to_list() == [0]
    # a varint run of 3 (non-minimal too) after a zero-run of 1
    assert decode_rle(pack([0, 0, 0, 1] + [0, 0] + byte_bits(3))).to_list() == [1, 2, 3]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[0,1]", "expected a JSON list"),
        ([0, 1.5], "must be integers"),
        ([0, True], "must be integers"),
        ([0, -1], ">= 0"),
        ([0, 3, 0, 2], "run 2 has length 0"),
        ([2**64], "past 2\\*\\*64"),
    ],
)
def test_malformed_json_is_rejected(value: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        decode_json(value, what="StateMinerFaults")


def test_from_iterable_rejects_bad_members() -> None:
    with pytest.raises(InputError, match="expected an integer"):
        Bitfield.from_iterable([1, -2])


def test_repr_is_short_for_big_fields() -> None:
    assert repr(decode_json([0, 3, 5, 2])) == "Bitfield([0, 3, 5, 2])"
    big = Bitfield.from_iterable(range(0, 1000, 2))
    assert "500 set" in repr(big) and len(repr(big)) < 80


@pytest.mark.parametrize("offset", range(0, 17))
def test_long_alternating_streaks_at_every_bit_alignment(offset: int) -> None:
    # streaks of 64+ one-bit codes take the whole-byte fast path; check where they start and stop
    for length in (63, 64, 65, 71, 72, 73, 130, 1000):
        values = set(range(offset, offset + 2 * length, 2)) | {offset + 2 * length + 40, 10**6}
        field = Bitfield.from_iterable(values)
        assert decode_rle(encode_rle(field)).to_list() == sorted(values), length
