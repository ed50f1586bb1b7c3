"""Read and verify a lotus-miner metadata backup (``lotus-miner backup``) without loading it into memory.

Layout (Lotus ``lib/backupds``): ``0x82`` (CBOR array of 2), then an indefinite array ``0x9f`` of
``[key bytes, value bytes]`` pairs closed by ``0xff``, then ``0x58 0x20`` and the SHA-256 of the bytes
from ``0x9f`` through ``0xff`` inclusive. The file is read in 1 MiB chunks and hashed chunk by chunk, so
a backup of many GB needs no more memory than one chunk. Anything else is an InputError naming the byte
offset; this reader never raises anything else on garbage.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from hashlib import _Hash

from spdrill.errors import InputError

__all__ = ["BackupCheck", "BackupInfo", "check_backup", "decode_address", "read_backup"]

_MAX_KEY = 64 * 1024  # datastore keys are short paths; longer ones are counted but not kept
_MINER_ADDRESS_KEY = b"/miner-address"
_SECTOR_PREFIX = b"/sectors/"
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """What a metadata backup holds, and whether its SHA-256 trailer matches."""

    path: Path
    size: int
    keys: int
    key_bytes: int
    value_bytes: int
    sha256_ok: bool
    miner_address: str | None
    sector_keys: int
    sha256: str


@dataclass(frozen=True, slots=True)
class BackupCheck:
    """The verdict on a backup file: ok, a reason a person can act on, and what was read."""

    ok: bool
    reason: str
    info: BackupInfo | None


def read_backup(path: str | os.PathLike[str]) -> BackupInfo:
    """Walk a metadata backup, count its entries and verify its checksum; InputError if malformed."""
    p = Path(path)
    try:
        fh = p.open("rb")
    except FileNotFoundError:
        raise InputError(f"{p}: no such backup file; give the path written by `lotus-miner backup`") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot open the backup ({exc.strerror}); check its permissions") from None
    with fh:
        return _walk(p, fh)


def check_backup(path: str | os.PathLike[str]) -> BackupCheck:
    """Verify a backup: ok with a summary, or not ok with the reason; InputError if it is missing."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such backup file; give the path written by `lotus-miner backup`")
    try:
        info = read_backup(p)
    except InputError as exc:
        return BackupCheck(False, str(exc), None)
    if not info.sha256_ok:
        return BackupCheck(
            False, f"{p}: SHA-256 trailer does not match the entries (corrupt or altered)", info
        )
    if info.miner_address is None:
        return BackupCheck(False, f"{p}: checksum ok but no /miner-address entry; not a miner backup?", info)
    return BackupCheck(True, f"{p}: {info.keys} entries, miner {info.miner_address}, checksum ok", info)


def _walk(path: Path, fh: BinaryIO) -> BackupInfo:
    s = CborStream(fh, str(path))
    first = s.peek_byte()
    if first is None:
        raise InputError(f"{path}: the file is empty; expected a lotus-miner backup (starts with 0x82)")
    if first != 0x82:
        raise InputError(
            f"{path}: offset 0: expected 0x82 (CBOR array of 2) of a lotus-miner backup, found 0x{first:02x}"
        )
    s.skip(1)
    if s.peek_byte() != 0x9F:
        raise InputError(
            f"{path}: offset 1: expected 0x9f (indefinite array of entries), found {_shown(s.peek_byte())}"
        )
    hasher = hashlib.sha256()
    s.start_hash(hasher)
    s.skip(1)
    keys = key_bytes = value_bytes = sector_keys = 0
    miner: bytes | None = None
    while True:
        if s.peek_byte() == 0xFF:
            s.skip(1)
            break
        at = s.offset
        count = s.array_header("an entry [key, value]")
        if count is not None and count != 2:
            raise InputError(f"{path}: offset {at}: entry is an array of {count}, expected [key, value]")
        key, klen = s.byte_string("entry key", keep=_MAX_KEY)
        wanted = _MAX_KEY if key == _MINER_ADDRESS_KEY else 0
        value, vlen = s.byte_string("entry value", keep=wanted)
        if count is None:
            s.expect_break("end of an indefinite [key, value] entry")
        keys += 1
        key_bytes += klen
        value_bytes += vlen
        if key is not None and key.startswith(_SECTOR_PREFIX):
            sector_keys += 1
        if key == _MINER_ADDRESS_KEY:
            miner = value
    s.stop_hash()
    at = s.offset
    if s.read_exact(2, "the checksum header 0x58 0x20") != b"\x58\x20":
        raise InputError(f"{path}: offset {at}: expected 0x58 0x20 (32-byte SHA-256) after the entries")
    digest = s.read_exact(32, "the 32-byte SHA-256 checksum")
    if s.peek_byte() is not None:
        raise InputError(
            f"{path}: offset {s.offset}: unexpected trailing bytes after the checksum "
            f"(file size {path.stat().st_size}); a backup written twice to one path?"
        )
    return BackupInfo(
        path,
        s.offset,
        keys,
        key_bytes,
        value_bytes,
        digest == hasher.digest(),
        decode_address(miner) if miner is not None else None,
        sector_keys,
        digest.hex(),
    )


