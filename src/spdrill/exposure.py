"""Deadline-aware RTO and fault-fee exposure: what an outage of a given length would miss and cost.

Pure arithmetic on epochs (LOTUS-FACTS.md §e): a proving period is 48 deadlines of 60 epochs (2880
epochs, 24 h at 30 s). Deadline ``i`` of the period that starts at ``PeriodStart`` is open from
``PeriodStart + 60*i`` and closes 60 epochs later. A primary that fails at epoch ``t0`` and is replaced
by a standby ready at ``t1 = t0 + ceil(RTO / block delay)`` misses every deadline occurrence whose close
lies in ``(t0, t1]``: nobody can submit its WindowPoSt before it closes. (Pessimistic on purpose: Lotus
usually submits early in the window, but a drill must not count on it.) The occurrence open at ``t0`` is
spared only when all its partitions already have a PoSt submission this period.

Every missed occurrence turns the deadline's active sectors faulty, and each faulty sector pays a fault fee
of 3.51 days of its ``ExpectedDayReward`` per proving period (builtin-actors ``CONTINUED_FAULT_FACTOR``);
after 42 days of continuous fault the sector is terminated. Amounts are attoFIL integers; FIL floats only
for display. Nothing here reads a clock: epochs and seconds come in as arguments.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from spdrill.lotus.types import DeadlineInfo

__all__ = [
    "ATTO_PER_FIL",
    "FAULT_FEE_DAYS",
    "FAULT_MAX_AGE_DAYS",
    "DeadlineClock",
    "DeadlineLoad",
    "Exposure",
    "Miss",
    "days_left_before_termination",
    "deadline_problem",
    "exposure_at",
    "exposure_facts",
    "exposure_now",
    "fault_fee",
    "rto_epochs",
    "to_fil",
    "worst_case",
]

ATTO_PER_FIL = 10**18
FAULT_FEE_DAYS = 3.51  # shown to people; the arithmetic uses the exact ratio below
_FEE_NUM, _FEE_DEN = 351, 100  # builtin-actors CONTINUED_FAULT_FACTOR_NUM / _DENOM
FAULT_MAX_AGE_DAYS = 42
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class DeadlineClock:
    """Where the miner's proving period stands at one epoch (``StateMinerProvingDeadline``)."""

    current_epoch: int
    period_start: int
    index: int
    challenge_window: int = 60
    period_deadlines: int = 48
    proving_period: int = 2880

    @classmethod
    def from_info(cls, info: DeadlineInfo) -> DeadlineClock:
        """The clock of a ``StateMinerProvingDeadline`` answer."""
        return cls(info.current_epoch, info.period_start, info.index, info.wpost_challenge_window,
                   info.wpost_period_deadlines, info.wpost_proving_period)

    def close_of(self, index: int) -> int:
        """Close epoch of deadline ``index`` in the period that starts at ``period_start``."""
        return self.period_start + (index + 1) * self.challenge_window

    def first_close_after(self, index: int, epoch: int) -> int:
        """The first close of deadline ``index`` strictly after ``epoch``."""
        base = self.close_of(index)
        periods = -((base - epoch - 1) // self.proving_period)  # ceil((epoch + 1 - base) / period)
        return base + periods * self.proving_period


@dataclass(frozen=True, slots=True)
class DeadlineLoad:
    """What one deadline holds: partitions, active sectors, their summed expected day reward (attoFIL)."""

    index: int
    partitions: int
    sectors: int
    day_reward_atto: int
    proven: bool = False  # every partition already has a PoSt submission in the current period


@dataclass(frozen=True, slots=True)
class Miss:
    """A deadline an outage misses: how often, its first missed close, and the fault fees it triggers."""

    index: int
    first_close: int
    times: int
    partitions: int
    sectors: int
    fee_atto: int


@dataclass(frozen=True, slots=True)
class Exposure:
    """What an outage from ``failure_epoch`` lasting ``rto_seconds`` misses and what it costs."""

    failure_epoch: int
    recovery_epoch: int
    rto_seconds: float
    misses: tuple[Miss, ...]

    @property
    def missed_deadlines(self) -> tuple[int, ...]:
        """Indices of the deadlines missed at least once, in order of their first missed close."""
        return tuple(m.index for m in sorted(self.misses, key=lambda m: m.first_close))

    @property
    def partitions(self) -> int:
        """Partitions that would be faulted (each counted once)."""
        return sum(m.partitions for m in self.misses)

    @property
    def sectors(self) -> int:
        """Sectors that would be faulted (each counted once)."""
        return sum(m.sectors for m in self.misses)

    @property
    def fee_atto(self) -> int:
        """Fault fees over the whole outage: every missed occurrence charges its sectors once."""
        return sum(m.fee_atto for m in self.misses)

    @property
    def fee_per_day_atto(self) -> int:
        """Fault fees per day of outage: the faulted sectors x ExpectedDayReward x 3.51."""
        return sum(m.fee_atto // m.times for m in self.misses)

    @property
    def days_left(self) -> float:
        """Days of fault left before the faulted sectors are terminated (42 minus the outage)."""
        return days_left_before_termination(self.rto_seconds)

    def to_facts(self) -> dict[str, Any]:
        """Plain JSON for the journal's ``exposure`` fact (drill-record.schema.json ``exposure``)."""
        return {
            "rto_seconds": round(self.rto_seconds, 3),
            "failure_epoch": self.failure_epoch,
            "recovery_epoch": self.recovery_epoch,
            "missed_deadlines": list(self.missed_deadlines),
            "missed_partitions": self.partitions,
            "faulty_sectors": self.sectors,
            "fil_at_risk": to_fil(self.fee_atto),
            "fil_per_day": to_fil(self.fee_per_day_atto),
            "fee_atto": str(self.fee_atto),
            "days_to_termination": round(self.days_left, 3),
        }


def fault_fee(day_reward_atto: int) -> int:
    """The fault fee of one proving period for sectors of this summed expected day reward (x 3.51)."""
    return day_reward_atto * _FEE_NUM // _FEE_DEN


def to_fil(atto: int) -> float:
    """attoFIL as FIL, rounded to 9 decimals (nanoFIL) for display and JSON."""
    return round(atto / ATTO_PER_FIL, 9)


def rto_epochs(rto_seconds: float, block_delay: int = 30) -> int:
    """Whole epochs an outage of ``rto_seconds`` spans (a partial epoch counts in full)."""
    if rto_seconds < 0 or block_delay <= 0:
        raise ValueError(f"rto_seconds must be >= 0 and block_delay > 0, got {rto_seconds}, {block_delay}")
    return math.ceil(rto_seconds / block_delay)


def days_left_before_termination(rto_seconds: float) -> float:
    """Days of continuous fault left before termination after an outage of ``rto_seconds`` (>= 0)."""
    return max(0.0, FAULT_MAX_AGE_DAYS - rto_seconds / SECONDS_PER_DAY)


def exposure_at(loads: Iterable[DeadlineLoad], clock: DeadlineClock, *, failure_epoch: int,
                rto_seconds: float, block_delay: int = 30, proven_now: bool = False) -> Exposure:
    """The deadlines an outage from ``failure_epoch`` lasting ``rto_seconds`` misses.

    ``proven_now`` spares the occurrence open at ``failure_epoch`` for deadlines whose ``proven`` is set;
    only true when ``failure_epoch`` is the clock's own epoch, where PostSubmissions describe that window.
    """
    t1 = failure_epoch + rto_epochs(rto_seconds, block_delay)
    period = clock.proving_period
    misses = []
    for load in loads:
        if load.sectors == 0 and load.partitions == 0:
            continue
        first = clock.first_close_after(load.index, failure_epoch)
        if proven_now and load.proven and first - clock.challenge_window <= failure_epoch:
            first += period  # the open window already has its proofs on chain
        if first > t1:
            continue
        times = (t1 - first) // period + 1
        misses.append(Miss(load.index, first, times, load.partitions, load.sectors,
                           times * fault_fee(load.day_reward_atto)))
    return Exposure(failure_epoch, t1, rto_seconds, tuple(sorted(misses, key=lambda m: m.first_close)))


def exposure_now(loads: Sequence[DeadlineLoad], clock: DeadlineClock, rto_seconds: float,
                 block_delay: int = 30) -> Exposure:
    """If the primary failed at the clock's epoch and recovery took ``rto_seconds``."""
    return exposure_at(loads, clock, failure_epoch=clock.current_epoch, rto_seconds=rto_seconds,
                       block_delay=block_delay, proven_now=True)


def worst_case(loads: Sequence[DeadlineLoad], clock: DeadlineClock, rto_seconds: float,
               block_delay: int = 30) -> Exposure:
    """The costliest failure moment over one proving period (ties: most sectors, then earliest).

    What an outage misses changes only when its start or end crosses a close, so the worst window
    starts just before some close or ends exactly on one: 2 x 48 candidates cover the whole period.
    """
    span = rto_epochs(rto_seconds, block_delay)
    closes = [clock.close_of(load.index) for load in loads if load.sectors or load.partitions]
    if not closes:
        return exposure_at((), clock, failure_epoch=clock.current_epoch, rto_seconds=rto_seconds,
                           block_delay=block_delay)
    starts = sorted({c - 1 for c in closes} | {c - span for c in closes})
    best: Exposure | None = None
    for t0 in starts:
        candidate = exposure_at(loads, clock, failure_epoch=t0, rto_seconds=rto_seconds,
                                block_delay=block_delay)
        if best is None or (candidate.fee_atto, candidate.sectors) > (best.fee_atto, best.sectors):
            best = candidate
    assert best is not None
    return best


def exposure_facts(now: Exposure, worst: Exposure) -> dict[str, Any]:
    """The journal's ``exposure`` fact: the outage starting now, and the worst start flattened beside it."""
    facts = now.to_facts()
    for key in ("failure_epoch", "missed_deadlines", "missed_partitions", "faulty_sectors", "fil_at_risk",
                "fil_per_day"):
        facts[f"worst_{key}"] = worst.to_facts()[key]
    return facts


def deadline_problem(exposure: Exposure, must_not_miss: Collection[int] | str | None) -> str | None:
    """Why an outage misses a must-not-miss deadline (``"all"`` or indices); None when it misses none."""
    if must_not_miss is None:
        return None
    missed = exposure.missed_deadlines
    guarded = set(missed) if must_not_miss == "all" else set(must_not_miss) & set(missed)
    if not guarded:
        return None
    hit = [m for m in exposure.misses if m.index in guarded]
    listing = ", ".join(f"deadline {m.index} (closes at epoch {m.first_close}, {m.partitions} partition(s), "
                        f"{m.sectors} sectors)" for m in hit[:5])
    more = f" and {len(hit) - 5} more" if len(hit) > 5 else ""
    return (f"an outage starting at epoch {exposure.failure_epoch} with the measured RTO of "
            f"{exposure.rto_seconds:.0f}s ends at epoch {exposure.recovery_epoch} and misses must-not-miss "
            f"{listing}{more}: {to_fil(sum(m.fee_atto for m in hit))} FIL in fault fees. Shorten the "
            "critical path or keep a warm standby for these deadlines")
