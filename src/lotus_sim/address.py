"""Filecoin addresses (f0 ID, f1 secp256k1, f3 BLS): string and byte forms, as Lotus prints them."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

ID, SECP256K1, ACTOR, BLS = 0, 1, 2, 3
_PAYLOAD_LEN = {SECP256K1: 20, ACTOR: 20, BLS: 48}


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").lower().rstrip("=")


def _unb32(text: str) -> bytes:
    return base64.b32decode(text.upper() + "=" * (-len(text) % 8))


def uvarint(value: int) -> bytes:
    """Unsigned LEB128 varint, as multiformats and ID addresses use."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_uvarint(data: bytes, pos: int = 0) -> tuple[int, int]:
    """Decode an unsigned varint at ``pos``; returns (value, next position)."""
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _checksum(protocol: int, payload: bytes) -> bytes:
    return hashlib.blake2b(bytes([protocol]) + payload, digest_size=4).digest()


@dataclass(frozen=True)
class Address:
    """A Filecoin address; ``network`` is the string prefix: ``f`` (mainnet) or ``t`` (test networks)."""

    protocol: int
    payload: bytes
    network: str = "f"

    @classmethod
    def id(cls, actor_id: int, network: str = "f") -> Address:
        """The ID address ``f0<actor_id>``."""
        return cls(ID, uvarint(actor_id), network)

    @classmethod
    def secp256k1(cls, public_key: bytes, network: str = "f") -> Address:
        """The f1 address of an uncompressed secp256k1 public key (blake2b-160 of it)."""
        return cls(SECP256K1, hashlib.blake2b(public_key, digest_size=20).digest(), network)

    @classmethod
    def bls(cls, public_key: bytes, network: str = "f") -> Address:
        """The f3 address of a 48-byte BLS public key."""
        return cls(BLS, public_key, network)

    @classmethod
    def parse(cls, text: str) -> Address:
        """Parse ``f0123`` / ``t1…`` / ``f3…``; ValueError says what is wrong."""
        if len(text) < 3 or text[0] not in "ft" or not text[1].isdigit():
            raise ValueError(f"address {text!r}: expected f/t, a protocol digit and a payload, e.g. f01000")
        network, protocol, rest = text[0], int(text[1]), text[2:]
        if protocol == ID:
            if not rest.isdigit():
                raise ValueError(f"address {text!r}: an ID address is f0 followed by decimal digits")
            return cls.id(int(rest), network)
        if protocol not in _PAYLOAD_LEN:
            raise ValueError(f"address {text!r}: unknown protocol {protocol} (expected 0, 1, 2 or 3)")
        try:
            raw = _unb32(rest)
        except ValueError as exc:
            raise ValueError(f"address {text!r}: payload is not base32") from exc
        payload, check = raw[:-4], raw[-4:]
        if len(payload) != _PAYLOAD_LEN[protocol] or check != _checksum(protocol, payload):
            raise ValueError(f"address {text!r}: bad length or checksum")
        return cls(protocol, payload, network)

    @classmethod
    def from_bytes(cls, raw: bytes, network: str = "f") -> Address:
        """Parse the binary form (protocol byte + payload) that CBOR and datastores hold."""
        if not raw:
            raise ValueError("empty address bytes")
        protocol, payload = raw[0], bytes(raw[1:])
        if protocol == ID:
            read_uvarint(payload)
        elif _PAYLOAD_LEN.get(protocol) != len(payload):
            raise ValueError(f"address bytes: protocol {protocol} with a {len(payload)}-byte payload")
        return cls(protocol, payload, network)

    @property
    def actor_id(self) -> int:
        """The numeric ID of an f0 address."""
        if self.protocol != ID:
            raise ValueError(f"{self} is not an ID address")
        return read_uvarint(self.payload)[0]

    def to_bytes(self) -> bytes:
        """Binary form: protocol byte then payload."""
        return bytes([self.protocol]) + self.payload

    def __str__(self) -> str:
        if self.protocol == ID:
            return f"{self.network}0{self.actor_id}"
        return f"{self.network}{self.protocol}{_b32(self.payload + _checksum(self.protocol, self.payload))}"
