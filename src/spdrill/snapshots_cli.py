"""`spdrill snapshots --plan FILE`: each source's restore points, their age, and the one a drill would use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from spdrill.duration import format_duration
from spdrill.planload import load_validated
from spdrill.snapshots import load_source, select_set


def list_snapshots(plan_path: Path) -> int:
    """Print the table; exit 0, or 1 when no consistent snapshot set exists."""
    plan = load_validated(plan_path)
    now = datetime.now(UTC)
    sources = [load_source(s.table, where=s.where) for s in plan.restore.sources]
    choice = select_set(sources, window=timedelta(seconds=plan.restore.window), at=now)
    chosen = {id(rp) for rp in choice.restore_points}
    for spec, src in zip(plan.restore.sources, sources, strict=True):
        print(f"{spec.where} ({src.kind}) {src.name}  -> mounted at {spec.mount}")
        for rp in src.restore_points():
            mark = "*" if any(rp == c for c in choice.restore_points) or id(rp) in chosen else " "
            prot = {True: "protected", False: "UNPROTECTED", None: ""}[rp.protected]
            age = format_duration((now - rp.created).total_seconds())
            print(f"  {mark} {rp.name:<60} {rp.created:%Y-%m-%d %H:%M:%SZ}  age {age:>7}  {prot}")
    if choice.consistent:
        print(f"* = the snapshot set a drill would use (spread within {format_duration(plan.restore.window)})")
        return 0
    for problem in choice.problems():
        print(f"inconsistent snapshot set: {problem}")
    return 1
