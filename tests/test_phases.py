from spdrill.journal import Check, Outcome, Phase
from spdrill.phases import critical_path, overhead, rto, waiting_time


def ph(name: str, start: float, end: float, after: tuple[str, ...] = (), outcome: Outcome = Outcome.OK) -> Phase:
    return Phase(name=name, branch="b", start=start, end=end, outcome=outcome, after=after)


PHASES = [
    ph("restore", 0, 2),
    ph("import-chain", 2, 10, ("restore",)),
    ph("start-daemon", 10, 11, ("import-chain",)),
    ph("sync", 11, 30, ("start-daemon",)),
    ph("start-worker", 2, 3, ("restore",)),
    ph("start-miner", 11, 13, ("start-daemon",)),
    ph("post-dry-run", 30, 35, ("sync", "start-miner")),
]


def test_critical_path_follows_latest_dependency() -> None:
    assert [p.name for p in critical_path(PHASES)] == ["restore", "import-chain", "start-daemon", "sync",
                                                       "post-dry-run"]


def test_critical_path_until_cuts_later_phases() -> None:
    assert critical_path(PHASES, until=13)[-1].name == "start-miner"


def test_critical_path_ignores_blocked() -> None:
    phases = [*PHASES, ph("late", 40, 40, ("post-dry-run",), Outcome.BLOCKED)]
    assert critical_path(phases)[-1].name == "post-dry-run"


def check(name: str, passed: bool, green: float | None, kind: str = "readiness") -> Check:
    return Check(name=name, title=name, kind=kind, passed=passed, message="", green_at=green)


def test_rto_is_last_green_readiness_check() -> None:
    assert rto([check("a", True, 12.0), check("b", True, 35.0), check("rto", True, 99.0, "objective")]) == 35.0


def test_rto_none_when_any_readiness_check_failed() -> None:
    assert rto([check("a", True, 12.0), check("b", False, None)]) is None
    assert rto([]) is None


def test_waiting_time_is_union_of_intervals() -> None:
    assert waiting_time(PHASES) == 35
    assert waiting_time([ph("a", 0, 2), ph("b", 5, 6)]) == 3


def test_overhead_is_uncovered_wall_time() -> None:
    assert overhead([ph("a", 0, 2), ph("b", 5, 6)], wall=7) == 4
    assert overhead(PHASES, wall=35.5) == 0.5
