"""Lotus keystores: files named base32(key name) holding KeyInfo JSON; JWT secrets, libp2p and wallet keys."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from lotus_sim.address import Address

JWT_KEY = "auth-jwt-private"
LIBP2P_KEY = "libp2p-host"
WALLET_PREFIX = "wallet-"
ALL_PERMS = ("read", "write", "sign", "admin")
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class KeyInfo:
    """Lotus's KeyInfo: a key type name and the raw private key."""

    type: str
    private_key: bytes

    def to_json(self) -> str:
        """KeyInfo JSON as Lotus writes it (Type, then base64 PrivateKey)."""
        return json.dumps({"Type": self.type, "PrivateKey": base64.b64encode(self.private_key).decode()})

    @classmethod
    def from_json(cls, text: str, where: str = "key") -> KeyInfo:
        """Parse KeyInfo JSON; ValueError names ``where``."""
        try:
            raw = json.loads(text)
            return cls(str(raw["Type"]), base64.b64decode(raw["PrivateKey"], validate=True))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise ValueError(f"{where}: expected KeyInfo JSON {{Type, PrivateKey (base64)}}") from exc

    def export(self) -> str:
        """The ``lotus wallet export`` form: hex of the KeyInfo JSON."""
        return self.to_json().encode().hex()

    @classmethod
    def from_export(cls, text: str, where: str = "exported key") -> KeyInfo:
        """Parse ``lotus wallet export`` output."""
        try:
            return cls.from_json(bytes.fromhex(text.strip()).decode(), where)
        except ValueError as exc:
            raise ValueError(f"{where}: expected hex of KeyInfo JSON (lotus wallet export format)") from exc


def key_file_name(name: str) -> str:
    """File name of key ``name``: base32 (RFC 4648, upper case) without padding, as Lotus's fsrepo uses."""
    return base64.b32encode(name.encode()).decode().rstrip("=")


def key_name(file_name: str) -> str:
    """Inverse of ``key_file_name``."""
    return base64.b32decode(file_name + "=" * (-len(file_name) % 8)).decode()


def write_key(repo: Path, name: str, key: KeyInfo) -> Path:
    """Store ``key`` as ``<repo>/keystore/<base32 name>`` with Lotus's modes (dir 0700, file 0600)."""
    store = repo / "keystore"
    store.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = store / key_file_name(name)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key.to_json())
    return target


def read_key(repo: Path, name: str) -> KeyInfo:
    """Read key ``name`` from ``<repo>/keystore``; FileNotFoundError names the file."""
    target = repo / "keystore" / key_file_name(name)
    if not target.is_file():
        raise FileNotFoundError(f"{target}: key {name!r} is not in the keystore of {repo}")
    return KeyInfo.from_json(target.read_text(), str(target))


def list_keys(repo: Path) -> list[str]:
    """Names of all keys in ``<repo>/keystore`` (files whose names are not base32 are ignored)."""
    names = []
    store = repo / "keystore"
    for entry in sorted(store.iterdir()) if store.is_dir() else []:
        try:
            names.append(key_name(entry.name))
        except (ValueError, UnicodeDecodeError):
            continue
    return names


def read_jwt_secret(repo: Path) -> bytes:
    """The HS256 secret Lotus keeps under ``auth-jwt-private``."""
    return read_key(Path(repo), JWT_KEY).private_key


def wallet_addresses(repo: Path) -> list[str]:
    """Addresses whose keys are in the repo's wallet (``wallet-<addr>`` entries)."""
    return [n[len(WALLET_PREFIX) :] for n in list_keys(Path(repo)) if n.startswith(WALLET_PREFIX)]


def hs256_token(secret: bytes, perms: tuple[str, ...] = ALL_PERMS) -> str:
    """A Lotus API token: HS256 JWT with payload ``{"Allow": [...]}``."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64(json.dumps({"Allow": list(perms)}, separators=(",", ":")).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def _b58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = _B58[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def libp2p_key(rng: random.Random) -> tuple[KeyInfo, str]:
    """An Ed25519 libp2p host key (protobuf-marshalled, as Lotus stores it) and its ``12D3KooW…`` peer ID."""
    private = ed25519.Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
    # private_bytes_raw() needs cryptography 40; the sim image has Debian bookworm's 38.
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    marshalled_private = b"\x08\x01\x12\x40" + seed + public
    marshalled_public = b"\x08\x01\x12\x20" + public
    peer_id = _b58(b"\x00" + bytes([len(marshalled_public)]) + marshalled_public)  # identity multihash
    return KeyInfo(LIBP2P_KEY, marshalled_private), peer_id


def wallet_key(rng: random.Random, key_type: str, network: str) -> tuple[KeyInfo, Address]:
    """A wallet key and its address: real secp256k1 derivation; BLS keys are random stand-ins."""
    if key_type == "secp256k1":
        scalar = rng.randrange(1, _SECP256K1_ORDER)
        public = ec.derive_private_key(scalar, ec.SECP256K1()).public_key()
        raw_public = public.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return KeyInfo("secp256k1", scalar.to_bytes(32, "big")), Address.secp256k1(raw_public, network)
    if key_type == "bls":
        private = rng.randbytes(32)
        # No BLS library here: a 48-byte public key derived by hashing gives a well-formed f3 address.
        bls_public = hashlib.blake2b(b"bls-pub:" + private, digest_size=48).digest()
        return KeyInfo("bls", private), Address.bls(bls_public, network)
    raise ValueError(f"wallet key type {key_type!r}: expected 'bls' or 'secp256k1'")
