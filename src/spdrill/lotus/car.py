"""Read the head of a Filecoin chain snapshot (CARv1 or CARv2, raw or zstd) without importing it.

As ``lotus daemon --import-snapshot`` does, compression is detected by magic bytes (zstd frame
``28 B5 2F FD``), not by file name. The CAR header's roots are the head tipset's block CIDs; a Lotus v2
snapshot has one root, a ``SnapshotMetadata`` block ``[2, [head cids], f3 cid|null]`` naming them. The
blocks are streamed until every head block is found; each is a DAG-CBOR BlockHeader, an array of 16
fields whose field 7 is the Height and field 12 the Timestamp.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import cbor2
import zstandard

from spdrill.errors import InputError

__all__ = ["SnapshotHead", "cid_to_str", "read_snapshot_head"]

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_MAX_SECTION = 64 << 20  # Filecoin blocks are far smaller; a longer section means a corrupt length
_MAX_HEADER = 1 << 20
_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_HASHES = {
    0xB220: lambda b: hashlib.blake2b(b, digest_size=32).digest(),
    0x12: lambda b: hashlib.sha256(b).digest(),
}


@dataclass(frozen=True, slots=True)
class SnapshotHead:
    """The head tipset a chain snapshot would import: its CIDs, height and (earliest) timestamp."""

    path: Path
    compressed: bool
    roots: tuple[str, ...]
    height: int
    timestamp: int
    blocks_scanned: int
    car_version: int = 1
    metadata_root: str | None = None


class _Cid(bytes):
    """Raw CID bytes from a DAG-CBOR tag 42 (the leading 0x00 multibase byte removed)."""


def cid_to_str(cid: bytes) -> str:
    """Render CID bytes as Lotus prints them: CIDv1, multibase base32 (``bafy…``)."""
    if len(cid) == 34 and cid[:2] == b"\x12\x20":
        cid = b"\x01\x70" + cid  # a CIDv0 is dag-pb sha256; print it as its CIDv1 equivalent
    bits = int.from_bytes(cid, "big")
    nbits = len(cid) * 8
    pad = (5 - nbits % 5) % 5
    bits <<= pad
    return "b" + "".join(_B32[(bits >> s) & 31] for s in range(nbits + pad - 5, -1, -5))


def _tag_hook(*args: Any) -> Any:
    # cbor2 5.x calls hook(decoder, tag), 6.x calls hook(tag, immutable); find the tag either way.
    tag = next(a for a in args if isinstance(a, cbor2.CBORTag))
    if tag.tag == 42 and isinstance(tag.value, bytes) and tag.value[:1] == b"\x00":
        return _Cid(tag.value[1:])
    return tag


class _Reader:
    """Counts offsets over a (possibly decompressing) stream and names the file in every error."""

    def __init__(self, fh: BinaryIO, name: str, compressed: bool) -> None:
        self.fh, self.name, self.offset, self.compressed = fh, name, 0, compressed

    def read(self, n: int, what: str, *, eof_ok: bool = False) -> bytes:
        parts, want = [], n
        while want:
            try:
                chunk = self.fh.read(min(want, 1 << 20))
            except zstandard.ZstdError as exc:
                raise InputError(
                    f"{self.name}: corrupt zstd stream near offset {self.offset} "
                    f"of the decompressed data ({exc})"
                ) from None
            if not chunk:
                if eof_ok and want == n:
                    return b""
                raise InputError(
                    f"{self.name}: truncated: the file ends inside {what} "
                    f"(decompressed offset {self.offset + n - want})"
                )
            parts.append(chunk)
            want -= len(chunk)
        self.offset += n
        return b"".join(parts)

    def varint(self, what: str, *, eof_ok: bool = False) -> int | None:
        value = shift = 0
        for i in range(10):
            b = self.read(1, what, eof_ok=eof_ok and i == 0)
            if not b:
                return None
            value |= (b[0] & 0x7F) << shift
            if not b[0] & 0x80:
                return value
            shift += 7
        raise InputError(f"{self.name}: offset {self.offset}: {what} is not a valid varint")


def _varint_at(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(pos, min(pos + 10, len(buf))):
        value |= (buf[i] & 0x7F) << shift
        if not buf[i] & 0x80:
            return value, i + 1
        shift += 7
    raise ValueError("bad varint")


def _cid_length(prefix: bytes) -> int:
    """Length of the CID at the start of ``prefix`` (a CIDv0 multihash or a CIDv1)."""
    if prefix[:2] == b"\x12\x20":
        return 34
    version, pos = _varint_at(prefix, 0)
    if version != 1:
        raise ValueError(f"CID version {version}")
    _codec, pos = _varint_at(prefix, pos)
    _code, pos = _varint_at(prefix, pos)
    size, pos = _varint_at(prefix, pos)
    return pos + size


def _multihash_ok(cid: bytes, data: bytes) -> bool:
    """Whether ``data`` hashes to the digest in ``cid`` (True for hash functions not checked here)."""
    pos = 0 if cid[:2] == b"\x12\x20" else _varint_at(cid, _varint_at(cid, 0)[1])[1]
    code, pos = _varint_at(cid, pos)
    size, pos = _varint_at(cid, pos)
    fn = _HASHES.get(code)
    return fn is None or fn(data)[:size] == cid[pos : pos + size]


def _loads(data: bytes, name: str, what: str) -> Any:
    try:
        return cbor2.loads(data, tag_hook=_tag_hook)
    except Exception as exc:  # cbor2 raises many types on garbage; all mean "not DAG-CBOR"
        raise InputError(f"{name}: {what} is not valid DAG-CBOR ({type(exc).__name__})") from None


def read_snapshot_head(path: str | os.PathLike[str]) -> SnapshotHead:
    """Find and decode the head tipset of a chain snapshot; InputError if the file is not one."""
    p = Path(path)
    try:
        raw = p.open("rb")
    except FileNotFoundError:
        raise InputError(f"{p}: no such chain snapshot; give a .car or .car.zst file") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot open the chain snapshot ({exc.strerror})") from None
    with raw:
        compressed = raw.read(4) == _ZSTD_MAGIC
        raw.seek(0)
        if compressed:
            with zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as stream:
                return _scan(p, _Reader(stream, str(p), True), compressed)
        return _scan(p, _Reader(raw, str(p), False), compressed)


def _read_header(r: _Reader) -> dict[str, Any]:
    length = r.varint("the CAR header length", eof_ok=True)
    if length is None:
        what = "the zstd stream decompresses to nothing (truncated?)" if r.compressed else "the file is empty"
        raise InputError(f"{r.name}: {what}; expected a CAR chain snapshot")
    if not 0 < length <= _MAX_HEADER:
        raise InputError(f"{r.name}: CAR header length {length} is implausible; not a CAR file?")
    header = _loads(r.read(length, "the CAR header"), r.name, "the CAR header")
    if not isinstance(header, dict) or header.get("version") not in (1, 2):
        raise InputError(f"{r.name}: the CAR header is not {{version: 1|2, roots: [...]}}; not a CAR file?")
    return header


def _scan(path: Path, r: _Reader, compressed: bool) -> SnapshotHead:
    header = _read_header(r)
    version = header["version"]
    if version == 2:
        # CARv2: a 40-byte header (characteristics, data offset, data size, index offset) precedes the CARv1.
        fixed = r.read(40, "the CARv2 header")
        data_offset = int.from_bytes(fixed[16:24], "little")
        if data_offset < r.offset:
            raise InputError(f"{r.name}: CARv2 data offset {data_offset} points inside its own header")
        r.read(data_offset - r.offset, "the gap before the CARv2 data")
        header = _read_header(r)
    roots = header.get("roots")
    if not isinstance(roots, list) or not roots or not all(isinstance(c, _Cid) for c in roots):
        raise InputError(f"{r.name}: the CAR header has no roots (expected the head tipset's block CIDs)")
    wanted: dict[bytes, Any] = {bytes(c): None for c in roots}
    metadata_root: str | None = None
    scanned = 0
    while any(v is None for v in wanted.values()):
        cid, data = _next_block(r, wanted)
        if cid is None:
            missing = ", ".join(cid_to_str(c) for c, v in wanted.items() if v is None)
            raise InputError(
                f"{r.name}: the head block(s) {missing} are not in the file "
                f"(scanned {scanned} blocks); truncated or not a chain snapshot"
            )
        scanned += 1
        if data is None:
            continue
        value = _loads(data, r.name, f"block {cid_to_str(cid)}")
        if len(wanted) == 1 and metadata_root is None and _is_metadata(value):
            metadata_root = cid_to_str(cid)
            wanted = {bytes(c): None for c in value[1]}
            continue
        wanted[cid] = _block_header(r.name, cid, value)
    heights = {h for h, _ in wanted.values()}
    if len(heights) != 1:
        raise InputError(f"{r.name}: the head blocks disagree on height ({sorted(heights)}); not one tipset")
    return SnapshotHead(
        path,
        compressed,
        tuple(cid_to_str(c) for c in wanted),
        heights.pop(),
        min(t for _, t in wanted.values()),
        scanned,
        version,
        metadata_root,
    )


def _is_metadata(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 3
        and value[0] == 2
        and isinstance(value[1], list)
        and bool(value[1])
        and all(isinstance(c, _Cid) for c in value[1])
    )


def _block_header(name: str, cid: bytes, value: Any) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 16:
        raise InputError(f"{name}: block {cid_to_str(cid)} is not a Filecoin BlockHeader (array of 16)")
    height, timestamp = value[7], value[12]
    if type(height) is not int or type(timestamp) is not int or height < 0 or timestamp < 0:
        raise InputError(
            f"{name}: block {cid_to_str(cid)}: Height and Timestamp must be non-negative integers"
        )
    return height, timestamp


def _next_block(r: _Reader, wanted: dict[bytes, Any]) -> tuple[bytes | None, bytes | None]:
    """Read one CAR section; returns (cid, data if wanted else None), (None, None) at end of file."""
    length = r.varint("a CAR section length", eof_ok=True)
    if length is None:
        return None, None
    if not 0 < length <= _MAX_SECTION:
        raise InputError(
            f"{r.name}: decompressed offset {r.offset}: CAR section length {length} "
            "is implausible; the file is corrupt"
        )
    prefix = r.read(min(length, 64), "a block CID")
    try:
        cid_len = _cid_length(prefix)
    except (ValueError, IndexError):
        raise InputError(
            f"{r.name}: decompressed offset {r.offset}: a CAR section does not start with a CID"
        ) from None
    if cid_len > length:
        raise InputError(f"{r.name}: decompressed offset {r.offset}: a CID is longer than its CAR section")
    rest = r.read(length - len(prefix), "a block")
    cid = prefix[:cid_len]
    if cid not in wanted:
        return cid, None
    data = prefix[cid_len:] + rest
    if not _multihash_ok(cid, data):
        raise InputError(f"{r.name}: block {cid_to_str(cid)} does not hash to its CID; the file is corrupt")
    return cid, data
