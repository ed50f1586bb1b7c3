"""Ed25519 signing keys for evidence bundles: generate, load, and name them by a fingerprint."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from spdrill.errors import InputError, UsageError

KEY_NAME = "drill-signing.key"
PUB_NAME = "drill-signing.pub"


def key_id(public: Ed25519PublicKey) -> str:
    """A short fingerprint of a public key (SHA-256 of its 32 raw bytes, first 16 bytes in hex)."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def keygen(out: Path) -> tuple[Path, Path]:
    """Write a new key pair into `out` (private key PEM mode 0600, public key PEM); never overwrite."""
    key_path, pub_path = out / KEY_NAME, out / PUB_NAME
    for p in (key_path, pub_path):
        if p.exists():
            raise UsageError(f"{p}: already exists; keygen never overwrites a key: move it away or pass "
                             "another --out folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        # O_EXCL + mode at creation: the private key is never readable by others, not even for a moment.
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        pub_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo))
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the key pair ({exc.strerror}); pass a writable --out folder") \
            from None
    return key_path, pub_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an ed25519 private key in PEM (as `spdrill keygen` writes it); InputError otherwise."""
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # The message never quotes the file: it may be a real key in the wrong format.
        raise InputError(f"{path}: not an unencrypted ed25519 private key in PEM; create one with "
                         "`spdrill keygen --out DIR` and pass DIR/drill-signing.key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path}: a {type(key).__name__.removeprefix('_')} key, expected ed25519; create "
                         "one with `spdrill keygen --out DIR`") from None
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read an ed25519 public key in PEM or OpenSSH form; InputError otherwise."""
    data = _read(path, "public key")
    key: object
    try:
        if data.lstrip().startswith(b"ssh-ed25519"):
            key = serialization.load_ssh_public_key(data)
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InputError(f"{path}: not an ed25519 public key (expected PEM as written by `spdrill keygen`, "
                         "or an OpenSSH ssh-ed25519 line)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{path}: not an ed25519 public key; pass the drill-signing.pub written by "
                         "`spdrill keygen`") from None
    return key


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what} file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror})") from None
