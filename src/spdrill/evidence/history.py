"""The drill history: every drill record kept in a local SQLite file, RTO regressions flagged against it."""

from __future__ import annotations

import json
import sqlite3
import statistics
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spdrill.duration import format_duration
from spdrill.errors import InputError
from spdrill.evidence.svg import TrendPoint

# Plans carry no regression settings yet: these defaults apply to every plan until they do.
DEFAULT_TOLERANCE = 0.20  # a drill is a regression when its RTO exceeds the median by more than 20 %
DEFAULT_WINDOW = 5  # ... the median of the last 5 drills of the same plan
MIN_BASELINE = 3  # fewer earlier drills than this make a median too noisy to flag anything
SCHEMA_VERSION = 1
_DDL = """
CREATE TABLE IF NOT EXISTS drills (
    drill_id TEXT PRIMARY KEY,
    plan_name TEXT NOT NULL,
    actor TEXT NOT NULL,
    started_at TEXT NOT NULL,
    restore_point TEXT NOT NULL,
    rto_seconds REAL,
    rpo_seconds REAL,
    verdict TEXT NOT NULL,
    simulated INTEGER NOT NULL,
    regression TEXT,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS drills_plan_started ON drills (plan_name, started_at);
"""
# The run's mode lives in its stored record (`facts.mode`, "failover" for a hand-over); no column of its own.
_MODE = "json_extract(record, '$.facts.mode')"


def _mode(record: Mapping[str, Any]) -> str | None:
    facts = record.get("facts")
    mode = facts.get("mode") if isinstance(facts, Mapping) else None
    return mode if isinstance(mode, str) else None


@dataclass(frozen=True)
class Regression:
    """This drill's RTO was worse than the median of the earlier ones by more than the tolerance."""

    rto_seconds: float
    median_seconds: float
    tolerance: float
    window: int

    @property
    def message(self) -> str:
        worse = self.rto_seconds / self.median_seconds - 1 if self.median_seconds > 0 else float("inf")
        return (f"RTO regression: {format_duration(self.rto_seconds)} is {worse:.0%} above the median "
                f"{format_duration(self.median_seconds)} of the last {self.window} drills "
                f"(tolerance {self.tolerance:.0%})")


@dataclass(frozen=True)
class HistoryRow:
    """One drill as `spdrill history` lists it."""

    drill_id: str
    plan_name: str
    started_at: str
    restore_point: str
    rto_seconds: float | None
    rpo_seconds: float | None
    verdict: str
    simulated: bool
    regression: str | None
    failover: bool = False  # a `spdrill run --failover` hand-over, kept but never an RTO baseline


def find_regression(rto: float | None, earlier: Sequence[float], *, tolerance: float = DEFAULT_TOLERANCE,
                    window: int = DEFAULT_WINDOW) -> Regression | None:
    """Compare an RTO with the median of the last `window` earlier RTOs (oldest first); pure."""
    recent = list(earlier)[-window:]
    if rto is None or len(recent) < min(MIN_BASELINE, window):
        return None
    median = statistics.median(recent)
    if rto > median * (1 + tolerance):
        return Regression(rto_seconds=rto, median_seconds=median, tolerance=tolerance, window=len(recent))
    return None


class History:
    """A SQLite store of drill records; each method opens and closes its own connection."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=10)
        except (OSError, sqlite3.Error) as exc:
            raise InputError(f"{self.path}: cannot open the drill history ({exc}); pass a writable file "
                             "with --db / [reports] history") from None
        try:
            with con:
                con.executescript(_DDL)
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                yield con
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a spdrill history database ({exc}); pass another file or "
                             "move this one away") from None
        finally:
            con.close()

    def earlier_rtos(self, plan_name: str, before: str, *, window: int = DEFAULT_WINDOW) -> list[float]:
        """RTOs of the last `window` drills of a plan that started before `before` (oldest first)."""
        with self._db() as con:
            rows = con.execute("SELECT rto_seconds FROM drills WHERE plan_name = ? AND started_at < ? AND "
                               f"rto_seconds IS NOT NULL AND {_MODE} IS NOT 'failover' "
                               "ORDER BY started_at DESC LIMIT ?",
                               (plan_name, before, window)).fetchall()
        return [float(r[0]) for r in reversed(rows)]

    def add(self, record: Mapping[str, Any], *, tolerance: float = DEFAULT_TOLERANCE,
            window: int = DEFAULT_WINDOW) -> Regression | None:
        """Keep a drill record (replacing one with the same id); return its regression, if it is one."""
        plan = str(record["plan"]["name"])
        started = str(record["started_at"])
        rto = record.get("rto_seconds")
        regression = None
        if _mode(record) != "failover":  # a failover (init restore, a real hand-over) is no drill to compare
            regression = find_regression(rto, self.earlier_rtos(plan, started, window=window),
                                         tolerance=tolerance, window=window)
        rp = ", ".join(str(r["name"]) for r in record.get("restore_points", []))
        with self._db() as con:
            con.execute("INSERT OR REPLACE INTO drills VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (record["drill_id"], plan, record["actor"], started, rp, rto,
                         record.get("rpo_seconds"), record["verdict"], int(bool(record["simulated"])),
                         regression.message if regression else None, json.dumps(record)))
        return regression

    def rows(self, *, limit: int = 20, plan_name: str | None = None) -> list[HistoryRow]:
        """The latest `limit` drills, newest first (of one plan when `plan_name` is given)."""
        where, args = ("WHERE plan_name = ?", [plan_name]) if plan_name else ("", [])
        with self._db() as con:
            found = con.execute("SELECT drill_id, plan_name, started_at, restore_point, rto_seconds, "
                                f"rpo_seconds, verdict, simulated, regression, {_MODE} FROM drills "
                                f"{where} ORDER BY started_at DESC LIMIT ?", (*args, limit)).fetchall()
        return [HistoryRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], r[9] == "failover")
                for r in found]

    def record(self, drill_id: str) -> dict[str, Any] | None:
        """The full stored record of one drill."""
        with self._db() as con:
            row = con.execute("SELECT record FROM drills WHERE drill_id = ?", (drill_id,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def trend(self, plan_name: str, *, limit: int = 20) -> list[TrendPoint]:
        """The last `limit` drills of a plan, oldest first, for the HTML trend chart."""
        rows = self.rows(limit=limit, plan_name=plan_name)
        return [TrendPoint(r.drill_id, r.started_at, r.rto_seconds, r.rpo_seconds, r.verdict)
                for r in reversed(rows)]


def format_rows(rows: Sequence[HistoryRow]) -> str:
    """A plain-text table for `spdrill history`: date, restore point, RTO, RPO, verdict, flags."""
    if not rows:
        return "no drills recorded yet"
    head = f"{'started (UTC)':<20} {'drill':<25} {'restore point':<34} {'RTO':>8} {'RPO':>8}  verdict"
    lines = [head, "-" * len(head)]
    for r in rows:
        rto = "-" if r.rto_seconds is None else format_duration(r.rto_seconds)
        rpo = "-" if r.rpo_seconds is None else format_duration(r.rpo_seconds)
        flags = (("  SIMULATED" if r.simulated else "") + ("  FAILOVER" if r.failover else "")
                 + ("  REGRESSION" if r.regression else ""))
        lines.append(f"{r.started_at[:19].replace('T', ' '):<20} {r.drill_id:<25} {r.restore_point[:34]:<34} "
                     f"{rto:>8} {rpo:>8}  {r.verdict.upper()}{flags}")
    return "\n".join(lines)
