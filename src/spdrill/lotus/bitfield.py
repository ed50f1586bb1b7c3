"""Filecoin bitfields (go-bitfield RLE+): the JSON run-length form and the binary RLE+ bytes.

A bitfield is kept as its run lengths, zero-run first (the JSON form Lotus prints): ``[0, 3, 5, 2]`` is
the set {0, 1, 2, 8, 9}. That keeps a million-sector partition in a few numbers and lets decoding work
a run at a time instead of a bit at a time.

Binary RLE+ (go-bitfield ``rle/rleplus_reader.go``), bits read least-significant first from each byte:
two version bits ``00``, one bit for the value of the first run, then runs of alternating value, each
``1`` (length 1), ``01`` + 4 bits (length 2..15) or ``00`` + an unsigned LEB128 varint (length >= 16).
A run of length 0 ends the stream; bits past the last byte read as zero, so the zero padding ends it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate, chain

from spdrill.errors import InputError

__all__ = ["Bitfield", "decode_json", "decode_rle", "encode_json", "encode_rle"]

_MAX_BITS = 1 << 64  # go-bitfield refuses fields whose runs add up past uint64
_ONES = [[1] * n for n in range(65)]  # a streak of n one-bit codes is n runs of length 1
_MASK64 = (1 << 64) - 1
_FF_RUN = re.compile(rb"\xff*")  # always matches, possibly empty


class Bitfield:
    """An immutable set of non-negative integers stored as run lengths (zero-run first)."""

    __slots__ = ("_runs", "_ends")

    def __init__(self, runs: Sequence[int] = ()) -> None:
        # Canonical form: no zero-length runs except runs[0], no trailing zero-run; callers validate.
        self._runs: tuple[int, ...] = tuple(runs)
        self._ends: list[int] | None = None

    @classmethod
    def from_iterable(cls, values: Iterable[int]) -> Bitfield:
        """Build a bitfield from set members in any order (duplicates are fine)."""
        runs: list[int] = []
        prev = -1  # last member seen; a gap before the next member closes the current one-run
        start = 0
        for v in sorted(set(values)):
            if type(v) is not int or v < 0 or v >= _MAX_BITS:
                raise InputError(f"bitfield member {v!r}: expected an integer in 0..2**64-1")
            if v != prev + 1 or prev < 0:
                if prev >= 0:
                    runs.append(prev + 1 - start)
                runs.append(v - (prev + 1))
                start = v
            prev = v
        if prev >= 0:
            runs.append(prev + 1 - start)
        return cls(runs)

    def runs(self) -> list[int]:
        """The JSON run-length form Lotus prints: zero-run first, ``[0]`` when empty."""
        return list(self._runs) if self._runs else [0]

    def _cumulative(self) -> list[int]:
        if self._ends is None:
            self._ends = list(accumulate(self._runs))
        return self._ends

    def __len__(self) -> int:
        return sum(self._runs[1::2])

    def __bool__(self) -> bool:
        return len(self._runs) > 1

    def __iter__(self) -> Iterator[int]:
        ends = self._cumulative()
        # map(range, ...) and chain run in C: no Python frame per member or per run
        return chain.from_iterable(map(range, ends[0::2], ends[1::2]))

    def __contains__(self, value: object) -> bool:
        if type(value) is not int or value < 0:
            return False
        index = bisect_right(self._cumulative(), value)
        return index < len(self._runs) and index % 2 == 1

    def to_list(self) -> list[int]:
        """All members, ascending."""
        if self and max(self._runs[1::2]) == 1:
            return self._cumulative()[0::2][: len(self._runs) // 2]  # every one-run is one member
        return list(iter(self))

    def max(self) -> int | None:
        """The largest member, or None when empty."""
        return sum(self._runs) - 1 if self else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bitfield) and self._runs == other._runs

    def __hash__(self) -> int:
        return hash(self._runs)

    def __repr__(self) -> str:
        if len(self._runs) <= 8:
            return f"Bitfield({self.runs()!r})"
        return f"Bitfield(<{len(self)} set in {len(self._runs)} runs, max {self.max()}>)"


def decode_json(value: object, *, what: str = "bitfield") -> Bitfield:
    """Decode the JSON run-length list (``[0, 3, 5, 2]``; ``[0]`` or ``[]`` is empty)."""
    if not isinstance(value, list):
        raise InputError(f"{what}: expected a JSON list of run lengths, got {type(value).__name__}")
    if not value:
        return Bitfield()
    # Checked in bulk (C loops) so a million-run field stays cheap.
    if set(map(type, value)) != {int}:
        bad = next(v for v in value if type(v) is not int)
        raise InputError(f"{what}: run lengths must be integers, found {bad!r}")
    if min(value) < 0:
        raise InputError(f"{what}: run lengths must be >= 0, found {min(value)}")
    if len(value) > 1 and min(value[1:]) == 0:
        at = value.index(0, 1)
        raise InputError(f"{what}: run {at} has length 0; only the first run may be empty")
    if sum(value) >= _MAX_BITS:
        raise InputError(f"{what}: runs add up past 2**64 bits")
    runs = value if len(value) % 2 == 0 else value[:-1]  # a trailing zero-run adds no member
    return Bitfield(runs if len(runs) > 1 else ())


def encode_json(field: Bitfield) -> list[int]:
    """Encode to the JSON run-length list Lotus accepts."""
    return field.runs()


def _window(buf: bytes, pos: int) -> int:
    """At least 64 bits of the stream from bit ``pos``, zeros past the end."""
    byte = pos >> 3
    return int.from_bytes(buf[byte : byte + 9], "little") >> (pos & 7)


def decode_rle(data: bytes, *, what: str = "bitfield") -> Bitfield:
    """Decode binary RLE+ bytes, validated as go-bitfield does; garbage raises InputError."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InputError(f"{what}: expected RLE+ bytes, got {type(data).__name__}")
    buf = bytes(data)
    if not buf:
        return Bitfield()
    if buf[-1] == 0:
        raise InputError(f"{what}: RLE+ ends in a zero byte (not minimally encoded)")
    head = buf[0]
    if head & 3:
        raise InputError(f"{what}: RLE+ version bits are {head & 3}, expected 0")
    runs: list[int] = [0] if head & 4 else []
    total_bits = len(buf) * 8
    pos = 3
    while True:
        w = _window(buf, pos)
        if w & 1:
            # A streak of t one-bit codes: t runs of length 1 in one step (dense alternating fields).
            t = min(((w ^ (w + 1)).bit_length() - 1), 64)
            if t == 64:
                # A long streak: skip whole 0xff bytes in C (bits up to the next byte boundary are ones).
                end = _FF_RUN.match(buf, (pos >> 3) + 1).end()  # type: ignore[union-attr]
                t = (end << 3) - pos
                runs += [1] * t
            else:
                runs += _ONES[t]
            pos += t
        elif w & 3 == 2:
            length = (w >> 2) & 15
            pos += 6
            if length == 0:
                break
            runs.append(length)
        else:
            pos += 2
            length, used = _varint(buf, pos, what)
            pos += used
            if length == 0:
                break
            runs.append(length)
    if pos < total_bits and int.from_bytes(buf, "little") >> pos:
        raise InputError(f"{what}: RLE+ has data after its end marker at bit {pos}")
    if len(runs) % 2 == 1:
        runs.pop()  # a trailing zero-run adds no member
    if sum(runs) >= _MAX_BITS:
        raise InputError(f"{what}: RLE+ runs add up past 2**64 bits")
    return Bitfield(runs if len(runs) > 1 else ())


