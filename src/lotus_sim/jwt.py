"""HS256 JSON Web Tokens as Lotus issues them: payload `{"Allow": [perm, ...]}`, secret from the keystore."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

__all__ = ["JwtError", "decode_allow", "encode_allow"]

_HEADER = {"alg": "HS256", "typ": "JWT"}


class JwtError(ValueError):
    """A token that is not a well-formed HS256 JWT signed with our secret."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise JwtError("token segment is not base64url") from exc


def encode_allow(allow: list[str], secret: bytes) -> str:
    """Return a compact HS256 JWT whose payload grants the permissions in `allow`."""
    header = _b64url(json.dumps(_HEADER, separators=(",", ":")).encode())
    payload = _b64url(json.dumps({"Allow": allow}, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def decode_allow(token: str, secret: bytes) -> list[str]:
    """Verify `token` against `secret` and return its `Allow` list; raise JwtError otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("token is not three dot-separated segments")
    header_b64, payload_b64, sig_b64 = parts
    try:
        header = json.loads(_unb64url(header_b64))
        payload = json.loads(_unb64url(payload_b64))
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwtError("token header or payload is not JSON") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        # Refusing other algorithms (notably "none") is what keeps a forged token out.
        raise JwtError("token algorithm is not HS256")
    expected = hmac.new(secret, f"{header_b64}.{payload_b64}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _unb64url(sig_b64)):
        raise JwtError("token signature does not match this node's secret")
    allow = payload.get("Allow") if isinstance(payload, dict) else None
    if not isinstance(allow, list) or not all(isinstance(p, str) for p in allow):
        raise JwtError("token payload has no Allow list of strings")
    return list(allow)
