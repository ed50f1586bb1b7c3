"""A minimal DAG-CBOR encoder and decoder, with CIDs as tag 42, for snapshots and backups."""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

from lotus_sim.address import read_uvarint, uvarint

DAG_CBOR = 0x71
RAW = 0x55
BLAKE2B_256 = 0xB220

Value = object  # None | bool | int | float | bytes | str | list | dict | CID


class FormatError(ValueError):
    """A file or block is not in the format the stand-in (or Lotus) expects."""


@dataclass(frozen=True)
class CID:
    """A content identifier in its binary form (CIDv1, or CIDv0 when it starts with 0x12 0x20)."""

    raw: bytes

    @classmethod
    def v1(cls, codec: int, mh_code: int, digest: bytes) -> CID:
        """Build a CIDv1 from codec, multihash code and digest."""
        return cls(b"\x01" + uvarint(codec) + uvarint(mh_code) + uvarint(len(digest)) + digest)

    @classmethod
    def parse(cls, text: str) -> CID:
        """Parse the base32 (``b…``) string form."""
        if not text.startswith("b"):
            raise FormatError(f"CID {text!r}: only base32 CIDv1 strings (starting with 'b') are supported")
        body = text[1:].upper()
        return cls(base64.b32decode(body + "=" * (-len(body) % 8)))

    @property
    def codec(self) -> int:
        """The multicodec of the linked data (0x71 dag-cbor)."""
        if self.raw[:2] == b"\x12\x20":
            return 0x70
        _, pos = read_uvarint(self.raw, 0)
        return read_uvarint(self.raw, pos)[0]

    def __str__(self) -> str:
        return "b" + base64.b32encode(self.raw).decode("ascii").lower().rstrip("=")


def block_cid(data: bytes, codec: int = DAG_CBOR) -> CID:
    """The CID Lotus gives a block: CIDv1, blake2b-256 multihash."""
    return CID.v1(codec, BLAKE2B_256, hashlib.blake2b(data, digest_size=32).digest())


def head(major: int, value: int) -> bytes:
    """The CBOR head (major type + argument) for ``value``."""
    if value < 24:
        return bytes([major << 5 | value])
    if value < 0x100:
        return bytes([major << 5 | 24, value])
    if value < 0x10000:
        return bytes([major << 5 | 25]) + value.to_bytes(2, "big")
    if value < 0x100000000:
        return bytes([major << 5 | 26]) + value.to_bytes(4, "big")
    if value < 1 << 64:
        return bytes([major << 5 | 27]) + value.to_bytes(8, "big")
    raise ValueError(f"integer {value} does not fit CBOR's 64-bit heads")


def _key_order(item: tuple[str, object]) -> tuple[int, bytes]:
    raw = item[0].encode()
    return len(raw), raw  # DAG-CBOR's canonical map order: shorter keys first, then bytewise


def encode(value: Value) -> bytes:
    """Encode one value as DAG-CBOR (canonical map key order, tag 42 for CIDs)."""
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def _encode(value: Value, out: bytearray) -> None:
    if value is None:
        out.append(0xF6)
    elif value is True or value is False:
        out.append(0xF5 if value else 0xF4)
    elif isinstance(value, int):
        out += head(0, value) if value >= 0 else head(1, -1 - value)
    elif isinstance(value, float):
        out += b"\xfb" + struct.pack(">d", value)
    elif isinstance(value, bytes | bytearray | memoryview):
        out += head(2, len(value)) + bytes(value)
    elif isinstance(value, str):
        raw = value.encode()
        out += head(3, len(raw)) + raw
    elif isinstance(value, list | tuple):
        out += head(4, len(value))
        for item in value:
            _encode(item, out)
    elif isinstance(value, dict):
        out += head(5, len(value))
        for key, item in sorted(value.items(), key=_key_order):
            if not isinstance(key, str):
                raise TypeError(f"DAG-CBOR map keys must be strings, got {type(key).__name__}")
            _encode(key, out)
            _encode(item, out)
    elif isinstance(value, CID):
        out += b"\xd8\x2a" + head(2, len(value.raw) + 1) + b"\x00" + value.raw
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as DAG-CBOR")


