"""Edit a Lotus config.toml as text: set keys of one section, keep every other line (comments included).

Lotus's own config files are mostly commented defaults (`#Key = value`); a drill sets a few keys in its
workspace copy and must leave the rest as the operator wrote it, so this edits lines instead of re-serialising.
"""

from __future__ import annotations

import re

__all__ = ["set_section_keys"]

_SECTION = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$")


def set_section_keys(text: str, section: str, values: dict[str, str]) -> str:
    """Set `key = value` lines (values already TOML) in one section, replacing old or commented ones (pure)."""
    key_re = re.compile(r"^\s*#?\s*(" + "|".join(map(re.escape, values)) + r")\s*=")
    out: list[str] = []
    current: str | None = None
    written = False

    def emit() -> None:
        nonlocal written
        if not written:
            out.extend(f"  {k} = {v}" for k, v in values.items())
            written = True

    skipping = False
    for line in text.splitlines():
        m = _SECTION.match(line)
        if m:
            if current == section:
                emit()
            current = m.group(1)
            skipping = False
        elif current == section and key_re.match(line):
            skipping = line.rstrip().endswith("[") or (line.count("[") > line.count("]"))
            continue
        elif skipping:  # the rest of a multi-line array being replaced
            if "]" in line:
                skipping = False
            continue
        out.append(line)
    if current == section:
        emit()
    if not written:
        out += ["", f"[{section}]"]
        emit()
    return "\n".join(out) + "\n"
