"""Deadline-aware RTO and fault-fee exposure: deadline math, misses, fees, the worst case, the plan check."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spdrill.exposure import (
    ATTO_PER_FIL,
    DeadlineClock,
    DeadlineLoad,
    days_left_before_termination,
    deadline_problem,
    exposure_at,
    exposure_now,
    fault_fee,
    rto_epochs,
    to_fil,
    worst_case,
)
from spdrill.lotus.types import DeadlineInfo

# The real StateMinerProvingDeadline of lotus issue #4156 (LOTUS-FACTS.md §e).
REAL = DeadlineInfo(114320, 114090, 3, 114270, 114330, 114250, 114200, 48, 2880, 60, 20, 70)
REWARD = 2 * 10**15  # attoFIL per sector per day, about a 32 GiB sector's


def _clock(epoch: int = 114320) -> DeadlineClock:
    return DeadlineClock(epoch, 114090, (epoch - 114090) // 60)


def _load(index: int, sectors: int = 10, partitions: int = 1, proven: bool = False) -> DeadlineLoad:
    return DeadlineLoad(index, partitions, sectors, sectors * REWARD, proven)


def test_clock_matches_the_real_deadline_example() -> None:
    clock = DeadlineClock.from_info(REAL)
    assert clock.close_of(REAL.index) == REAL.close
    assert clock.close_of(REAL.index) - 60 == REAL.open
    assert clock.first_close_after(3, REAL.current_epoch) == REAL.close
    assert clock.first_close_after(2, REAL.current_epoch) == REAL.close - 60 + 2880  # closed: next period
    assert clock.first_close_after(3, REAL.close) == REAL.close + 2880  # a close at t0 is not after t0


def test_rto_epochs_rounds_up() -> None:
    assert rto_epochs(0) == 0 and rto_epochs(1) == 1 and rto_epochs(30) == 1 and rto_epochs(31) == 2
    assert rto_epochs(10, block_delay=4) == 3
    with pytest.raises(ValueError):
        rto_epochs(-1)


def test_no_outage_misses_nothing() -> None:
    exp = exposure_now([_load(i) for i in range(48)], _clock(), 0)
    assert exp.misses == () and exp.fee_atto == 0 and exp.days_left == 42


def test_outage_misses_exactly_the_deadlines_closing_inside_it() -> None:
    loads = [_load(3), _load(4, sectors=5), _load(6, sectors=7, partitions=2)]
    # t0 = 114320, current deadline 3 closes at 114330; deadline 4 at 114390; deadline 6 at 114510.
    assert exposure_now(loads, _clock(), 9 * 30).missed_deadlines == ()  # ready at 114329: in time
    assert exposure_now(loads, _clock(), 10 * 30).missed_deadlines == (3,)  # ready at the close: missed
    exp = exposure_now(loads, _clock(), 70 * 30)  # ready at 114390
    assert exp.missed_deadlines == (3, 4)
    assert (exp.sectors, exp.partitions) == (15, 2)
    assert exp.fee_atto == fault_fee(15 * REWARD) == 15 * REWARD * 351 // 100
    assert exp.to_facts()["missed_deadlines"] == [3, 4]


def test_a_proven_open_deadline_is_spared_only_now() -> None:
    loads = [_load(3, proven=True)]
    assert exposure_now(loads, _clock(), 3600).missed_deadlines == ()
    assert exposure_now([_load(3)], _clock(), 3600).missed_deadlines == (3,)  # the fault the flag guards
    # Its next occurrence, a day later, is missed by a long enough outage.
    assert exposure_now(loads, _clock(), 25 * 3600).missed_deadlines == (3,)
    # At another failure epoch the proofs of today's window say nothing: no spare.
    assert exposure_at(loads, _clock(), failure_epoch=114280, rto_seconds=3600).missed_deadlines == (3,)


def test_an_outage_over_a_day_charges_deadlines_again() -> None:
    loads = [_load(i) for i in range(48)]
    exp = exposure_now(loads, _clock(), 25 * 3600)  # 3000 epochs: 120 past one period
    times = {m.index: m.times for m in exp.misses}
    assert set(times) == set(range(48))
    assert sorted(times.values()).count(2) == 2  # deadlines 3 and 4 close twice inside (114320, 117320]
    assert exp.fee_atto == 50 * fault_fee(10 * REWARD)
    assert exp.fee_per_day_atto == 48 * fault_fee(10 * REWARD)
    assert exp.sectors == 480


def test_empty_deadlines_are_never_missed() -> None:
    exp = exposure_now([_load(i, sectors=0, partitions=0) for i in range(48)], _clock(), 48 * 3600)
    assert exp.misses == ()


def test_fee_and_fil_figures() -> None:
    assert fault_fee(100) == 351
    assert to_fil(351 * ATTO_PER_FIL // 100) == 3.51
    exp = exposure_now([_load(3, sectors=1)], _clock(), 3600)
    assert exp.to_facts()["fil_at_risk"] == to_fil(fault_fee(REWARD)) == 0.00702
    assert exp.to_facts()["fil_per_day"] == 0.00702


def test_days_left_before_termination() -> None:
    assert days_left_before_termination(0) == 42
    assert days_left_before_termination(86_400 * 2.5) == 39.5
    assert days_left_before_termination(86_400 * 50) == 0


def test_worst_case_starts_just_before_the_heaviest_close() -> None:
    loads = [_load(0), _load(10, sectors=100), _load(11, sectors=1), _load(30, sectors=50)]
    worst = worst_case(loads, _clock(), 30 * 30)  # a 30-epoch outage covers at most one close
    assert worst.missed_deadlines == (10,)
    wider = worst_case(loads, _clock(), 61 * 30)  # 61 epochs can cover deadlines 10 and 11
    assert wider.missed_deadlines == (10, 11) and wider.sectors == 101


loads_st = st.dictionaries(st.integers(0, 47), st.tuples(st.integers(0, 50), st.booleans()), max_size=12).map(
    lambda d: [DeadlineLoad(i, 1 if n else 0, n, n * REWARD, proven) for i, (n, proven) in d.items()])


@settings(max_examples=40, deadline=None)
@given(loads=loads_st, rto=st.integers(0, 4 * 2880 * 30), t0=st.integers(114090, 114090 + 2879))
def test_worst_case_bounds_every_failure_moment(loads: list[DeadlineLoad], rto: int, t0: int) -> None:
    clock = _clock()
    worst = worst_case(loads, clock, rto)
    some = exposure_at(loads, clock, failure_epoch=t0, rto_seconds=rto)
    assert (some.fee_atto, some.sectors) <= (worst.fee_atto, worst.sectors)
    again = exposure_at(loads, clock, failure_epoch=worst.failure_epoch, rto_seconds=rto)
    assert again == worst  # the worst case is a real failure moment, reproducible


@settings(max_examples=5, deadline=None)
@given(loads=loads_st, rto=st.integers(0, 3 * 3600))
def test_worst_case_equals_brute_force(loads: list[DeadlineLoad], rto: int) -> None:
    clock = _clock()
    every = (exposure_at(loads, clock, failure_epoch=t, rto_seconds=rto) for t in range(114090, 116970))
    brute = max(every, key=lambda e: (e.fee_atto, e.sectors))
    assert worst_case(loads, clock, rto).fee_atto == brute.fee_atto


@given(loads=loads_st, rto=st.integers(0, 2880 * 30), t0=st.integers(0, 10**7))
def test_a_longer_outage_never_costs_less(loads: list[DeadlineLoad], rto: int, t0: int) -> None:
    clock = _clock()
    short = exposure_at(loads, clock, failure_epoch=t0, rto_seconds=rto)
    long = exposure_at(loads, clock, failure_epoch=t0, rto_seconds=rto + 60)
    assert short.fee_atto <= long.fee_atto and set(short.missed_deadlines) <= set(long.missed_deadlines)


def test_deadline_problem_names_the_guarded_deadline() -> None:
    exp = exposure_now([_load(3), _load(4), _load(20)], _clock(), 70 * 30)
    assert exp.missed_deadlines == (3, 4)
    assert deadline_problem(exp, None) is None
    assert deadline_problem(exp, [20, 21]) is None
    problem = deadline_problem(exp, [4, 20])
    assert problem is not None and "deadline 4 " in problem and "deadline 3 " not in problem
    every = deadline_problem(exp, "all")
    assert every is not None and "deadline 3 " in every and "FIL in fault fees" in every
    assert deadline_problem(exposure_now([_load(3)], _clock(), 0), "all") is None
