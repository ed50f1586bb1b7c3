import pytest

from spdrill.clock import FakeClock
from spdrill.errors import LotusRPCError, LotusUnreachableError, SafetyError
from spdrill.waits import POLL_INTERVAL, ProbeGaveUp, Stall, WaitStalled, WaitTimeout, wait_for


def test_wait_returns_once_ready_and_polls_within_a_second() -> None:
    clock = FakeClock()
    calls = []

    def probe() -> tuple[bool, str]:
        calls.append(clock.elapsed())
        return clock.elapsed() >= 5, f"t={clock.elapsed()}"

    assert wait_for(probe, what="x", deadline=60, sleep=clock.sleep) == "t=5.0"
    assert POLL_INTERVAL <= 1.0
    assert all(b - a <= 1.0 for a, b in zip(calls, calls[1:], strict=False))


def test_wait_times_out_naming_what_it_saw() -> None:
    clock = FakeClock()
    with pytest.raises(WaitTimeout, match=r"chain sync: not ready after 10s \(last seen: 7 epochs behind\)"):
        wait_for(lambda: (False, "7 epochs behind"), what="chain sync", deadline=10, sleep=clock.sleep)


def test_transient_errors_are_retried() -> None:
    clock = FakeClock()
    state = {"n": 0}

    def probe() -> tuple[bool, str]:
        state["n"] += 1
        if state["n"] < 3:
            raise LotusUnreachableError("connection refused")
        return True, "up"

    assert wait_for(probe, what="api", deadline=10, sleep=clock.sleep) == "up"


def test_transient_error_until_deadline_reports_it() -> None:
    clock = FakeClock()

    def probe() -> tuple[bool, str]:
        raise LotusUnreachableError("connection refused")

    with pytest.raises(WaitTimeout, match="connection refused"):
        wait_for(probe, what="api", deadline=3, sleep=clock.sleep)


def test_gave_up_stops_at_once() -> None:
    clock = FakeClock()

    def probe() -> tuple[bool, str]:
        raise ProbeGaveUp("daemon exited with code 1")

    with pytest.raises(ProbeGaveUp):
        wait_for(probe, what="sync", deadline=100, sleep=clock.sleep)
    assert clock.elapsed() == 0


def test_an_api_still_loading_is_retried_but_a_finding_is_not() -> None:
    """An API may answer with an error while it loads (the stand-in: "chain state is still loading"); any Lotus
    error is transient by default, as it was when every Lotus error was a CannotRunError."""
    clock = FakeClock()
    state = {"n": 0}

    def loading() -> tuple[bool, str]:
        state["n"] += 1
        if state["n"] < 3:
            raise LotusRPCError("Filecoin.ChainHead", 1, "chain state is still loading")
        return True, "loaded"

    assert wait_for(loading, what="api", deadline=10, sleep=clock.sleep) == "loaded"

    def fenced() -> tuple[bool, str]:
        raise SafetyError("keys on the standby")

    with pytest.raises(SafetyError):
        wait_for(fenced, what="api", deadline=10, sleep=clock.sleep)
    assert clock.elapsed() < 1.0


def test_a_wait_whose_progress_stops_ends_at_the_stall_limit_not_the_deadline() -> None:
    """`lotus sync wait` polls forever (cli/sync.go:249-352, no limit); spdrill's stall is its own policy:
    a mark that does not move for `limit` seconds ends the wait at once, naming what stopped."""
    clock = FakeClock()
    stall = Stall(3.0, now=clock.elapsed)
    heights = iter([100, 101, 102, 102, 102, 102, 102, 102, 102, 102, 102, 102, 102, 102, 102, 102])

    def probe() -> tuple[bool, str]:
        h = next(heights)
        stall.observe(h, lambda secs: f"head stuck at height {h} for {secs:.2f}s")
        return False, f"height {h}"

    with pytest.raises(WaitStalled, match=r"head stuck at height 102 for 3\.00s"):
        wait_for(probe, what="chain sync", deadline=3600, sleep=clock.sleep)
    assert clock.elapsed() == pytest.approx(0.25 * 14)  # moved until 102 (two polls), then 3 s unchanged


def test_a_moving_mark_never_stalls() -> None:
    clock = FakeClock()
    stall = Stall(1.0, now=clock.elapsed)
    for height in range(100):
        stall.observe(height, lambda secs: "stuck")
        clock.advance(0.9)
