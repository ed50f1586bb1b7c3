"""CARv1 files (optionally zstd-compressed, detected by magic bytes as Lotus does): writer and reader."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

from lotus_sim.address import read_uvarint, uvarint
from lotus_sim.cbor import CID, FormatError, decode, encode

ZSTD_MAGIC_TAIL = b"\xb5\x2f\xfd"  # bytes 1..3 of a zstd frame (28 B5 2F FD)
_MAX_SECTION = 64 << 20  # far above any real block; guards against reading garbage lengths


@dataclass
class CarFile:
    """A CAR's roots and its blocks by CID, in file order."""

    roots: list[CID]
    blocks: dict[CID, bytes]


def is_zstd(head: bytes) -> bool:
    """True when bytes 1..3 are zstd's magic, the test Lotus applies to snapshot streams."""
    return head[1:4] == ZSTD_MAGIC_TAIL


def write_car(path: Path, roots: list[CID], blocks: Iterable[tuple[CID, bytes]], zstd: bool = False) -> None:
    """Write a CARv1 with ``roots`` and ``blocks``; zstd-compress it when asked."""
    out = io.BytesIO()
    header = encode({"roots": list(roots), "version": 1})
    out.write(uvarint(len(header)) + header)
    for cid, data in blocks:
        out.write(uvarint(len(cid.raw) + len(data)) + cid.raw + data)
    payload = out.getvalue()
    if zstd:
        payload = zstandard.ZstdCompressor(level=3).compress(payload)
    path.write_bytes(payload)


def open_car_stream(path: Path) -> BinaryIO:
    """Open a CAR file for reading, decompressing on the fly when it starts with zstd's magic."""
    raw = path.open("rb")
    head = raw.read(4)
    raw.seek(0)
    if is_zstd(head):
        return zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
    return raw


def _read_exact(stream: BinaryIO, size: int, what: str) -> bytes:
    chunks: list[bytes] = []
    need = size
    while need:
        try:
            chunk = stream.read(need)
        except zstandard.ZstdError as exc:
            raise FormatError(f"{what}: the zstd stream is corrupt ({exc})") from exc
        if not chunk:
            raise FormatError(f"{what}: the file ends early (truncated CAR)")
        chunks.append(chunk)
        need -= len(chunk)
    return b"".join(chunks)


def _read_varint(stream: BinaryIO, what: str) -> int | None:
    raw = bytearray()
    while True:
        try:
            byte = stream.read(1)
        except zstandard.ZstdError as exc:
            raise FormatError(f"{what}: the zstd stream is corrupt ({exc})") from exc
        if not byte:
            if raw:
                raise FormatError(f"{what}: the file ends inside a length prefix (truncated CAR)")
            return None
        raw += byte
        if not byte[0] & 0x80:
            return read_uvarint(bytes(raw))[0]
        if len(raw) > 9:
            raise FormatError(f"{what}: a section length prefix is overlong (not a CAR)")


def _split_cid(section: bytes) -> tuple[CID, bytes]:
    if section[:2] == b"\x12\x20":  # CIDv0: a bare sha2-256 multihash
        return CID(section[:34]), section[34:]
    _, pos = read_uvarint(section, 0)
    _, pos = read_uvarint(section, pos)
    _, pos = read_uvarint(section, pos)
    length, pos = read_uvarint(section, pos)
    if pos + length > len(section):
        raise FormatError("a block's CID runs past its section")
    return CID(section[: pos + length]), section[pos + length :]


def iter_car(stream: BinaryIO, name: str = "CAR") -> Iterator[tuple[list[CID], CID | None, bytes]]:
    """Yield (roots, None, b"") once, then (roots, cid, data) per block; FormatError on damage."""
    size = _read_varint(stream, name)
    if size is None or size == 0 or size > _MAX_SECTION:
        raise FormatError(f"{name}: no CAR header (empty file or not a CAR)")
    header = decode(_read_exact(stream, size, name))
    if not (isinstance(header, dict) and header.get("version") == 1 and isinstance(header.get("roots"), list)):
        raise FormatError(f"{name}: expected a CARv1 header {{roots, version: 1}}, got {header!r:.80}")
    roots = [r for r in header["roots"] if isinstance(r, CID)]
    yield roots, None, b""
    while True:
        size = _read_varint(stream, name)
        if size is None:
            return
        if size > _MAX_SECTION:
            raise FormatError(f"{name}: section of {size} bytes is implausible (corrupt CAR)")
        try:
            cid, data = _split_cid(_read_exact(stream, size, name))
        except ValueError as exc:
            raise FormatError(f"{name}: {exc}") from exc
        yield roots, cid, data


def read_car(path: Path) -> CarFile:
    """Read a whole CAR file (raw or zstd) into memory."""
    if not path.is_file():
        raise FormatError(f"{path}: no such file; expected a chain snapshot (.car or .car.zst)")
    blocks: dict[CID, bytes] = {}
    roots: list[CID] = []
    with open_car_stream(path) as stream:
        for found_roots, cid, data in iter_car(stream, str(path)):
            roots = found_roots
            if cid is not None:
                blocks[cid] = data
    return CarFile(roots, blocks)
