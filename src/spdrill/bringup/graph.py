"""The stage graph and its runner: each stage starts when the stages it runs after are done, in every mode.

A mode (an ordinary drill, the attach target, a failover) is data: a `Graph` and a table of stage functions.
Every stage's outcome is a `Phase` (spdrill.journal) on the `StageBoard`, which the checks wait on; a check
never re-runs work, it reads phases.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

from spdrill.clock import Clock
from spdrill.errors import DrillError, UsageError
from spdrill.findings import Finding, NotApplicable, StageProblem
from spdrill.journal import JournalBuilder, Outcome, Phase, PhaseNote
from spdrill.redact import redact

log = logging.getLogger("spdrill.bringup")


class StageSpec(NamedTuple):
    """Where a stage sits: its branch (for reports), the stages it runs after, and which of those it only reads
    (their failure, once they ran, does not block it)."""

    branch: str
    after: tuple[str, ...]
    reads: tuple[str, ...] = ()


class Graph(Mapping[str, StageSpec]):
    """An immutable, checked stage graph: every dependency names a stage, and there is no cycle."""

    def __init__(self, stages: Mapping[str, StageSpec]) -> None:
        self._stages = dict(stages)
        for name, spec in self._stages.items():
            unknown = [d for d in (*spec.after, *spec.reads) if d not in self._stages]
            if unknown:
                raise ValueError(f"stage {name!r} runs after unknown stage(s) {unknown}")
            if not set(spec.reads) <= set(spec.after):
                raise ValueError(f"stage {name!r} reads stages it does not run after")
        self.order()  # raises on a cycle

    def __getitem__(self, name: str) -> StageSpec:
        return self._stages[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stages)

    def __len__(self) -> int:
        return len(self._stages)

    def order(self) -> tuple[str, ...]:
        """The stages in an order that respects every dependency (declaration order among equals)."""
        done: list[str] = []
        pending = list(self._stages)
        while pending:
            ready = [n for n in pending if all(d in done for d in self._stages[n].after)]
            if not ready:
                raise ValueError(f"the stage graph has a cycle among {pending}")
            done.extend(ready)
            pending = [n for n in pending if n not in ready]
        return tuple(done)

    def check(self, name: str) -> None:
        """UsageError at once for a stage the graph does not have (not after the whole bring-up)."""
        if name not in self._stages:
            raise UsageError(f"no bring-up stage named {name!r}; the stages are: {', '.join(self._stages)}")

    def replace(self, name: str, spec: StageSpec, *, before: str | None = None) -> Graph:
        """A copy with `name` set to `spec` (inserted before `before` when new)."""
        items = list(self._stages.items())
        if name in self._stages:
            items = [(n, spec if n == name else s) for n, s in items]
        else:
            at = next((i for i, (n, _) in enumerate(items) if n == before), len(items))
            items.insert(at, (name, spec))
        return Graph(dict(items))


class StageBoard:
    """Thread-safe board of stage outcomes; `wait` blocks until a stage's phase is published."""

    def __init__(self, graph: Graph | None = None) -> None:
        self._cond = threading.Condition()
        self._phases: dict[str, Phase] = {}
        self._closed: str | None = None
        self.graph = graph

    def publish(self, phase: Phase) -> None:
        with self._cond:
            self._phases.setdefault(phase.name, phase)
            self._cond.notify_all()

    def close(self, reason: str) -> None:
        """No more outcomes will come (the bring-up ended or was aborted): waiters get a blocked phase."""
        with self._cond:
            self._closed = reason
            self._cond.notify_all()

    def get(self, name: str) -> Phase | None:
        with self._cond:
            return self._phases.get(name)

    def wait(self, name: str, timeout: float | None = None) -> Phase:
        """The stage's phase once it is published; a name the graph lacks is an error at once."""
        if self.graph is not None:
            self.graph.check(name)
        with self._cond:
            self._cond.wait_for(lambda: name in self._phases or self._closed is not None, timeout=timeout)
            if name in self._phases:
                return self._phases[name]
            reason = self._closed or f"no result within {timeout}s"
            return Phase(name=name, branch="", start=0.0, end=0.0, outcome=Outcome.BLOCKED,
                         detail=f"{name} did not run: {reason}")

    def all(self) -> dict[str, Phase]:
        with self._cond:
            return dict(self._phases)


