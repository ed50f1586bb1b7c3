"""Pure RTO arithmetic over journal records: critical path, RTO, time spent waiting, harness overhead."""

from __future__ import annotations

from collections.abc import Sequence

from spdrill.journal import Check, Outcome, Phase


def critical_path(phases: Sequence[Phase], *, until: float | None = None) -> tuple[Phase, ...]:
    """The chain of phases that decided when the drill finished: walk back from the latest end along `after`."""
    done = [p for p in phases if p.outcome is not Outcome.BLOCKED and (until is None or p.end <= until + 1e-9)]
    if not done:
        return ()
    by_name: dict[str, Phase] = {}
    for p in done:  # the last record of a name wins (a phase may be retried)
        by_name[p.name] = p
    current: Phase | None = max(by_name.values(), key=lambda p: p.end)
    path: list[Phase] = []
    seen: set[str] = set()
    while current is not None and current.name not in seen:
        path.append(current)
        seen.add(current.name)
        deps = [by_name[n] for n in current.after if n in by_name]
        current = max(deps, key=lambda p: p.end) if deps else None
    return tuple(reversed(path))


def rto(checks: Sequence[Check]) -> float | None:
    """Drill start to the moment every readiness check was green; None when one never turned green."""
    readiness = [c for c in checks if c.kind == "readiness"]
    if not readiness or not all(c.passed and c.green_at is not None for c in readiness):
        return None
    return max(c.green_at for c in readiness if c.green_at is not None)


def waiting_time(phases: Sequence[Phase]) -> float:
    """Seconds during which at least one component was being waited on (union of intervals of all phases)."""
    spans = sorted((p.start, p.end) for p in phases if p.end > p.start)
    total = 0.0
    cur_s: float | None = None
    cur_e = 0.0
    for s, e in spans:
        if cur_s is None or s > cur_e:
            if cur_s is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_s is not None:
        total += cur_e - cur_s
    return total


def overhead(phases: Sequence[Phase], wall: float) -> float:
    """Harness overhead: drill wall time not covered by any phase (the harness's own work between phases)."""
    return max(0.0, wall - waiting_time(phases))
