"""The drill journal: typed, frozen records of phases, checks and measurements; every report reads only this."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from spdrill.clock import Clock

Fact = str | int | float | bool | None


class Outcome(StrEnum):
    """How a phase or check ended."""

    OK = "ok"
    FAILED = "failed"
    BLOCKED = "blocked"  # never ran: something it depends on failed
    ABORTED = "aborted"  # interrupted (Ctrl-C, teardown)


@dataclass(frozen=True)
class Phase:
    """One timed step of the drill; times are seconds since drill start on the monotonic clock."""

    name: str
    branch: str
    start: float
    end: float
    outcome: Outcome
    detail: str = ""
    after: tuple[str, ...] = ()
    facts: Mapping[str, Fact] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Check:
    """One readiness or objective check (a drill test) and what it found."""

    name: str
    title: str
    kind: str  # "readiness" | "objective"
    passed: bool
    message: str
    green_at: float | None  # when the fact became true (drill seconds); None if it never did
    duration: float = 0.0


@dataclass(frozen=True)
class RestorePointRecord:
    """A restore point the drill used, and its age at drill start (its RPO)."""

    role: str
    kind: str
    name: str
    created: datetime
    age_seconds: float
    facts: Mapping[str, Fact] = field(default_factory=dict)


@dataclass(frozen=True)
class Journal:
    """Everything a drill learned; frozen once the drill ends."""

    drill_id: str
    plan_name: str
    plan_source: str
    plan_digest: str
    actor: str
    target: str
    started_at: datetime
    simulated: bool
    objectives: Mapping[str, float]
    restore_points: tuple[RestorePointRecord, ...] = ()
    phases: tuple[Phase, ...] = ()
    checks: tuple[Check, ...] = ()
    facts: Mapping[str, Fact] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)
    finished_at: float | None = None


class JournalBuilder:
    """Collects records from several threads while the drill runs; `freeze()` gives the Journal."""

    def __init__(self, base: Journal, clock: Clock,
                 on_phase: Callable[[Phase], None] | None = None) -> None:
        self._base = base
        self._on_phase = on_phase
        self.clock = clock
        self._lock = threading.Lock()
        self._phases: list[Phase] = []
        self._checks: dict[str, Check] = {}
        self._rps: list[RestorePointRecord] = []
        self._facts: dict[str, Fact] = {}
        self._versions: dict[str, str] = {}
        self._simulated = base.simulated

    @property
    def drill_id(self) -> str:
        return self._base.drill_id

    def add_phase(self, phase: Phase) -> None:
        with self._lock:
            self._phases.append(phase)
        if self._on_phase is not None:
            self._on_phase(phase)

    def add_check(self, check: Check) -> None:
        with self._lock:
            self._checks[check.name] = check

    def add_restore_point(self, rp: RestorePointRecord) -> None:
        with self._lock:
            self._rps.append(rp)

    def fact(self, key: str, value: Fact) -> None:
        with self._lock:
            self._facts[key] = value

    def version(self, component: str, version: str, *, simulated: bool = False) -> None:
        with self._lock:
            self._versions[component] = version
            self._simulated = self._simulated or simulated

    def phases(self) -> tuple[Phase, ...]:
        with self._lock:
            return tuple(self._phases)

    def phase_named(self, name: str) -> Phase | None:
        with self._lock:
            return next((p for p in reversed(self._phases) if p.name == name), None)

    @contextmanager
    def phase(self, name: str, *, branch: str = "main", after: tuple[str, ...] = ()) -> Iterator[PhaseNote]:
        """Time the block as a phase; an exception marks it failed (or aborted) and propagates."""
        note = PhaseNote()
        start = self.clock.elapsed()
        outcome = Outcome.OK
        try:
            yield note
        except KeyboardInterrupt:
            outcome, note.detail = Outcome.ABORTED, note.detail or "interrupted"
            raise
        except BaseException as exc:
            outcome = Outcome.FAILED
            note.detail = note.detail or str(exc) or exc.__class__.__name__
            raise
        finally:
            self.add_phase(Phase(name=name, branch=branch, start=start, end=self.clock.elapsed(),
                                 outcome=outcome, detail=note.detail, after=after, facts=dict(note.facts)))

    def blocked(self, name: str, *, branch: str, after: tuple[str, ...], reason: str) -> None:
        """Record a phase that never ran because something before it failed."""
        now = self.clock.elapsed()
        self.add_phase(Phase(name=name, branch=branch, start=now, end=now, outcome=Outcome.BLOCKED,
                             detail=reason, after=after))

    def freeze(self) -> Journal:
        with self._lock:
            return replace(self._base, phases=tuple(self._phases), checks=tuple(self._checks.values()),
                           restore_points=tuple(self._rps), facts=dict(self._facts),
                           versions=dict(self._versions), simulated=self._simulated,
                           finished_at=self.clock.elapsed())


@dataclass
class PhaseNote:
    """What the code inside a phase wants recorded about it."""

    detail: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