StageFn = Callable[[PhaseNote], Finding]


class Verdict(NamedTuple):
    """How the runner judges a stage's exception: the phase detail, and whether spdrill could not run (exit 3)."""

    detail: str
    cannot_run: bool


Judge = Callable[[str, BaseException], Verdict]


def plain_judge(stage: str, exc: BaseException) -> Verdict:
    """Every error is a finding about the standby (exit 1)."""
    return Verdict(redact(str(exc)) or exc.__class__.__name__, False)


class GraphRunner:
    """Runs a graph's stage functions, each in its own thread once its dependencies are done.

    A stage whose dependency failed (or was blocked) is recorded as blocked, without running; one that only
    reads a dependency's findings runs when that dependency failed having run. After `stop()`, stages that
    have not started are blocked ("drill stopped"). `judge` decides what an exception means (finding or
    could-not-run); the first could-not-run error is kept in `cannot_run`.
    """

    def __init__(self, graph: Graph, stages: Mapping[str, StageFn], journal: JournalBuilder, board: StageBoard,
                 *, judge: Judge = plain_judge) -> None:
        missing = [n for n in graph if n not in stages]
        if missing:
            raise ValueError(f"no stage function for {missing}")
        self.graph = graph
        self.stages = stages
        self.journal = journal
        self.board = board
        self.judge = judge
        self.cannot_run: BaseException | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    @property
    def clock(self) -> Clock:
        return self.journal.clock

    def stop(self) -> None:
        self._stop.set()

    def run(self, close_reason: str = "the bring-up ended") -> None:
        """Run every stage; returns when all are published. Never raises a stage's error."""
        threads = [threading.Thread(target=self._run_stage, args=(name,), name=f"stage-{name}", daemon=True)
                   for name in self.graph.order()]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            self.board.close(close_reason)

    def _blocked_by(self, name: str) -> list[str]:
        spec = self.graph[name]
        failed = []
        for dep in spec.after:
            phase = self.board.wait(dep)
            if phase.ok:
                continue
            if dep in spec.reads and not phase.blocked:
                continue
            failed.append(dep)
        return failed

    def _run_stage(self, name: str) -> None:
        spec = self.graph[name]
        failed = self._blocked_by(name)
        if failed or self._stop.is_set():
            reason = f"blocked: {', '.join(failed)} failed" if failed else "blocked: drill stopped"
            now = self.clock.elapsed()
            blocked = Phase(name=name, branch=spec.branch, start=now, end=now, outcome=Outcome.BLOCKED,
                            detail=reason, after=spec.after)
            try:
                self.journal.add_phase(blocked)
            finally:
                self.board.publish(blocked)
            return
        note = PhaseNote()
        start = self.clock.elapsed()
        outcome, detail = Outcome.OK, ""
        try:
            finding = self.stages[name](note)
            note.finding, detail = finding, finding.detail
        except StageProblem as exc:
            outcome, detail = Outcome.FAILED, redact(str(exc))
            note.finding = exc.finding or note.finding
        except Exception as exc:
            outcome = Outcome.FAILED
            verdict = self.judge(name, exc)
            detail = verdict.detail
            if verdict.cannot_run:
                with self._lock:
                    self.cannot_run = self.cannot_run or exc
            if not isinstance(exc, DrillError):  # a bug or a foreign error: keep the trace in the log
                log.error("stage %s crashed:\n%s", name, redact(traceback.format_exc()))
        found = note.finding
        phase = Phase(name=name, branch=spec.branch, start=start, end=self.clock.elapsed(), outcome=outcome,
                      detail=detail, after=spec.after, finding=found,
                      facts=found.facts() if found is not None else {})
        if isinstance(found, NotApplicable):
            self.board.publish(phase)  # not a phase of this drill: on the board for the checks, not recorded
            return
        try:
            self.journal.add_phase(phase)
        finally:  # whatever a phase listener does, the stages after this one must not wait forever
            self.board.publish(phase)


def not_applicable(why: str) -> StageFn:
    """A stage function for a stage the mode does not have (the attach target restores nothing)."""
    return lambda note: NotApplicable(detail=f"not applicable: {why}")
