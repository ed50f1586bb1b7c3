"""On-chain reconciliation: the chain's sectors per deadline against the restored miner and its storage.

Pure: it takes typed results (partitions per deadline, the restored miner's ``SectorsList``, the bad
sectors ``CheckProvable`` named, the sectors of the metadata backup) and builds the table a drill asserts
on and a person reads. Sector sets are handled as intervals of their run-length bitfields, so a
million-sector miner whose sectors sit in long runs costs a few thousand steps, not a million.

Per deadline (only deadlines with partitions get a row):

    on_chain      live sectors (StateMinerPartitions LiveSectors)
    active/faulty/recovering   the chain's own split of the live sectors
    known         live sectors the restored miner's SectorsList has
    provable      live sectors CheckProvable did not report bad on the standby's storage
    missing       live sectors whose sealed or cache files CheckProvable found missing or damaged: a PoSt
                  would skip them and they would turn faulty
    not_in_state  live sectors CheckProvable could not judge: the restored miner's sealing state lacks them
                  (``getting commR``, Lotus storage/sealer/faults.go:79-83), typically sealed after the backup.
                  Not counted as missing: the PoSt dry-run, which uses on-chain sealed CIDs, judges their storage
    after_backup  live sectors absent from the metadata backup (the RPO counted in sectors); without a
                  backup to compare, the restored miner's SectorsList stands for it
    day_reward_atto   summed ExpectedDayReward (attoFIL) of the active sectors
    proven        every partition already has a PoSt submission in the current proving period
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import accumulate
from typing import Any

from spdrill.errors import InputError
from spdrill.exposure import DeadlineClock, DeadlineLoad
from spdrill.journal import Fact
from spdrill.lotus.bitfield import Bitfield
from spdrill.lotus.miner import split_provable_bad
from spdrill.lotus.types import Partition

__all__ = ["DeadlineRow", "Intervals", "ReconciliationReport", "build_report", "count", "intersect",
           "intervals", "intervals_of", "not_in_state_note", "provable_problem", "subtract", "tabulate",
           "union"]

Intervals = list[tuple[int, int]]  # sorted, disjoint, half-open [start, end)
MISSING_SAMPLE = 20  # sectors named in the report; the counts carry the rest


def intervals(field: Bitfield) -> Intervals:
    """The runs of set bits of a bitfield as half-open intervals."""
    ends = list(accumulate(field.runs()))
    return list(zip(ends[0::2], ends[1::2], strict=False))


def intervals_of(numbers: Iterable[int]) -> Intervals:
    """Intervals covering a collection of sector numbers (any order, duplicates allowed)."""
    out: Intervals = []
    start = end = -1
    for n in sorted(set(numbers)):
        if n != end:
            if end >= 0:
                out.append((start, end))
            start = n
        end = n + 1
    if end >= 0:
        out.append((start, end))
    return out


def union(parts: Iterable[Intervals]) -> Intervals:
    """The union of several interval lists."""
    out: Intervals = []
    for s, e in sorted(iv for part in parts for iv in part):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def intersect(a: Intervals, b: Intervals) -> Intervals:
    """The intervals in both ``a`` and ``b`` (a two-pointer merge)."""
    out: Intervals = []
    i = j = 0
    while i < len(a) and j < len(b):
        s, e = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if s < e:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Intervals, b: Intervals) -> Intervals:
    """The intervals in ``a`` and not in ``b``."""
    out: Intervals = []
    j = 0
    for s, e in a:
        while j < len(b) and b[j][1] <= s:
            j += 1
        k = j
        while s < e and k < len(b) and b[k][0] < e:
            if b[k][0] > s:
                out.append((s, b[k][0]))
            s = max(s, b[k][1])
            k += 1
        if s < e:
            out.append((s, e))
    return out


def count(iv: Intervals) -> int:
    """How many sector numbers the intervals cover."""
    return sum(e - s for s, e in iv)


def _first(iv: Intervals, n: int) -> list[int]:
    out: list[int] = []
    for s, e in iv:
        out.extend(range(s, min(e, s + n - len(out))))
        if len(out) >= n:
            break
    return out


@dataclass(frozen=True, slots=True)
class DeadlineRow:
    """One deadline's line of the reconciliation table (see the module docstring)."""

    deadline: int
    partitions: int
    on_chain: int
    active: int
    faulty: int
    recovering: int
    known: int
    provable: int
    missing: int
    after_backup: int
    day_reward_atto: int
    proven: bool
    not_in_state: int = 0

    def load(self) -> DeadlineLoad:
        """What an outage would fault in this deadline (its active sectors)."""
        return DeadlineLoad(self.deadline, self.partitions, self.active, self.day_reward_atto, self.proven)