class CborStream:
    """A minimal streaming CBOR reader over a binary file: heads, byte strings, breaks, with offsets.

    Bytes are pulled in 1 MiB chunks; while hashing is on, each consumed span is fed to the hasher
    once, chunk by chunk, so large values are hashed without being kept.
    """

    CHUNK = 1 << 20

    def __init__(self, fh: BinaryIO, name: str) -> None:
        self._fh = fh
        self._name = name
        self._buf = b""
        self._pos = 0
        self._base = 0  # file offset of _buf[0]
        self._hasher: _Hash | None = None
        self._hash_from = 0

    @property
    def offset(self) -> int:
        """File offset of the next unread byte."""
        return self._base + self._pos

    def start_hash(self, hasher: _Hash) -> None:
        """Feed every byte consumed from now on to ``hasher``."""
        self._hasher, self._hash_from = hasher, self._pos

    def stop_hash(self) -> None:
        """Stop hashing after the bytes consumed so far."""
        if self._hasher is not None:
            self._hasher.update(self._buf[self._hash_from : self._pos])
        self._hasher = None

    def _fill(self) -> bool:
        if self._hasher is not None:
            self._hasher.update(self._buf[self._hash_from : self._pos])
        self._base += self._pos
        self._buf = self._buf[self._pos :] + self._fh.read(self.CHUNK)
        self._pos = self._hash_from = 0
        return len(self._buf) > 0

    def peek_byte(self) -> int | None:
        """The next byte without consuming it; None at end of file."""
        if self._pos >= len(self._buf) and not self._fill():
            return None
        return self._buf[self._pos]

    def read_exact(self, n: int, what: str) -> bytes:
        """Consume exactly ``n`` bytes (n is small) or fail naming ``what``."""
        while len(self._buf) - self._pos < n:
            have = len(self._buf) - self._pos
            if not self._fill() or len(self._buf) == have:
                raise InputError(
                    f"{self._name}: truncated at offset {self.offset + len(self._buf) - self._pos}: "
                    f"file ends inside {what}"
                )
        out = self._buf[self._pos : self._pos + n]
        self._pos += n
        return out

    def skip(self, n: int, what: str = "data", keep: int = 0) -> bytes | None:
        """Consume ``n`` bytes of ``what`` a chunk at a time; return them if ``n <= keep``."""
        kept: list[bytes] | None = [] if n <= keep else None
        while n > 0:
            if self._pos >= len(self._buf) and not self._fill():
                raise InputError(f"{self._name}: truncated at offset {self.offset}: file ends inside {what}")
            take = min(n, len(self._buf) - self._pos)
            if kept is not None:
                kept.append(self._buf[self._pos : self._pos + take])
            self._pos += take
            n -= take
        return b"".join(kept) if kept is not None else None

    def head(self, what: str) -> tuple[int, int | None]:
        """Read a CBOR head: (major type, argument), argument None for indefinite length."""
        at = self.offset
        ib = self.read_exact(1, what)[0]
        major, info = ib >> 5, ib & 31
        if info < 24:
            return major, info
        if info <= 27:
            size = 1 << (info - 24)
            return major, int.from_bytes(self.read_exact(size, what), "big")
        if info == 31 and major in (2, 3, 4, 5):
            return major, None
        raise InputError(f"{self._name}: offset {at}: malformed CBOR head 0x{ib:02x} where {what} should be")

    def array_header(self, what: str) -> int | None:
        """Read an array head; its length, or None when indefinite."""
        at = self.offset
        major, arg = self.head(what)
        if major != 4:
            raise InputError(
                f"{self._name}: offset {at}: expected {what} (a CBOR array), found major type {major}"
            )
        return arg

    def byte_string(self, what: str, keep: int) -> tuple[bytes | None, int]:
        """Read a byte string (definite or chunked); returns (bytes if short enough to keep, length)."""
        at = self.offset
        major, arg = self.head(what)
        if major != 2:
            raise InputError(
                f"{self._name}: offset {at}: expected {what} as a CBOR byte string, found major type {major}"
            )
        if arg is not None:
            return self.skip(arg, what, keep), arg
        parts: list[bytes] | None = []
        total = 0
        while self.peek_byte() != 0xFF:
            at = self.offset
            major, n = self.head(f"a chunk of {what}")
            if major != 2 or n is None:
                raise InputError(
                    f"{self._name}: offset {at}: a chunk of {what} must be a definite byte string"
                )
            chunk = self.skip(n, what, keep)
            total += n
            if parts is not None and chunk is not None and total <= keep:
                parts.append(chunk)
            else:
                parts = None
        self.skip(1)
        return (b"".join(parts) if parts is not None else None), total

    def expect_break(self, what: str) -> None:
        """Consume the 0xff that closes an indefinite item."""
        at = self.offset
        if self.read_exact(1, what) != b"\xff":
            raise InputError(f"{self._name}: offset {at}: expected 0xff ({what})")


def _shown(b: int | None) -> str:
    return "end of file" if b is None else f"0x{b:02x}"


def decode_address(raw: bytes, network: str = "f") -> str | None:
    """Render raw Filecoin address bytes (protocol byte + payload) as text; None if not an address."""
    if not raw:
        return None
    protocol, payload = raw[0], raw[1:]
    if protocol == 0:
        value, shift = 0, 0
        for i, b in enumerate(payload):
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return f"{network}0{value}" if i == len(payload) - 1 and i < 10 else None
        return None
    if protocol in (1, 2, 3) and len(payload) == {1: 20, 2: 20, 3: 48}[protocol]:
        checksum = hashlib.blake2b(raw, digest_size=4).digest()
        return f"{network}{protocol}{_base32(payload + checksum)}"
    return None


def _base32(data: bytes) -> str:
    """RFC 4648 base32, lower case, no padding (Filecoin addresses and CIDs)."""
    bits = int.from_bytes(data, "big")
    nbits = len(data) * 8
    pad = (5 - nbits % 5) % 5
    bits <<= pad
    return "".join(_BASE32[(bits >> s) & 31] for s in range(nbits + pad - 5, -1, -5))
