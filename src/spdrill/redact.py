"""Keep secrets out of everything spdrill writes: a process-wide set of strings replaced on output."""

from __future__ import annotations

import re
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
# JWTs look like three base64url parts; Lotus tokens are JWTs. Redact any, even ones we never saw.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
MASK = "<redacted>"


def register(secret: str) -> None:
    """Remember a secret (token, key) so `redact` removes it wherever it appears."""
    if secret and len(secret) >= 8:
        with _lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    """Return text with every registered secret and anything JWT-shaped replaced by a mask."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        if s in text:
            text = text.replace(s, MASK)
    return _JWT.sub(MASK, text)
