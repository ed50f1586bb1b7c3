"""Snapshot sets: one restore point per source, all taken within a window of each other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .base import RestorePoint, Source, human_delta

__all__ = ["SetMember", "SnapshotSetChoice", "select_set", "choose"]


@dataclass(frozen=True)
class SetMember:
    """One source's part of a snapshot set."""

    source: str
    restore_point: RestorePoint | None  # None: the source has no restore point (before `at`)
    behind_newest: timedelta | None  # how much older than the set's newest member
    passed_over: int  # newer restore points of this source not used, to keep the set consistent


@dataclass(frozen=True)
class SnapshotSetChoice:
    """The restore points a drill would use, and whether they form a consistent set."""

    members: tuple[SetMember, ...]
    window: timedelta
    consistent: bool

    @property
    def restore_points(self) -> tuple[RestorePoint, ...]:
        """The chosen restore points, one per source that has one, in source order."""
        return tuple(m.restore_point for m in self.members if m.restore_point is not None)

    @property
    def spread(self) -> timedelta | None:
        """Time between the oldest and newest chosen restore point."""
        times = [rp.created for rp in self.restore_points]
        return max(times) - min(times) if times else None

    def problems(self) -> list[str]:
        """One sentence per member that breaks the set (empty when consistent)."""
        if self.consistent:
            return []
        out = []
        newest = max(self.restore_points, key=lambda rp: rp.created, default=None)
        for m in self.members:
            if m.restore_point is None:
                out.append(f"{m.source} has no restore point")
            elif m.behind_newest is not None and m.behind_newest > self.window and newest is not None:
                out.append(
                    f"{m.restore_point.name} is {human_delta(m.behind_newest)} older than {newest.name} "
                    f"(window {human_delta(self.window)})"
                )
        return out


def choose(
    named: Sequence[tuple[str, Sequence[RestorePoint]]], *, window: timedelta, at: datetime | None = None
) -> SnapshotSetChoice:
    """Pick the newest consistent set from restore points already listed per source (pure, no I/O)."""
    lists = [(name, sorted((rp for rp in rps if at is None or rp.created <= at), key=lambda r: r.created))
             for name, rps in named]  # fmt: skip
    # The newest consistent set has the latest possible oldest member t: try every t from newest down,
    # and take from each source its newest restore point within [t, t + window].
    anchors = sorted({rp.created for _, rps in lists for rp in rps}, reverse=True)
    for t in anchors:
        picks = []
        for _, rps in lists:
            inside = [rp for rp in rps if t <= rp.created <= t + window]
            if not inside:
                break
            picks.append(inside[-1])
        else:
            return _choice(lists, picks, window, consistent=True)
    newest: list[RestorePoint | None] = [rps[-1] if rps else None for _, rps in lists]
    return _choice(lists, newest, window, consistent=False)


def _choice(
    lists: list[tuple[str, list[RestorePoint]]],
    picks: Sequence[RestorePoint | None],
    window: timedelta,
    *,
    consistent: bool,
) -> SnapshotSetChoice:
    top = max((rp.created for rp in picks if rp is not None), default=None)
    members = []
    for (name, rps), rp in zip(lists, picks, strict=True):
        behind = top - rp.created if rp is not None and top is not None else None
        passed = sum(1 for r in rps if rp is not None and r.created > rp.created)
        members.append(SetMember(name, rp, behind, passed))
    return SnapshotSetChoice(tuple(members), window, consistent and bool(members))


def select_set(sources: Sequence[Source], *, window: timedelta, at: datetime | None = None) -> SnapshotSetChoice:
    """List each source's restore points and pick the newest set within `window` (created ≤ `at`)."""
    return choose([(s.name, s.restore_points()) for s in sources], window=window, at=at)
