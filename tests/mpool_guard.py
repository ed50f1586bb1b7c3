"""DESIGN rule 3 across the whole suite: no drill ever asks the stand-in to push a message on chain.

Every simulated plan (spdrill.demo.make_demo_plan) points the stand-in's `LOTUS_SIM_RECORD_DIR` at a
`drill-sim-records` folder beside the drill, where the stand-in appends each MpoolPushMessage attempt, refused or
not. At the end of the session every such record under the session's temporary folder must be empty, except in
the folders of tests marked `expects_mpool_push` (failover mode, which pushes ChangePeerID by design).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from spdrill.demo import SIM_RECORDS

RECORD_FILE = "mpool-push.jsonl"


def record_files(root: Path) -> list[Path]:
    """Every drill push record under `root`."""
    found = []
    for here, dirs, files in os.walk(root):
        if Path(here).name == SIM_RECORDS and RECORD_FILE in files:
            found.append(Path(here) / RECORD_FILE)
        dirs[:] = [d for d in dirs if not d.startswith(("sealed", "cache"))]  # sector files: nothing to find
    return sorted(found)


def unexpected_pushes(root: Path, allowed: Iterable[Path] = ()) -> dict[Path, list[str]]:
    """Record file → the methods pushed, for every non-empty record outside the `allowed` folders."""
    allowed = [a.resolve() for a in allowed]
    out: dict[Path, list[str]] = {}
    for path in record_files(root):
        if any(path.resolve().is_relative_to(a) for a in allowed):
            continue
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        if lines:
            out[path] = [_describe(line) for line in lines]
    return out


def _describe(line: str) -> str:
    try:
        entry = json.loads(line)
    except ValueError:
        return line[:120]
    if not isinstance(entry, dict):
        return line[:120]
    return f"method {entry.get('method')} from {entry.get('from')} to {entry.get('to')}"
