"""The stage graph and its runner, fast, with fake stages under a FakeClock: what runs when, what is blocked,
what a failure means for the exit code, when a check turns green, and a stop mid-run."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from spdrill.bringup import GRAPH
from spdrill.bringup.graph import Graph, GraphRunner, StageBoard, StageFn, StageSpec, Verdict, not_applicable
from spdrill.clock import FakeClock
from spdrill.errors import DrillError, TargetError, UsageError
from spdrill.failover import failover_graph
from spdrill.findings import Finding, StageProblem, SyncFinding
from spdrill.journal import Check, Journal, JournalBuilder, Outcome, PhaseNote
from spdrill.phases import critical_path, rto

SMALL = Graph({
    "restore": StageSpec("main", ()),
    "start-daemon": StageSpec("daemon", ("restore",)),
    "sync": StageSpec("daemon", ("start-daemon",)),
    "start-worker": StageSpec("worker", ("restore",)),
    "start-miner": StageSpec("miner", ("start-daemon",)),
    "check-provable": StageSpec("miner", ("start-miner",)),
    "post-dry-run": StageSpec("miner", ("sync", "start-worker", "check-provable")),
    "reconcile": StageSpec("chain", ("check-provable",), reads=("check-provable",)),
})


def journal(clock: FakeClock) -> JournalBuilder:
    base = Journal(drill_id="d1", plan_name="p", plan_source="p.toml", plan_digest="0" * 64, actor="f01000",
                   target="fake", started_at=datetime(2026, 11, 26, tzinfo=UTC), simulated=True, objectives={})
    return JournalBuilder(base, clock)


def takes(clock: FakeClock, seconds: float, detail: str = "ok") -> StageFn:
    """A stage that takes `seconds` of drill time (serialised: the fake clock is shared)."""
    lock = threading.Lock()

    def stage(note: PhaseNote) -> Finding:
        with lock:
            clock.advance(seconds)
        return Finding(detail=detail)

    return stage


def fails(exc: BaseException) -> StageFn:
    def stage(note: PhaseNote) -> Finding:
        note.finding = SyncFinding(height=7)  # what it saw before it failed
        raise exc

    return stage


def run(graph: Graph, table: dict[str, StageFn], clock: FakeClock | None = None,
        judge: object = None) -> tuple[GraphRunner, JournalBuilder]:
    clock = clock or FakeClock()
    j = journal(clock)
    board = StageBoard(graph)
    kwargs = {} if judge is None else {"judge": judge}
    runner = GraphRunner(graph, table, j, board, **kwargs)  # type: ignore[arg-type]
    done = threading.Thread(target=runner.run)
    done.start()
    done.join(timeout=10)
    assert not done.is_alive(), "the graph runner hung"
    return runner, j


def ok_table(clock: FakeClock) -> dict[str, StageFn]:
    return {name: takes(clock, 1.0, f"{name} done") for name in SMALL}


def test_every_stage_runs_after_its_dependencies() -> None:
    clock = FakeClock()
    runner, j = run(SMALL, ok_table(clock), clock)
    phases = {p.name: p for p in j.freeze().phases}
    assert set(phases) == set(SMALL)
    for name, spec in SMALL.items():
        for dep in spec.after:
            assert phases[dep].end <= phases[name].start, (name, dep)
    assert all(p.outcome is Outcome.OK for p in phases.values())
    assert runner.cannot_run is None


def test_a_failure_blocks_what_runs_after_it_and_keeps_the_partial_finding() -> None:
    clock = FakeClock()
    table = ok_table(clock)
    table["sync"] = fails(StageProblem("chain sync: not ready"))
    _, j = run(SMALL, table, clock)
    phases = {p.name: p for p in j.freeze().phases}
    assert phases["sync"].outcome is Outcome.FAILED and phases["sync"].detail == "chain sync: not ready"
    assert phases["sync"].finding == SyncFinding(height=7) and phases["sync"].facts == {"height": 7}
    assert phases["post-dry-run"].outcome is Outcome.BLOCKED
    assert phases["post-dry-run"].detail == "blocked: sync failed"
    assert phases["check-provable"].outcome is Outcome.OK  # another branch goes on


def test_a_stage_that_only_reads_findings_runs_when_that_stage_failed() -> None:
    clock = FakeClock()
    table = ok_table(clock)
    table["check-provable"] = fails(StageProblem("2 sectors not provable"))
    _, j = run(SMALL, table, clock)
    phases = {p.name: p for p in j.freeze().phases}
    assert phases["reconcile"].outcome is Outcome.OK
    assert phases["post-dry-run"].outcome is Outcome.BLOCKED


def test_a_blocked_stage_blocks_its_readers_too() -> None:
    clock = FakeClock()
    table = ok_table(clock)
    table["start-miner"] = fails(DrillError("lotus-miner exited"))
    _, j = run(SMALL, table, clock)
    phases = {p.name: p for p in j.freeze().phases}
    assert phases["check-provable"].outcome is Outcome.BLOCKED
    assert phases["reconcile"].outcome is Outcome.BLOCKED


def test_the_judge_decides_could_not_run_and_a_finding_is_not() -> None:
    clock = FakeClock()
    table = ok_table(clock)
    table["restore"] = fails(TargetError("no Docker engine answers"))
    runner, j = run(SMALL, table, clock, judge=lambda stage, exc: Verdict(str(exc), isinstance(exc, TargetError)))
    assert isinstance(runner.cannot_run, TargetError)
    assert {p.name for p in j.freeze().phases if p.outcome is Outcome.BLOCKED} == set(SMALL) - {"restore"}

    table = ok_table(clock)
    table["sync"] = fails(StageProblem("daemon exited"))
    runner, _ = run(SMALL, table, clock, judge=lambda stage, exc: Verdict(str(exc), True))
    assert runner.cannot_run is None  # a stage's own finding never reaches the judge


def test_a_crash_is_recorded_with_its_type_and_teardown_goes_on() -> None:
    clock = FakeClock()
    table = ok_table(clock)
    table["start-worker"] = fails(KeyError("worker"))
    _, j = run(SMALL, table, clock)
    worker = next(p for p in j.freeze().phases if p.name == "start-worker")
    assert worker.outcome is Outcome.FAILED and "worker" in worker.detail


def test_the_rto_moment_is_the_end_of_the_stage_a_check_reads() -> None:
    clock = FakeClock()
    table = ok_table(clock)
    table["post-dry-run"] = takes(clock, 30.0, "proved")
    _, j = run(SMALL, table, clock)
    clock.advance(100)  # pytest runs the check long after the stage ended
    phase = StageBoard(SMALL)
    for p in j.freeze().phases:
        phase.publish(p)
    post = phase.wait("post-dry-run")
    assert post.end < clock.elapsed() - 99
    check = Check(name="test_windowpost_dry_run", title="dry-run", kind="readiness", passed=True, message="",
                  green_at=post.end)
    assert rto([check]) == post.end
    path = [p.name for p in critical_path(j.freeze().phases, until=post.end)]
    assert path[0] == "restore" and path[-1] == "post-dry-run"


def test_stop_blocks_every_stage_not_yet_started() -> None:
    clock = FakeClock()
    gate = threading.Event()
    started = threading.Event()
    runner: GraphRunner | None = None

    def slow(note: PhaseNote) -> Finding:
        started.set()
        gate.wait(5)
        return Finding(detail="restored")

    table = ok_table(clock)
    table["restore"] = slow
    j = journal(clock)
    board = StageBoard(SMALL)
    runner = GraphRunner(SMALL, table, j, board)
    t = threading.Thread(target=runner.run)
    t.start()
    assert started.wait(5)
    runner.stop()  # Ctrl-C: the drill closes while restore runs
    gate.set()
    t.join(5)
    phases = {p.name: p for p in j.freeze().phases}
    assert phases["restore"].outcome is Outcome.OK
    assert all(phases[n].outcome is Outcome.BLOCKED for n in SMALL if n != "restore")
    assert phases["start-daemon"].detail == phases["start-worker"].detail == "blocked: drill stopped"
    assert board.wait("sync").blocked


def test_not_applicable_stages_are_on_the_board_but_not_in_the_journal() -> None:
    clock = FakeClock()
    table = ok_table(clock)
    table["restore"] = not_applicable("the attach target restores nothing")
    j = journal(clock)
    board = StageBoard(SMALL)
    GraphRunner(SMALL, table, j, board).run()
    assert board.wait("restore").not_applicable and board.wait("restore").ok
    assert "restore" not in {p.name for p in j.freeze().phases}
    assert board.wait("start-daemon").ok


def test_a_stage_name_the_graph_lacks_is_an_error_at_once() -> None:
    board = StageBoard(GRAPH)
    with pytest.raises(UsageError, match="no bring-up stage named 'post-dryrun'"):
        board.wait("post-dryrun", timeout=60)


def test_graphs_are_checked_when_made() -> None:
    with pytest.raises(ValueError, match="unknown stage"):
        Graph({"a": StageSpec("main", ("b",))})
    with pytest.raises(ValueError, match="cycle"):
        Graph({"a": StageSpec("main", ("b",)), "b": StageSpec("main", ("a",))})
    with pytest.raises(ValueError, match="reads stages it does not run after"):
        Graph({"a": StageSpec("main", ()), "b": StageSpec("main", (), reads=("a",))})


def test_the_runner_wants_a_function_for_every_stage() -> None:
    with pytest.raises(ValueError, match="no stage function"):
        GraphRunner(SMALL, {}, journal(FakeClock()), StageBoard(SMALL))


@pytest.mark.parametrize("nosync", [False, True])
def test_failover_is_data_init_restore_before_the_miner(nosync: bool) -> None:
    graph = failover_graph(GRAPH, nosync)
    order = graph.order()
    assert order.index("fence") < order.index("init-restore") < order.index("start-miner")
    assert graph["start-miner"].after == ("init-restore",)
    assert graph["start-worker"].after == ("start-miner",)
    assert ("sync" in graph["init-restore"].after) is not nosync
    assert "init-restore" not in GRAPH


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_phase_listener_that_fails_never_leaves_later_stages_waiting() -> None:
    clock = FakeClock()
    base = Journal(drill_id="d1", plan_name="p", plan_source="p.toml", plan_digest="0" * 64, actor="f01000",
                   target="fake", started_at=datetime(2026, 11, 26, tzinfo=UTC), simulated=True, objectives={})

    def broken(phase: object) -> None:
        raise OSError("the terminal went away")

    j = JournalBuilder(base, clock, on_phase=broken)
    board = StageBoard(SMALL)
    done = threading.Thread(target=GraphRunner(SMALL, ok_table(clock), j, board).run)
    done.start()
    done.join(timeout=10)
    assert not done.is_alive()
    assert all(board.wait(name).ok for name in SMALL)