def _varint(buf: bytes, pos: int, what: str) -> tuple[int, int]:
    """Read an unsigned LEB128 varint at bit ``pos``; returns (value, bits used)."""
    value = 0
    shift = 0
    for i in range(10):
        b = _window(buf, pos + 8 * i) & 0xFF
        if b < 0x80:
            if i == 9 and b > 1:
                raise InputError(f"{what}: RLE+ run length at bit {pos} overflows 64 bits")
            if b == 0 and shift > 0:
                raise InputError(f"{what}: RLE+ run length at bit {pos} is truncated or not minimal")
            return value | (b << shift), 8 * (i + 1)
        value |= (b & 0x7F) << shift
        shift += 7
    raise InputError(f"{what}: RLE+ run length at bit {pos} is longer than 10 bytes")


def encode_rle(field: Bitfield) -> bytes:
    """Encode to binary RLE+ as go-bitfield does, without trailing zero bytes."""
    runs = field.runs()
    if runs == [0]:
        return b""
    if runs[0] == 0:
        runs = runs[1:]
        acc, nbits = 0b100, 3  # version 00, first run is ones
    else:
        acc, nbits = 0, 3
    out = bytearray()
    for length in runs:
        if length == 1:
            acc |= 1 << nbits
            nbits += 1
        elif length < 16:
            acc |= (0b10 | (length << 2)) << nbits
            nbits += 6
        else:
            acc |= _leb128(length) << (nbits + 2)
            nbits += 2 + 8 * ((length.bit_length() + 6) // 7)
        if nbits >= 64:
            out += (acc & _MASK64).to_bytes(8, "little")
            acc >>= 64
            nbits -= 64
    out += acc.to_bytes((nbits + 7) // 8, "little")
    return bytes(out).rstrip(b"\0")


def _leb128(value: int) -> int:
    """The LEB128 bytes of ``value`` packed little-endian into one integer."""
    packed = 0
    shift = 0
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            packed |= (byte | 0x80) << shift
            shift += 8
        else:
            return packed | (byte << shift)
