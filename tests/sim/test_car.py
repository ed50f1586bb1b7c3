"""CARv1 snapshots: the real calibnet file, our snapshots read by an independent parser, damage detection."""

from __future__ import annotations

import contextlib
import hashlib
import io
from array import array
from pathlib import Path

import cbor2
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from lotus_sim.car import read_car, write_car
from lotus_sim.cbor import FormatError, block_cid
from lotus_sim.clock import MAINNET
from lotus_sim.policy import DEADLINES
from lotus_sim.snapshot import read_head
from lotus_sim.world import Account, Head, World

HEIGHT = 5_000_000


def _world() -> World:
    deadlines = [array("Q") for _ in range(DEADLINES)]
    deadlines[0].extend(range(0, 6))
    deadlines[24].extend(range(6, 9))
    acc = Account("f01001", "f3owner", "bls")
    return World("f01000", acc, acc, (), "12D3KooWtest", 2048, Head(HEIGHT, MAINNET.timestamp_of(HEIGHT)),
                 deadlines, seed=5)  # fmt: skip


def _uvarint(stream: io.BytesIO) -> int:
    value = shift = 0
    while True:
        byte = stream.read(1)[0]
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value


def _independent_read(raw: bytes) -> tuple[list[bytes], dict[bytes, bytes]]:
    """A second CARv1 parser: cbor2 for CBOR, the CAR framing by hand."""
    stream = io.BytesIO(raw)
    header = cbor2.loads(stream.read(_uvarint(stream)))
    assert header["version"] == 1
    roots = [tag.value[1:] for tag in header["roots"]]
    blocks = {}
    while stream.tell() < len(raw):
        section = stream.read(_uvarint(stream))
        blocks[section[:38]] = section[38:]  # CIDv1 dag-cbor blake2b-256 is 38 bytes long
    return roots, blocks


def test_real_calibnet_genesis_reads_as_a_snapshot(calibnet_car: Path) -> None:
    head, headers, blocks = read_head(calibnet_car)
    assert (head.height, head.timestamp) == (0, 1667326380)
    assert len(blocks) == 1207 and len(headers[0]) == 16


def test_our_snapshot_head_is_read_by_cbor2(tmp_path: Path) -> None:
    path = tmp_path / "snap.car.zst"
    roots = _world().write_car(path)
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(path.read_bytes())).read()
    root_cids, blocks = _independent_read(raw)
    assert len(root_cids) == 1
    header = cbor2.loads(blocks[root_cids[0]])
    assert len(header) == 16
    assert header[7] == HEIGHT and header[12] == MAINNET.timestamp_of(HEIGHT)
    assert header[8].tag == 42 and header[8].value[1:] in blocks  # ParentStateRoot is in the file
    digest = hashlib.blake2b(blocks[root_cids[0]], digest_size=32).digest()
    assert root_cids[0] == b"\x01\x71\xa0\xe4\x02\x20" + digest
    assert str(block_cid(blocks[root_cids[0]])) == roots[0]


def test_raw_and_zstd_are_told_apart_by_magic_bytes_not_names(tmp_path: Path) -> None:
    world = _world()
    world.write_car(tmp_path / "a.car.zst", zstd=False)  # raw bytes under a .zst name
    world.write_car(tmp_path / "b.car", zstd=True)  # zstd bytes under a .car name
    assert (tmp_path / "b.car").read_bytes()[1:4] == b"\xb5\x2f\xfd"
    for name in ("a.car.zst", "b.car"):
        back = World.from_car(tmp_path / name)
        assert back.head.height == HEIGHT and back.sector_count() == 9
        assert back.locate(7) == (24, 0)


@pytest.mark.parametrize("zstd", [True, False])
def test_truncated_snapshot_is_a_format_error(tmp_path: Path, zstd: bool) -> None:
    path = tmp_path / "snap.car"
    _world().write_car(path, zstd=zstd)
    data = path.read_bytes()
    World.from_car(path)  # whole: reads
    path.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(FormatError):
        World.from_car(path)


@pytest.mark.parametrize("content", [b"", b"not a car at all", b"\x28\xb5\x2f\xfd garbage"])
def test_garbage_is_a_format_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.car"
    path.write_bytes(content)
    with pytest.raises(FormatError):
        read_car(path)


def test_car_without_the_state_block_says_so(tmp_path: Path) -> None:
    path = tmp_path / "snap.car"
    _world().write_car(path, zstd=False)
    car = read_car(path)
    head = car.roots[0]
    write_car(path, car.roots, [(head, car.blocks[head])])
    assert read_head(path)[0].height == HEIGHT  # the head alone still reads
    with pytest.raises(FormatError, match="ParentStateRoot"):
        World.from_car(path)


@settings(max_examples=200)
@given(st.binary(max_size=80), st.booleans())
def test_any_bytes_read_or_raise_format_error_only(tmp_path_factory: pytest.TempPathFactory, tail: bytes,
                                                    compress: bool) -> None:  # fmt: skip
    # A valid header followed by noise exercises the section parser, bare noise the header parser.
    header = bytes([10]) + bytes.fromhex("a265726f6f7473806776657273696f6e01")[:9]
    data = header + tail if len(tail) % 2 else tail
    path = tmp_path_factory.mktemp("fuzz") / "x.car"
    path.write_bytes(zstandard.ZstdCompressor().compress(data) if compress else data)
    with contextlib.suppress(FormatError):
        World.from_car(path)
