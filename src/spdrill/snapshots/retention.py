"""Resilience checks on a source's restore points: holds or read-only flags, count and history depth.

HA is not DR: a replica follows the primary into a ransomware encryption or an `rm -rf`. What saves an SP
is enough protected restore points reaching far enough back, so these are reported as checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from .base import RestorePoint, Source, human_delta

__all__ = ["RetentionCheck", "retention_report"]

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class RetentionCheck:
    """One resilience fact about one source: its name, verdict and a sentence for people."""

    name: str  # "protected", "retention-count", "retention-oldest", "retention-pruned"
    source: str
    status: Status
    message: str


def _protection(source: Source, rps: Sequence[RestorePoint]) -> RetentionCheck:
    how = {"zfs": "a ZFS hold (zfs hold)", "btrfs": "the btrfs read-only flag"}.get(source.kind)
    if how is None or not rps:
        why = "no restore points" if rps == [] or not rps else f"{source.kind} restore points have no such flag"
        return RetentionCheck("protected", source.name, "skip", f"not applicable: {why}")
    bare = [rp.name for rp in rps if not rp.protected]
    if bare:
        shown = ", ".join(bare[:3]) + (f" and {len(bare) - 3} more" if len(bare) > 3 else "")
        return RetentionCheck(
            "protected", source.name, "fail",
            f"{len(bare)} of {len(rps)} restore points lack {how}: {shown}; protect them so a compromised "
            "host cannot delete or change them",
        )  # fmt: skip
    return RetentionCheck("protected", source.name, "pass", f"all {len(rps)} restore points carry {how}")


def retention_report(
    source: Source,
    rps: Sequence[RestorePoint],
    *,
    min_count: int,
    now: datetime,
    min_oldest_age: timedelta | None = None,
    max_oldest_age: timedelta | None = None,
    require_protection: bool = True,
) -> list[RetentionCheck]:
    """Judge one source's restore points against the plan's retention: protection, count, history depth."""
    checks = [_protection(source, rps)] if require_protection else []
    count_ok = len(rps) >= min_count
    checks.append(RetentionCheck(
        "retention-count", source.name, "pass" if count_ok else "fail",
        f"{len(rps)} restore points, plan asks for at least {min_count}",
    ))  # fmt: skip
    oldest = min((rp.created for rp in rps), default=None)
    age = now - oldest if oldest is not None else None
    if min_oldest_age is not None:
        # The history must reach back past the longest time an attack may go unnoticed.
        deep = age is not None and age >= min_oldest_age
        found = f"the oldest is {human_delta(age)} old" if age is not None else "there are none"
        checks.append(RetentionCheck(
            "retention-oldest", source.name, "pass" if deep else "fail",
            f"{found}, plan asks for history reaching back at least {human_delta(min_oldest_age)}",
        ))  # fmt: skip
    if max_oldest_age is not None:
        # Pruning that stopped fills the pool, and then new snapshots stop: catch it early.
        pruned = age is None or age <= max_oldest_age
        found = f"the oldest is {human_delta(age)} old" if age is not None else "there are none"
        checks.append(RetentionCheck(
            "retention-pruned", source.name, "pass" if pruned else "fail",
            f"{found}, plan expects pruning beyond {human_delta(max_oldest_age)}",
        ))  # fmt: skip
    return checks
