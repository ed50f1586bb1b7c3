"""DAG-CBOR codec: agreement with cbor2, tag-42 CIDs, damage detection, and the real calibnet blocks."""

from __future__ import annotations

import contextlib
from pathlib import Path

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lotus_sim import cbor
from lotus_sim.car import read_car
from lotus_sim.cbor import CID, FormatError

json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64 - 1)
    | st.binary(max_size=300)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=30,
)


@given(json_like)
def test_encoding_matches_cbor2_canonical_and_round_trips(value: object) -> None:
    encoded = cbor.encode(value)
    assert encoded == cbor2.dumps(value, canonical=True)
    assert cbor.decode(encoded) == value


def test_cid_is_tag_42_with_a_zero_prefix() -> None:
    cid = cbor.block_cid(b"\x80")
    encoded = cbor.encode({"link": cid})
    tag = cbor2.loads(encoded)["link"]
    assert isinstance(tag, cbor2.CBORTag) and tag.tag == 42 and tag.value == b"\x00" + cid.raw
    assert cbor.decode(encoded) == {"link": cid}
    assert str(cid).startswith("bafy2bza")  # CIDv1 dag-cbor blake2b-256, as Lotus names blocks
    assert CID.parse(str(cid)) == cid


def test_map_keys_sort_shorter_first() -> None:
    assert cbor.encode({"bb": 1, "a": 2, "ab": 3}) == b"\xa3\x61a\x02\x62ab\x03\x62bb\x01"


@pytest.mark.parametrize("data", [b"\x82\x01", b"\x59\x01", b"\x45abc", b"\xd8\x2a\x41\x01"])
def test_truncated_or_malformed_input_is_a_format_error(data: bytes) -> None:
    with pytest.raises(FormatError):
        cbor.decode(data)


@given(st.binary(max_size=60))
def test_any_bytes_decode_or_raise_format_error_only(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        cbor.decode(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"\x62\xbc\xf5", "not UTF-8"), (b"\xa1\x80\x01", "as a key"), (b"\x81" * 100_000, "nested too deeply")],
)
def test_hostile_input_is_a_format_error(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        cbor.decode(data)


def test_trailing_bytes_are_an_error() -> None:
    with pytest.raises(FormatError, match="trailing"):
        cbor.decode(cbor.encode(1) + b"\x00")


def test_indefinite_arrays_decode() -> None:
    assert cbor.decode(b"\x9f\x01\x02\xff") == [1, 2]


def test_real_calibnet_blocks_re_encode_byte_for_byte(calibnet_car: Path) -> None:
    car = read_car(calibnet_car)
    checked = 0
    for cid, data in car.blocks.items():
        if cid.codec != cbor.DAG_CBOR or cid.raw[:4] != b"\x01\x71\xa0\xe4":  # blake2b-256 blocks only
            continue
        assert cbor.block_cid(data) == cid
        assert cbor.encode(cbor.decode(data)) == data
        checked += 1
    assert checked > 1000
