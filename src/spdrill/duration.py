"""Parse and format the plan's durations: "4h", "90m", "30s", "1h30m", "2d"."""

from __future__ import annotations

import re

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
EXPECTED_FORM = 'a duration like "30s", "90m", "4h", "1h30m" or "2d"'


def parse_duration(text: str) -> float:
    """Return seconds for a duration string; raise ValueError naming the expected form."""
    s = text.strip().lower()
    if not s:
        raise ValueError(f"empty duration; expected {EXPECTED_FORM}")
    pos = 0
    total = 0.0
    seen: set[str] = set()
    for m in _PART.finditer(s):
        if m.start() != pos or m.group(2) in seen:
            break
        seen.add(m.group(2))
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not seen:
        raise ValueError(f"{text!r} is not {EXPECTED_FORM}")
    return total


def format_duration(seconds: float) -> str:
    """Format seconds compactly for people: 0.4s, 12.3s, 4m05s, 2h03m, 3d04h."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    s = int(round(seconds))
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"