def decode(data: bytes) -> Value:
    """Decode exactly one value; trailing bytes are an error."""
    value, end = decode_at(data, 0)
    if end != len(data):
        raise FormatError(f"{len(data) - end} trailing bytes after the CBOR value")
    return value


_BREAK = object()


def decode_at(data: bytes, pos: int) -> tuple[Value, int]:
    """Decode one value starting at ``pos``; returns (value, end position)."""
    try:
        value, end = _decode(data, pos)
    except (IndexError, struct.error) as exc:
        raise FormatError(f"CBOR data ends early (value at offset {pos} is truncated)") from exc
    except UnicodeDecodeError as exc:
        raise FormatError(f"CBOR text string near offset {pos} is not UTF-8") from exc
    except TypeError as exc:  # a map key that Python cannot hash (an array or map)
        raise FormatError(f"CBOR map near offset {pos} has an array or map as a key") from exc
    except RecursionError as exc:
        raise FormatError(f"CBOR value at offset {pos} is nested too deeply") from exc
    if value is _BREAK:
        raise FormatError(f"unexpected CBOR break at offset {pos}")
    return value, end


def _arg(data: bytes, pos: int, info: int) -> tuple[int, int]:
    if info < 24:
        return info, pos
    if info > 27:
        raise FormatError(f"unsupported CBOR additional info {info} at offset {pos - 1}")
    width = 1 << (info - 24)
    if pos + width > len(data):
        raise IndexError
    return int.from_bytes(data[pos : pos + width], "big"), pos + width


def _decode(data: bytes, pos: int) -> tuple[Value, int]:
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if initial == 0xFF:
        return _BREAK, pos
    if info == 31 and major in (2, 3, 4, 5):
        return _indefinite(data, pos, major)
    if major == 7:
        return _simple(data, pos, info)
    arg, pos = _arg(data, pos, info)
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - arg, pos
    if major in (2, 3):
        if pos + arg > len(data):
            raise IndexError
        chunk = bytes(data[pos : pos + arg])
        return (chunk if major == 2 else chunk.decode()), pos + arg
    if major == 4:
        items = []
        for _ in range(arg):
            item, pos = decode_at(data, pos)
            items.append(item)
        return items, pos
    if major == 5:
        mapping: dict[object, Value] = {}
        for _ in range(arg):
            key, pos = decode_at(data, pos)
            mapping[key], pos = decode_at(data, pos)
        return mapping, pos
    inner, pos = decode_at(data, pos)  # major 6: tag
    if arg == 42:
        if not isinstance(inner, bytes) or not inner.startswith(b"\x00"):
            raise FormatError(f"tag 42 at offset {pos} does not hold a 0x00-prefixed CID byte string")
        return CID(inner[1:]), pos
    return inner, pos


def _indefinite(data: bytes, pos: int, major: int) -> tuple[Value, int]:
    items: list[Value] = []
    while True:
        item, pos = _decode(data, pos)
        if item is _BREAK:
            break
        items.append(item)
    if major == 2:
        return b"".join(i for i in items if isinstance(i, bytes)), pos
    if major == 3:
        return "".join(i for i in items if isinstance(i, str)), pos
    if major == 4:
        return items, pos
    return dict(zip(items[::2], items[1::2], strict=False)), pos


def _simple(data: bytes, pos: int, info: int) -> tuple[Value, int]:
    if info == 20:
        return False, pos
    if info == 21:
        return True, pos
    if info in (22, 23):
        return None, pos
    if info == 25:
        return struct.unpack(">e", data[pos : pos + 2])[0], pos + 2
    if info == 26:
        return struct.unpack(">f", data[pos : pos + 4])[0], pos + 4
    if info == 27:
        return struct.unpack(">d", data[pos : pos + 8])[0], pos + 8
    raise FormatError(f"unsupported CBOR simple value {info} at offset {pos - 1}")
