"""Chain-snapshot heads: the real calibnet genesis, and CARs built here in every shape Lotus writes."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Any

import cbor2
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spdrill.errors import InputError
from spdrill.lotus.car import cid_to_str, read_snapshot_head

CARV2_PRAGMA = bytes.fromhex("0aa16776657273696f6e02")


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def cid_for(data: bytes) -> bytes:
    """CIDv1, dag-cbor, blake2b-256: the CIDs of Filecoin blocks."""
    return b"\x01\x71\xa0\xe4\x02\x20" + hashlib.blake2b(data, digest_size=32).digest()


def link(cid: bytes) -> cbor2.CBORTag:
    return cbor2.CBORTag(42, b"\x00" + cid)


def header_block(height: int, timestamp: int, miner: bytes = b"\x00\x01") -> bytes:
    fields: list[Any] = [
        miner,
        None,
        None,
        [],
        [],
        [],
        b"",
        height,
        None,
        None,
        None,
        None,
        timestamp,
        None,
        0,
        b"",
    ]
    return cbor2.dumps(fields)


def car(roots: list[bytes], blocks: list[bytes]) -> bytes:
    head = cbor2.dumps({"roots": [link(r) for r in roots], "version": 1})
    out = varint(len(head)) + head
    for data in blocks:
        cid = cid_for(data)
        out += varint(len(cid) + len(data)) + cid + data
    return out


def carv2(inner: bytes) -> bytes:
    data_offset = len(CARV2_PRAGMA) + 40 + 5  # a small gap, as padding may leave one
    fixed = bytes(16) + data_offset.to_bytes(8, "little") + len(inner).to_bytes(8, "little") + bytes(8)
    return CARV2_PRAGMA + fixed + bytes(5) + inner


FILLER = [cbor2.dumps(["state", i]) for i in range(50)]
HEAD_A, HEAD_B = header_block(2000, 1598366430), header_block(2000, 1598366400, b"\x00\x02")


def write(tmp_path: Path, data: bytes, name: str = "snap.car") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_real_calibnet_genesis(shared_dir: Path) -> None:
    head = read_snapshot_head(shared_dir / "fixtures" / "real-chain" / "calibnet-genesis.car.zst")
    assert (head.height, head.timestamp, head.compressed) == (0, 1667326380, True)
    assert len(head.roots) == 1 and head.roots[0].startswith("bafy2bzace")
    assert head.blocks_scanned == 1


def test_two_block_tipset_after_other_blocks(tmp_path: Path) -> None:
    roots = [cid_for(HEAD_A), cid_for(HEAD_B)]
    path = write(tmp_path, car(roots, [*FILLER, HEAD_A, *FILLER[:3], HEAD_B, *FILLER]))
    head = read_snapshot_head(path)
    assert (head.height, head.timestamp, head.compressed, head.car_version) == (2000, 1598366400, False, 1)
    assert head.roots == tuple(cid_to_str(r) for r in roots)
    assert head.blocks_scanned == 50 + 1 + 3 + 1  # stops at the last head block


def test_zstd_detected_by_magic_not_name(tmp_path: Path) -> None:
    data = car([cid_for(HEAD_A)], [*FILLER, HEAD_A])
    packed = zstandard.ZstdCompressor().compress(data)
    assert read_snapshot_head(write(tmp_path, packed, "snapshot.car")).compressed
    raw_named_zst = read_snapshot_head(write(tmp_path, data, "snapshot.car.zst"))
    assert not raw_named_zst.compressed and raw_named_zst.height == 2000


def test_carv2_wrapper(tmp_path: Path) -> None:
    head = read_snapshot_head(write(tmp_path, carv2(car([cid_for(HEAD_A)], [HEAD_A]))))
    assert (head.car_version, head.height) == (2, 2000)


def test_v2_snapshot_metadata_root(tmp_path: Path) -> None:
    meta = cbor2.dumps([2, [link(cid_for(HEAD_A)), link(cid_for(HEAD_B))], None])
    head = read_snapshot_head(write(tmp_path, car([cid_for(meta)], [meta, *FILLER, HEAD_B, HEAD_A])))
    assert head.metadata_root == cid_to_str(cid_for(meta))
    assert (head.height, head.timestamp, len(head.roots)) == (2000, 1598366400, 2)


def test_cid_rendering() -> None:
    # the CID of the calibnet genesis block as Lotus prints it
    raw = bytes.fromhex("0171a0e40220b0031b1ae59cbec69597a0cfecc94065a5e91838a0caa3f1f838f3ff37de203e")
    assert cid_to_str(raw) == "bafy2bzacecyaggy24wol5ruvs6qm73gjibs2l2iyhcqmvi7r7a4ph7zx3yqd4"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "the file is empty"),
        (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "not a valid varint"),
        (varint(5) + b"\xa1\x61x\x01\x00", "not {version: 1|2"),
        (varint(3) + b"\xff\xfe\xfd", "not valid DAG-CBOR"),
        (car([], [HEAD_A]), "has no roots"),
        (car([cid_for(HEAD_A)], FILLER), "are not in the file \\(scanned 50 blocks\\)"),
        (car([cid_for(FILLER[0])], FILLER), "is not a Filecoin BlockHeader"),
        (
            car([cid_for(HEAD_A), cid_for(header_block(7, 1))], [HEAD_A, header_block(7, 1)]),
            "disagree on height",
        ),
        (
            zstandard.ZstdCompressor().compress(car([cid_for(HEAD_A)], [HEAD_A]))[:-6],
            "truncated|corrupt zstd|decompresses to nothing",
        ),
        (b"\x28\xb5\x2f\xfd" + b"\x00" * 20, "corrupt zstd|truncated|empty"),
    ],
)
def test_bad_snapshots(tmp_path: Path, data: bytes, match: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(InputError, match=match) as err:
        read_snapshot_head(path)
    assert str(path) in str(err.value)


def test_block_that_does_not_match_its_cid(tmp_path: Path) -> None:
    data = bytearray(car([cid_for(HEAD_A)], [HEAD_A]))
    data[-1] ^= 0x01  # flip a bit of the head block: still CBOR, wrong hash
    with pytest.raises(InputError, match="does not hash to its CID"):
        read_snapshot_head(write(tmp_path, bytes(data)))


def test_every_truncation_is_rejected(tmp_path: Path) -> None:
    data = car([cid_for(HEAD_A)], [FILLER[0], HEAD_A])
    for cut in range(len(data)):
        with pytest.raises(InputError):
            read_snapshot_head(write(tmp_path, data[:cut]))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such chain snapshot"):
        read_snapshot_head(tmp_path / "absent.car.zst")


@given(st.binary(max_size=120), st.booleans())
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_garbage_only_raises_input_error(tmp_path: Path, tail: bytes, with_header: bool) -> None:
    prefix = car([cid_for(HEAD_A)], [])[: 60 if with_header else 0]
    with contextlib.suppress(InputError):
        read_snapshot_head(write(tmp_path, prefix + tail, "fuzz.car"))
