"""lotus-miner metadata backups (``82 9f {[key, value]}* ff 58 20 <sha256>``): writer and strict reader."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from lotus_sim.cbor import FormatError, head

_PAIR = b"\x82"
_CHECKSUM_HEAD = b"\x58\x20"


class BackupError(FormatError):
    """A metadata backup is damaged: bad layout, checksum mismatch, or bytes after the checksum."""


def encode_backup(pairs: Iterable[tuple[bytes, bytes]]) -> bytes:
    """Serialise datastore pairs exactly as Lotus's ``backupds`` does, with the SHA-256 trailer."""
    body = bytearray(b"\x9f")
    for key, value in pairs:
        body += _PAIR + head(2, len(key)) + key + head(2, len(value)) + value
    body += b"\xff"
    return b"\x82" + bytes(body) + _CHECKSUM_HEAD + hashlib.sha256(body).digest()


def write_backup(path: Path, pairs: Iterable[tuple[bytes, bytes]]) -> None:
    """Write a backup; an existing file is refused, as ``lotus-miner backup`` refuses it."""
    data = encode_backup(pairs)
    try:
        with path.open("xb") as out:
            out.write(data)
    except FileExistsError as exc:
        raise FileExistsError(
            f"backup file {path} already exists; overwriting it would corrupt it. Choose a new file name"
        ) from exc


def _bstr(data: bytes, pos: int, name: str, what: str) -> tuple[bytes, int]:
    if pos >= len(data):
        raise BackupError(f"{name}: the file ends inside an entry's {what} (truncated backup)")
    initial = data[pos]
    if initial >> 5 != 2 or initial & 0x1F > 27:
        raise BackupError(f"{name}: byte {pos}: expected a CBOR byte string for an entry's {what}")
    info, pos = initial & 0x1F, pos + 1
    size = info
    if info >= 24:
        width = 1 << (info - 24)
        size, pos = int.from_bytes(data[pos : pos + width], "big"), pos + width
    if pos + size > len(data):
        raise BackupError(f"{name}: the file ends inside an entry's {what} (truncated backup)")
    return data[pos : pos + size], pos + size


def parse_backup(data: bytes, name: str = "backup") -> list[tuple[bytes, bytes]]:
    """Verify and decode a backup's bytes; BackupError says what is wrong and where."""
    if data[:2] != b"\x82\x9f":
        found = data[:2].hex() or "nothing"
        raise BackupError(f"{name}: expected a lotus-miner backup starting 82 9f, found {found}")
    pairs: list[tuple[bytes, bytes]] = []
    pos = 2
    while True:
        if pos >= len(data):
            raise BackupError(f"{name}: the entry list has no end marker 0xff (truncated backup)")
        if data[pos] == 0xFF:
            break
        if data[pos] != 0x82:
            raise BackupError(f"{name}: byte {pos}: expected an entry [key, value] (82), found {data[pos]:02x}")
        key, pos = _bstr(data, pos + 1, name, "key")
        value, pos = _bstr(data, pos, name, "value")
        pairs.append((key, value))
    body_end = pos + 1
    if data[body_end : body_end + 2] != _CHECKSUM_HEAD or len(data) < body_end + 34:
        raise BackupError(f"{name}: the SHA-256 trailer (58 20 + 32 bytes) is missing or short")
    if hashlib.sha256(data[1:body_end]).digest() != data[body_end + 2 : body_end + 34]:
        raise BackupError(f"{name}: SHA-256 checksum mismatch: the backup is corrupt; use another backup")
    if len(data) != body_end + 34:
        raise BackupError(f"{name}: {len(data) - body_end - 34} bytes after the checksum; a backup file must end there")
    return pairs


def read_backup(path: Path) -> list[tuple[bytes, bytes]]:
    """Read and verify a backup file."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file; expected a lotus-miner metadata backup")
    return parse_backup(path.read_bytes(), str(path))
