"""One drill: a plan, a target, the bring-up running in the background, the stage board the checks read,
and a teardown that always runs."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from spdrill.bringup import BringUp, Endpoints
from spdrill.clock import Clock, DrillClock
from spdrill.errors import DrillError
from spdrill.failover import FailoverMode
from spdrill.findings import Finding, NotApplicable
from spdrill.journal import Check, Journal, JournalBuilder, Phase
from spdrill.plan import Plan
from spdrill.redact import redact
from spdrill.targets import Target, make_target

log = logging.getLogger("spdrill.drill")
F = TypeVar("F", bound=Finding)


def new_drill_id(now: datetime | None = None) -> str:
    """A sortable, label-safe id: UTC time plus randomness (`20261126T131500Z-3f9a1c`)."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class Drill:
    """Owns one drill run from start to teardown; drills (pytest tests) only read from it."""

    def __init__(self, plan: Plan, *, target: Target | None = None, clock: Clock | None = None,
                 drill_id: str | None = None, on_phase: Callable[[Phase], None] | None = None,
                 failover: FailoverMode | None = None) -> None:
        self.plan = plan
        self.clock = clock or DrillClock()
        self.id = drill_id or new_drill_id()
        self.target = target or make_target(plan)
        base = Journal(drill_id=self.id, plan_name=plan.name, plan_source=plan.source, plan_digest=plan.digest,
                       actor=plan.actor, target=plan.target.kind, started_at=self.clock.wall(), simulated=False,
                       objectives={"rto_seconds": plan.objectives.rto, "rpo_seconds": plan.objectives.rpo,
                                   "post_margin_seconds": plan.objectives.post_margin})
        self.journal = JournalBuilder(base, self.clock, on_phase=on_phase)
        self.bringup = BringUp(plan, self.target, self.journal, failover_mode=failover)
        self.board = self.bringup.board
        self._thread: threading.Thread | None = None
        self._touched = threading.local()
        self._closed = False
        self.logs: dict[str, str] = {}

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the bring-up in the background; checks wait on its stages."""
        self._thread = threading.Thread(target=self.bringup.run, name=f"drill-{self.id}", daemon=True)
        self._thread.start()

    @property
    def endpoints(self) -> Endpoints:
        """The standby's API addresses and tokens, filled in as its roles come up."""
        return self.bringup.ep

    @property
    def failover(self) -> FailoverMode | None:
        """The confirmed failover this drill runs in, or None for an ordinary drill."""
        return self.bringup.failover

    @property
    def cannot_run(self) -> DrillError | None:
        """Set when the target or an API could not be reached at all (exit code 3)."""
        return self.bringup.cannot_run

    def close(self) -> Journal:
        """Stop everything the drill started and destroy its workspaces; safe to call twice."""
        if self._closed:
            return self.journal.freeze()
        self._closed = True
        if self.cannot_run is not None:
            self.journal.cannot_run(self.could_not_run_cause())
        self.bringup.stop()
        errors: list[str] = []
        try:
            self.target.stop_processes()
        except Exception as exc:  # teardown must go on
            errors.append(f"stopping processes: {exc}")
        self.logs = {role: redact(text) for role, text in self.target.logs().items()}
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.bringup.release()
        restored = self.bringup.standby.restored
        if restored is not None:
            try:
                restored.destroy()
            except Exception as exc:
                errors.append(str(exc))
        try:
            self.target.close()
        except Exception as exc:
            errors.append(f"closing the target: {exc}")
        if errors:
            self.journal.fact("teardown_errors", "; ".join(errors))
            log.error("teardown: %s", "; ".join(errors))
        return self.journal.freeze()

    # -- what drills read ------------------------------------------------------------------------------
    def stage(self, name: str) -> Phase:
        """Wait for a stage's phase (what it found is `.finding`); remembers it so the check's green time is that
        stage's end. A name the stage graph lacks is a UsageError at once."""
        result = self.board.wait(name)
        touched: list[Phase] = getattr(self._touched, "stages", [])
        touched.append(result)
        self._touched.stages = touched
        return result

    def could_not_run_cause(self) -> str:
        """The first line of why spdrill could not run the drill (the journal records it at close)."""
        cause = redact(str(self.cannot_run or "")).strip().splitlines()
        return cause[0] if cause else "the drill could not run"

    def finding(self, name: str, kind: type[F]) -> F | None:
        """What stage `name` found, as the finding type it returns (None when it found nothing, or failed before)."""
        found = self.stage(name).finding
        if found is None or isinstance(found, NotApplicable):
            return None
        if not isinstance(found, kind):
            raise TypeError(f"stage {name!r} finds {type(found).__name__}, not {kind.__name__}")
        return found

    def begin_check(self) -> None:
        self._touched.stages = []

    def end_check(self, name: str, title: str, kind: str, passed: bool, message: str, duration: float) -> Check:
        """Record a check; its green time is when the last stage it read finished (not when pytest ran it)."""
        touched: list[Phase] = getattr(self._touched, "stages", [])
        green = max((s.end for s in touched), default=self.clock.elapsed()) if passed else None
        check = Check(name=name, title=title, kind=kind, passed=passed, message=redact(message),
                      green_at=green, duration=duration)
        self.journal.add_check(check)
        return check

    def note_skipped(self, title: str, reason: str) -> None:
        """Remember a check that did not run (listed in the summary and the record's facts)."""
        self.journal.skip_check(title, reason)

    def checks(self) -> tuple[Check, ...]:
        return self.journal.freeze().checks


def default_reports_dir(plan: Plan, drill_id: str) -> Path:
    """reports/<drill id>/ under the plan's reports folder."""
    return plan.reports / drill_id


def is_tty() -> bool:
    return os.isatty(1)
