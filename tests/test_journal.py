import threading
from datetime import UTC, datetime

import pytest

from spdrill.clock import FakeClock
from spdrill.findings import SyncFinding
from spdrill.journal import Journal, JournalBuilder, Outcome, Phase


def builder(clock: FakeClock, seen: list[Phase] | None = None) -> JournalBuilder:
    base = Journal(drill_id="d1", plan_name="p", plan_source="p.toml", plan_digest="0" * 64, actor="f01000",
                   target="local", started_at=datetime(2026, 11, 26, tzinfo=UTC), simulated=False, objectives={})
    return JournalBuilder(base, clock, on_phase=None if seen is None else seen.append)


def test_phase_records_times_outcome_and_detail() -> None:
    clock = FakeClock()
    seen: list[Phase] = []
    j = builder(clock, seen)
    with j.phase("sync", branch="daemon", after=("start-daemon",)) as note:
        clock.advance(12.5)
        note.detail = "height 10"
        note.finding = SyncFinding(epochs_behind=0)
    p = j.freeze().phases[0]
    assert (p.name, p.branch, p.start, p.end, p.duration, p.outcome) == ("sync", "daemon", 0, 12.5, 12.5, Outcome.OK)
    assert p.detail == "height 10" and p.facts == {"epochs_behind": 0} and p.after == ("start-daemon",)
    assert p.finding == SyncFinding(epochs_behind=0)
    assert seen == [p]


def test_failed_phase_is_recorded_and_reraised() -> None:
    clock = FakeClock()
    j = builder(clock)
    with pytest.raises(RuntimeError), j.phase("import-chain"):
        clock.advance(1)
        raise RuntimeError("truncated CAR")
    p = j.freeze().phases[0]
    assert p.outcome is Outcome.FAILED and p.detail == "truncated CAR"


def test_interrupt_marks_aborted() -> None:
    j = builder(FakeClock())
    with pytest.raises(KeyboardInterrupt), j.phase("sync"):
        raise KeyboardInterrupt
    assert j.freeze().phases[0].outcome is Outcome.ABORTED


def test_journal_is_frozen_and_threadsafe() -> None:
    j = builder(FakeClock())

    def work(i: int) -> None:
        for k in range(50):
            with j.phase(f"p{i}-{k}"):
                pass

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    journal = j.freeze()
    assert len(journal.phases) == 200
    with pytest.raises(AttributeError):
        journal.drill_id = "x"  # type: ignore[misc]


def test_version_marks_simulated() -> None:
    j = builder(FakeClock())
    j.version("lotus", "1.36.2+lotus-sim", simulated=True)
    assert j.freeze().simulated
