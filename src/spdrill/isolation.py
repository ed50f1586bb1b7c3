"""Standby isolation (DESIGN rule 2b): fresh API secret and libp2p identity, its own libp2p ports, and the
miner's RemoteListenAddress on the standby, so nothing a standby holds, announces or dials reaches production."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from spdrill.lotusconfig import set_section_keys
from spdrill.redact import register
from spdrill.workfs import WorkFS

# node/modules/core.go:42-43 (JWTSecretName, KTJwtHmacSecret); node/modules/lp2p/libp2p.go:24 (KLibp2pHost).
JWT_KEY = "auth-jwt-private"
JWT_KEY_TYPE = "jwt-hmac-secret"
LIBP2P_KEY = "libp2p-host"
# api/permissioned.go AllPermissions: what Lotus puts in the admin token it writes beside a new secret.
ALL_PERMISSIONS = ("read", "write", "sign", "admin")
# [API] RemoteListenAddress through envconfig (node/config/load.go:98): the base of the storage URLs the miner
# hands its workers (node/builder.go:290-295). Left at the restored value, a PoSt worker reads the LIVE miner.
REMOTE_LISTEN_ENV = "LOTUS_API_REMOTELISTENADDRESS"
# Port 0: the kernel picks a free one, so a standby never clashes with a live node on the same host.
LIBP2P_LISTEN = ("/ip4/0.0.0.0/tcp/0", "/ip6/::/tcp/0")

@dataclass(frozen=True)
class Isolation:
    """What was changed in one restored repo before its role started (for the journal; no secret in it)."""

    repo: str
    fresh_api_secret: bool
    dropped_libp2p_identity: bool
    libp2p_listen: tuple[str, ...]

    def summary(self) -> str:
        parts = ["fresh API secret" if self.fresh_api_secret else "API secret kept"]
        if self.dropped_libp2p_identity:
            parts.append("production libp2p identity removed (a new PeerID is made at start)")
        if self.libp2p_listen:
            parts.append(f"libp2p on {', '.join(self.libp2p_listen)}, nothing announced")
        return f"{self.repo}: " + "; ".join(parts)


def keystore_file(repo: Path, name: str) -> Path:
    """A key's file in a Lotus keystore: base32 (RawStdEncoding) of its name (node/repo/fsrepo.go:657,706)."""
    return repo / "keystore" / base64.b32encode(name.encode()).decode().rstrip("=")


def admin_token(secret: bytes) -> str:
    """An HS256 JWT allowing every permission, as Lotus writes to `<repo>/token` (node/modules/core.go:163-175)."""
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64(json.dumps({"Allow": list(ALL_PERMISSIONS)}, separators=(",", ":")).encode())
    signing = f"{header}.{payload}".encode()
    return f"{header}.{payload}.{b64(hmac.new(secret, signing, hashlib.sha256).digest())}"


def fresh_api_secret(repo: Path, fs: WorkFS) -> str:
    """Replace the restored JWT secret (shared with production) by a new one; return the new admin token.

    Lotus would make the same itself when the key is missing (node/modules/core.go:143-175 APISecret); doing it
    here gives the harness the token before the role starts, which the worker needs to dial the miner.
    """
    secret = secrets.token_bytes(32)
    info = json.dumps({"Type": JWT_KEY_TYPE, "PrivateKey": base64.b64encode(secret).decode()})
    fs.mkdir(repo / "keystore")
    fs.write_secret(keystore_file(repo, JWT_KEY), info)
    token = admin_token(secret)
    register(token)
    fs.write_secret(repo / "token", token)
    return token


def drop_libp2p_identity(repo: Path, fs: WorkFS) -> bool:
    """Remove the production libp2p host key; Lotus generates a new one at start (lp2p/libp2p.go:34-56)."""
    path = keystore_file(repo, LIBP2P_KEY)
    if not fs.is_file(path):
        return False
    fs.unlink(path)
    return True


def with_libp2p_isolated(text: str) -> str:
    """The config with `[Libp2p]` listening on port-0 addresses and announcing nothing (pure).

    Keys replaced: ListenAddresses, AnnounceAddresses (node/config/types.go Libp2p); the rest is kept.
    """
    values = {"ListenAddresses": "[" + ", ".join(f'"{a}"' for a in LIBP2P_LISTEN) + "]",
              "AnnounceAddresses": "[]"}
    return set_section_keys(text, "Libp2p", values)


def isolate_repo(repo: Path, fs: WorkFS, *, libp2p: bool) -> tuple[Isolation, str]:
    """Fresh API secret, no production PeerID, own libp2p ports; returns what was done and the admin token."""
    token = fresh_api_secret(repo, fs)
    dropped = drop_libp2p_identity(repo, fs)
    listen: tuple[str, ...] = ()
    config = repo / "config.toml"
    if libp2p and fs.is_file(config):
        fs.write_text(config, with_libp2p_isolated(fs.read_text(config)))
        listen = LIBP2P_LISTEN
    return Isolation(repo.name, True, dropped, listen), token


__all__ = ["Isolation", "REMOTE_LISTEN_ENV", "admin_token", "drop_libp2p_identity", "fresh_api_secret",
           "isolate_repo", "keystore_file", "with_libp2p_isolated"]
