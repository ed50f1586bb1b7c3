"""Metadata backups: exact layout, independent parse, every flipped byte and any trailing byte rejected."""

from __future__ import annotations

import contextlib
import hashlib
from array import array
from pathlib import Path

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lotus_sim.backup import BackupError, encode_backup, parse_backup, read_backup, write_backup
from lotus_sim.world import MinerMetadata

PAIRS = [(b"/miner-address", b"\x00\xe8\x07"), (b"/sectors/1", b"\xa1\x65State\x67Proving")]


def test_layout_is_lotus_backupds() -> None:
    data = encode_backup(PAIRS)
    body = data[1:-34]
    assert data[:2] == b"\x82\x9f" and body.endswith(b"\xff")
    assert data[-34:-32] == b"\x58\x20" and data[-32:] == hashlib.sha256(body).digest()
    decoded = cbor2.loads(data)  # an independent CBOR reader sees [[[k, v]…], checksum]
    assert [tuple(kv) for kv in decoded[0]] == PAIRS and decoded[1] == hashlib.sha256(body).digest()


def test_round_trip() -> None:
    assert parse_backup(encode_backup(PAIRS)) == PAIRS
    assert parse_backup(encode_backup([])) == []


def test_every_flipped_byte_is_detected() -> None:
    data = encode_backup(PAIRS)
    for offset in range(len(data)):
        damaged = bytearray(data)
        damaged[offset] ^= 0x01
        with pytest.raises(BackupError):
            parse_backup(bytes(damaged))


def test_a_flipped_value_byte_fails_the_checksum() -> None:
    damaged = bytearray(encode_backup(PAIRS))
    damaged[20] ^= 0x01  # inside the first value: the layout still parses
    with pytest.raises(BackupError, match="checksum mismatch"):
        parse_backup(bytes(damaged))


@pytest.mark.parametrize("extra", [b"\x00", b"\x83\x41a\x41b\x01"])
def test_trailing_bytes_are_rejected(extra: bytes) -> None:
    with pytest.raises(BackupError, match="after the checksum"):
        parse_backup(encode_backup(PAIRS) + extra)


def test_truncation_anywhere_is_rejected() -> None:
    data = encode_backup(PAIRS)
    for end in range(len(data)):
        with pytest.raises(BackupError):
            parse_backup(data[:end])


def test_write_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "b.cbor"
    write_backup(target, PAIRS)
    before = target.read_bytes()
    with pytest.raises(FileExistsError, match="already exists"):
        write_backup(target, [])
    assert target.read_bytes() == before and read_backup(target) == PAIRS


def test_miner_metadata_round_trips_through_backup_and_repo(tmp_path: Path) -> None:
    md = MinerMetadata("f01000", array("Q", [3, 1, 2, 10]), {"/slashfilter/x": b"\x01"}, seal_proof=8)
    md.sectors = array("Q", sorted(md.sectors))
    md.write_backup(tmp_path / "b.cbor")
    md.write_repo(tmp_path / "repo")
    for back in (MinerMetadata.from_backup(tmp_path / "b.cbor"), MinerMetadata.from_repo(tmp_path / "repo")):
        assert back == md
    keys = [k for k, _ in read_backup(tmp_path / "b.cbor")]
    assert keys == sorted(keys) and keys[0] == b"/miner-address"


def test_metadata_without_miner_address_is_refused(tmp_path: Path) -> None:
    write_backup(tmp_path / "b.cbor", [(b"/sectors/1", b"\xa0")])
    with pytest.raises(ValueError, match="/miner-address"):
        MinerMetadata.from_backup(tmp_path / "b.cbor")


@given(st.binary(max_size=80))
def test_any_bytes_parse_or_raise_backup_error_only(tail: bytes) -> None:
    for data in (tail, b"\x82\x9f" + tail):
        with contextlib.suppress(BackupError):
            parse_backup(data)
