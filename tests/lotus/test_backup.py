"""lotus-miner metadata backups: verified as Lotus's ReadBackup does, streamed; garbage is an InputError."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spdrill.errors import InputError
from spdrill.lotus.backup import CborStream, check_backup, decode_address, read_backup

MINER = (b"/miner-address", bytes([0x00, 0xE8, 0x07]))  # ID address 1000, varint 0xe8 0x07


def make_backup(entries: list[tuple[bytes, bytes]], body: bytes | None = None) -> bytes:
    """The layout of lib/backupds: 0x82, 0x9f [k, v]... 0xff, 0x58 0x20 sha256(0x9f..0xff)."""
    if body is None:
        body = b"\x9f" + b"".join(cbor2.dumps([k, v]) for k, v in entries) + b"\xff"
    return b"\x82" + body + b"\x58\x20" + hashlib.sha256(body).digest()


def write(tmp_path: Path, data: bytes, name: str = "backup.cbor") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_valid_backup(tmp_path: Path) -> None:
    entries = [
        MINER,
        (b"/sectors/1", b"\xa1" * 100),
        (b"/sectors/2", b""),
        (b"/storage/sectorsids/allocated", b"x"),
    ]
    path = write(tmp_path, make_backup(entries))
    info = read_backup(path)
    assert (info.keys, info.sector_keys, info.miner_address, info.sha256_ok) == (4, 2, "f01000", True)
    assert info.key_bytes == sum(len(k) for k, _ in entries)
    assert info.value_bytes == sum(len(v) for _, v in entries)
    assert info.size == path.stat().st_size
    check = check_backup(path)
    assert check.ok and "4 entries, miner f01000" in check.reason


def test_large_values_stream_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CborStream, "CHUNK", 7)  # every field straddles a chunk boundary
    entries = [(b"/sectors/%d" % i, bytes([i]) * (i * 37)) for i in range(30)] + [MINER]
    info = read_backup(write(tmp_path, make_backup(entries)))
    assert info.sha256_ok and info.keys == 31 and info.miner_address == "f01000"


def test_indefinite_entry_and_chunked_byte_strings(tmp_path: Path) -> None:
    body = b"\x9f" + b"\x9f" + b"\x4e/miner-address" + b"\x5f\x41\x00\x42\xe8\x07\xff" + b"\xff" + b"\xff"
    info = read_backup(write(tmp_path, make_backup([], body)))
    assert info.miner_address == "f01000" and info.value_bytes == 3 and info.sha256_ok


def test_bad_checksum(tmp_path: Path) -> None:
    data = bytearray(make_backup([MINER, (b"/a", b"b")]))
    data[-1] ^= 0x01
    path = write(tmp_path, bytes(data))
    assert read_backup(path).sha256_ok is False
    check = check_backup(path)
    assert not check.ok and "SHA-256" in check.reason and check.info is not None


def test_flipped_entry_byte_breaks_the_checksum(tmp_path: Path) -> None:
    data = bytearray(make_backup([MINER, (b"/a", b"value")]))
    data[-36] ^= 0x20  # inside the last value: still well formed, no longer what was hashed
    assert not check_backup(write(tmp_path, bytes(data))).ok


def test_trailing_bytes_name_the_offset(tmp_path: Path) -> None:
    data = make_backup([MINER])
    with pytest.raises(InputError, match=f"offset {len(data)}: unexpected trailing bytes"):
        read_backup(write(tmp_path, data + b"\x82\x41a\x41b"))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "the file is empty"),
        (b"\x83\x9f\xff", "offset 0: expected 0x82"),
        (b"\x82\x80", "offset 1: expected 0x9f"),
        (b"\x82", "offset 1: expected 0x9f .* found end of file"),
        (
            b"\x82\x9f\x82\x63abc\x41v\xff",
            "offset 3: expected entry key as a CBOR byte string, found major type 3",
        ),
        (b"\x82\x9f\x83\x41a\x41b\x41c\xff", "entry is an array of 3"),
        (b"\x82\x9f\x41a\xff", "expected an entry"),
        (b"\x82\x9f\x82\x41k\x5f\x9f\xff\xff\xff", "chunk of entry value must be a definite byte string"),
        (b"\x82\x9f\x82\x41k\x5c\xff", "malformed CBOR head 0x5c"),
        (b"\x82\x9f\xff\x58\x10" + bytes(16), "expected 0x58 0x20"),
    ],
)
def test_malformed_backups(tmp_path: Path, data: bytes, match: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(InputError, match=match):
        read_backup(path)
    check = check_backup(path)
    assert not check.ok and check.info is None


def test_every_truncation_is_rejected(tmp_path: Path) -> None:
    data = make_backup([MINER, (b"/sectors/1", b"v" * 300)])
    for cut in range(len(data)):
        path = write(tmp_path, data[:cut])
        with pytest.raises(InputError):
            read_backup(path)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(
        InputError, match="no such backup file; give the path written by `lotus-miner backup`"
    ):
        read_backup(tmp_path / "nope")
    with pytest.raises(InputError, match="no such backup file"):
        check_backup(tmp_path / "nope")


def test_backup_without_miner_address_is_not_ok(tmp_path: Path) -> None:
    check = check_backup(write(tmp_path, make_backup([(b"/a", b"b")])))
    assert not check.ok and "no /miner-address" in check.reason


def test_decode_address() -> None:
    assert decode_address(bytes([0, 0])) == "f00"
    assert decode_address(bytes([0, 0xE8, 0x07])) == "f01000"
    assert decode_address(bytes([0, 0xE8, 0x07]), "t") == "t01000"
    assert decode_address(bytes([0, 0x80])) is None  # varint runs off the end
    assert decode_address(b"") is None and decode_address(bytes([9, 1])) is None
    secp = decode_address(bytes([1]) + bytes(range(20)))
    assert secp is not None and secp.startswith("f1") and len(secp) == 41


@given(st.binary(max_size=200))
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_bytes_only_raise_input_error(tmp_path: Path, data: bytes) -> None:
    with contextlib.suppress(InputError):
        read_backup(write(tmp_path, b"\x82\x9f" + data, "fuzz.cbor"))


@given(
    st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=40)), max_size=8),
    st.integers(min_value=0),
    st.integers(min_value=0, max_value=255),
)
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_mutated_backups_only_raise_input_error(
    tmp_path: Path, entries: list[tuple[bytes, bytes]], where: int, byte: int
) -> None:
    data = bytearray(make_backup(entries))
    data[where % len(data)] = byte
    path = write(tmp_path, bytes(data), "mutated.cbor")
    try:
        info = read_backup(path)
    except InputError:
        return
    assert info.keys >= 0 and isinstance(check_backup(path).ok, bool)
