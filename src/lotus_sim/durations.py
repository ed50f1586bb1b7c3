"""Durations as users write them on command lines: ``90``, ``45s``, ``30m``, ``2h``, ``7d``, ``1h30m``."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str) -> int:
    """Seconds in ``text``; ValueError shows the accepted forms."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"duration {text!r}: expected seconds or forms like 45s, 30m, 2h, 7d, 1h30m")
    return sum(int(n) * _UNITS[u] for n, u in parts)