def tabulate(partitions: Sequence[Sequence[Partition]], *, known: Intervals, bad: Mapping[int, str],
             backup: Intervals | None, day_rewards: Mapping[int, int],
             post_submissions: Sequence[Bitfield] = ()) -> tuple[tuple[DeadlineRow, ...], Intervals]:
    """The per-deadline rows and the intervals of all missing sectors (files bad, not `getting commR`)."""
    files_bad, not_in_state = split_provable_bad(bad)
    bad_iv, unknown_iv = intervals_of(files_bad), intervals_of(not_in_state)
    rows: list[DeadlineRow] = []
    missing_all: list[Intervals] = []
    for dl, parts in enumerate(partitions):
        if not parts:
            continue
        live = union(intervals(p.live_sectors) for p in parts)
        known_live = intersect(live, known)
        missing = intersect(live, bad_iv)
        unknown = count(intersect(live, unknown_iv))
        missing_all.append(missing)
        after = subtract(live, backup if backup is not None else known)
        submitted = post_submissions[dl] if dl < len(post_submissions) else Bitfield()
        rows.append(DeadlineRow(
            deadline=dl, partitions=len(parts), on_chain=count(live),
            active=sum(len(p.active_sectors) for p in parts),
            faulty=sum(len(p.faulty_sectors) for p in parts),
            recovering=sum(len(p.recovering_sectors) for p in parts), known=count(known_live),
            provable=count(live) - count(missing) - unknown, missing=count(missing), after_backup=count(after),
            day_reward_atto=day_rewards.get(dl, 0), proven=all(i in submitted for i in range(len(parts))),
            not_in_state=unknown))
    return tuple(rows), union(missing_all)


def build_report(actor: str, clock: DeadlineClock, block_delay: int,
                 partitions: Sequence[Sequence[Partition]], *, known: Intervals, bad: Mapping[int, str],
                 backup: Intervals | None, day_rewards: Mapping[int, int],
                 post_submissions: Sequence[Bitfield] = (), without_reward: int = 0) -> ReconciliationReport:
    """The reconciliation report from typed results (see :func:`tabulate` for the arguments)."""
    rows, missing = tabulate(partitions, known=known, bad=bad, backup=backup, day_rewards=day_rewards,
                             post_submissions=post_submissions)
    live = union(intervals(p.live_sectors) for parts in partitions for p in parts)
    sample = tuple((n, bad.get(n, "")) for n in _first(missing, MISSING_SAMPLE))
    _, not_in_state = split_provable_bad(bad)
    unknown = tuple(_first(intersect(live, intervals_of(not_in_state)), MISSING_SAMPLE))
    return ReconciliationReport(actor, clock, block_delay, rows, count(subtract(known, live)),
                                backup is not None, sample, without_reward, unknown)


