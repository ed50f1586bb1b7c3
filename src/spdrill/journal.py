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
from spdrill.findings import Finding, NotApplicable

Fact = str | int | float | bool | None


class Outcome(StrEnum):
    """How a phase or check ended."""

    OK = "ok"
    FAILED = "failed"
    BLOCKED = "blocked"  # never ran: something it depends on failed
    ABORTED = "aborted"  # interrupted (Ctrl-C, teardown)


@dataclass(frozen=True)
class Phase:
    """One timed step of the drill (a bring-up stage); times are seconds since drill start, monotonic.

    `finding` is what the stage found (typed; None when it found nothing); `facts` is its serialised form,
    what the record and reports show (`Finding.facts()`, the one place that serialises it).
    """

    name: str
    branch: str
    start: float
    end: float
    outcome: Outcome
    detail: str = ""
    after: tuple[str, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)
    finding: Finding | None = None

    @classmethod
    def result(cls, name: str, ok: bool, detail: str, end: float, finding: Finding | None = None) -> Phase:
        """A stage's phase as a board holds it (for tests and tools that build a board by hand)."""
        return cls(name=name, branch="", start=end, end=end, outcome=Outcome.OK if ok else Outcome.FAILED,
                   detail=detail, finding=finding, facts=finding.facts() if finding is not None else {})

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def blocked(self) -> bool:
        return self.outcome is Outcome.BLOCKED

    @property
    def not_applicable(self) -> bool:
        """The stage does not apply to this target (published to the board, never recorded as a phase)."""
        return isinstance(self.finding, NotApplicable)


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
class SkippedCheck:
    """A check that did not run (turned off by the plan, not applicable, or not run): never counted green."""

    title: str
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.title} ({self.reason})" if self.reason else self.title


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
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # reconciliation, exposure tables
    checks_expected: int | None = None  # drill checks collected; a record with fewer ran is no pass
    skipped: tuple[SkippedCheck, ...] = ()
    interrupted: bool = False
    could_not_run: str | None = None  # the one root cause when spdrill itself could not run the drill (exit 3)

    @property
    def complete(self) -> bool:
        """Every collected drill ran (or was turned off) and the run was not interrupted."""
        ran = len(self.checks) + len(self.skipped)
        return not self.interrupted and not (self.checks_expected is not None and ran < self.checks_expected)

    def run_facts(self) -> dict[str, Fact]:
        """The typed run facts as the record's `facts` keys (checks_expected, skipped_checks, checks_skipped,
        interrupted), present only when set."""
        out: dict[str, Fact] = {}
        if self.checks_expected is not None:
            out["checks_expected"] = self.checks_expected
        if self.skipped:
            out["skipped_checks"] = "; ".join(map(str, self.skipped))
            out["checks_skipped"] = len(self.skipped)
        if self.interrupted:
            out["interrupted"] = True
        if self.could_not_run is not None:
            out["could_not_run"] = self.could_not_run
        return out


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
        self._expected: int | None = None
        self._sections: dict[str, Mapping[str, Any]] = {}
        self._skipped: list[SkippedCheck] = []
        self._interrupted = False
        self._could_not_run: str | None = None

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

    def section(self, key: str, table: Mapping[str, Any]) -> None:
        """A structured part of the record (`reconciliation`, `exposure`): plain JSON data, kept as it is."""
        with self._lock:
            self._sections[key] = dict(table)

    def expect_checks(self, count: int) -> None:
        """How many drill checks were collected: a record with fewer that ran is not a pass."""
        with self._lock:
            self._expected = count

    def skip_check(self, title: str, reason: str = "") -> None:
        """A check that did not run (turned off by the plan, or not applicable): listed, never counted green."""
        with self._lock:
            self._skipped.append(SkippedCheck(title, reason))

    def cannot_run(self, cause: str) -> None:
        """spdrill itself could not run the drill: the one root cause the summary shows (the first one wins)."""
        with self._lock:
            self._could_not_run = self._could_not_run or cause

    def interrupt(self) -> None:
        """The run was interrupted: whatever passed so far is no pass."""
        with self._lock:
            self._interrupted = True

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
                                 outcome=outcome, detail=note.detail, after=after, finding=note.finding,
                                 facts=note.finding.facts() if note.finding is not None else {}))

    def blocked(self, name: str, *, branch: str, after: tuple[str, ...], reason: str) -> Phase:
        """Record a phase that never ran because something before it failed."""
        now = self.clock.elapsed()
        phase = Phase(name=name, branch=branch, start=now, end=now, outcome=Outcome.BLOCKED, detail=reason,
                      after=after)
        self.add_phase(phase)
        return phase

    def freeze(self) -> Journal:
        with self._lock:
            return replace(self._base, phases=tuple(self._phases), checks=tuple(self._checks.values()),
                           restore_points=tuple(self._rps), facts=dict(self._facts),
                           versions=dict(self._versions), simulated=self._simulated,
                           finished_at=self.clock.elapsed(), checks_expected=self._expected,
                           sections=dict(self._sections),
                           skipped=tuple(self._skipped), interrupted=self._interrupted,
                           could_not_run=self._could_not_run)


@dataclass
class PhaseNote:
    """What the code inside a phase wants recorded about it: its summary, and what it found so far (kept when
    the phase fails, so a failed stage still shows what it saw)."""

    detail: str = ""
    finding: Finding | None = None