@dataclass(frozen=True)
class ReconciliationReport:
    """The chain against the restored miner: per-deadline rows, totals, and the first missing sectors."""

    actor: str
    clock: DeadlineClock
    block_delay: int
    rows: tuple[DeadlineRow, ...]
    not_on_chain: int  # sectors the restored miner knows that are not live on chain (sealing, expired)
    backup_compared: bool
    missing_sample: tuple[tuple[int, str], ...] = ()
    without_reward: int = 0  # active sectors whose ExpectedDayReward is null: their fees count as zero
    not_in_state_sample: tuple[int, ...] = ()  # first live sectors the restored miner's state lacks

    def _total(self, name: str) -> int:
        return sum(int(getattr(r, name)) for r in self.rows)

    @property
    def on_chain(self) -> int:
        return self._total("on_chain")

    @property
    def known(self) -> int:
        return self._total("known")

    @property
    def provable(self) -> int:
        return self._total("provable")

    @property
    def missing(self) -> int:
        return self._total("missing")

    @property
    def not_in_state(self) -> int:
        return self._total("not_in_state")

    @property
    def after_backup(self) -> int:
        return self._total("after_backup")

    @property
    def ok(self) -> bool:
        """True when every on-chain live sector is provable on the standby."""
        return self.missing == 0

    def loads(self) -> tuple[DeadlineLoad, ...]:
        """Per-deadline loads for the exposure arithmetic."""
        return tuple(r.load() for r in self.rows)

    def summary(self) -> str:
        """One line for the stage detail and the terminal."""
        line = (f"{self.on_chain} live sectors in {len(self.rows)} deadlines: {self.known} known to the "
                f"restored miner, {self.provable} provable, {self.missing} missing; {self.after_backup} "
                "sealed after the backup")
        if self.missing_sample:
            line += " (missing: " + ", ".join(str(n) for n, _ in self.missing_sample[:5]) + ")"
        note = not_in_state_note(self)
        return f"{line}; {note}" if note else line

    def to_facts(self) -> dict[str, Any]:
        """Plain, compact JSON (drill-record.schema.json ``reconciliation``): per-deadline rows and totals."""
        rows = []
        for r in self.rows:
            row: dict[str, Any] = asdict(r)
            row["day_reward_atto"] = str(r.day_reward_atto)  # attoFIL overflow a JSON double
            rows.append(row)
        return {
            "actor": self.actor, "ok": self.ok, "epoch": self.clock.current_epoch,
            "period_start": self.clock.period_start, "deadline_index": self.clock.index,
            "challenge_window": self.clock.challenge_window, "period_deadlines": self.clock.period_deadlines,
            "proving_period": self.clock.proving_period, "block_delay": self.block_delay,
            "on_chain": self.on_chain, "known": self.known, "provable": self.provable,
            "missing": self.missing, "not_in_restored_state": self.not_in_state,
            "not_in_restored_state_sample": list(self.not_in_state_sample),
            "sealed_after_backup": self.after_backup, "backup_compared": self.backup_compared,
            "not_on_chain": self.not_on_chain, "without_reward": self.without_reward,
            "missing_sample": [[n, why] for n, why in self.missing_sample], "deadlines": rows,
        }

    def stage_data(self) -> dict[str, Fact]:
        """Scalar facts for the ``reconcile`` stage, the table as JSON text under ``reconciliation``."""
        return {"on_chain": self.on_chain, "known": self.known, "provable": self.provable,
                "missing": self.missing, "not_in_restored_state": self.not_in_state,
                "sealed_after_backup": self.after_backup, "ok": self.ok,
                "reconciliation": json.dumps(self.to_facts(), separators=(",", ":"))}

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any]) -> ReconciliationReport:
        """Rebuild a report from ``to_facts()`` output (or a stage's data); InputError names a bad field."""
        if isinstance(facts.get("reconciliation"), str):
            facts = json.loads(str(facts["reconciliation"]))
        try:
            clock = DeadlineClock(*(int(facts[k]) for k in ("epoch", "period_start", "deadline_index",
                                                             "challenge_window", "period_deadlines",
                                                             "proving_period")))
            rows = tuple(DeadlineRow(**{**r, "day_reward_atto": int(r["day_reward_atto"])})
                         for r in facts["deadlines"])
            sample = tuple((int(n), str(why)) for n, why in facts.get("missing_sample", ()))
            unknown = tuple(int(n) for n in facts.get("not_in_restored_state_sample", ()))
            return cls(str(facts["actor"]), clock, int(facts["block_delay"]), rows,
                       int(facts["not_on_chain"]), bool(facts["backup_compared"]), sample,
                       int(facts.get("without_reward", 0)), unknown)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"reconciliation facts: field {exc} is missing or malformed; expected the "
                             "output of ReconciliationReport.to_facts()") from None


def provable_problem(report: ReconciliationReport) -> str | None:
    """Why some on-chain live sectors are not provable on the standby, or None when all are."""
    if report.ok:
        return None
    per_deadline = ", ".join(f"deadline {r.deadline}: {r.missing}" for r in report.rows if r.missing)
    named = "; ".join(f"sector {n}: {why or 'not provable'}" for n, why in report.missing_sample[:5])
    note = not_in_state_note(report)
    return (f"{report.missing} of {report.on_chain} on-chain live sectors are not provable on the standby: "
            f"CheckProvable found their sealed or cache files missing or damaged ({per_deadline}); {named}. A "
            "WindowPoSt would skip them and they would turn faulty: restore their sealed and cache files before "
            "relying on this backup" + (f". Also {note}" if note else ""))


def not_in_state_note(report: ReconciliationReport) -> str | None:
    """The live sectors CheckProvable could not judge (not in the restored miner's state), or None."""
    n = report.not_in_state
    if not n:
        return None
    named = ", ".join(map(str, report.not_in_state_sample[:5])) + (", …" if n > 5 else "")
    return (f"{n} live sectors are not in the restored miner's state (sealed after the backup?): {named}; "
            "CheckProvable cannot check them, the WindowPoSt dry-run (on-chain sealed CIDs) gives their verdict")
