"""Drill history in SQLite: rows, trend, regression against the median of the last N, the history command."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from spdrill.errors import InputError
from spdrill.evidence.cli import dispatch, register
from spdrill.evidence.history import DEFAULT_TOLERANCE, DEFAULT_WINDOW, History, find_regression, format_rows
from spdrill.evidence.record import drill_record

DAY0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def cli(*argv: str) -> int:
    p = argparse.ArgumentParser()
    register(p.add_subparsers(dest="command"))
    rc = dispatch(p.parse_args(list(argv)))
    assert rc is not None
    return rc


def record(
    kit: Any, day: int, rto: float, *, passed: bool = True, plan: str = "nightly f01234", failover: bool = False
) -> dict[str, Any]:
    j = kit.make_journal(
        rto_green=rto,
        passed=passed,
        drill_id=f"202611{day + 1:02d}T030000Z-00000{day % 10}",
        started=DAY0 + timedelta(days=day),
        extra_facts={"mode": "failover"} if failover else None,
    )
    rec = drill_record(j)
    rec["plan"]["name"] = plan
    return rec


def test_defaults_are_stated() -> None:
    assert (DEFAULT_TOLERANCE, DEFAULT_WINDOW) == (0.20, 5)


@pytest.mark.parametrize(
    ("rto", "earlier", "flagged"),
    [
        (121.0, [100.0, 100.0, 100.0], True),  # 21 % above the median
        (120.0, [100.0, 100.0, 100.0], False),  # exactly at the tolerance: not worse by *more* than it
        (130.0, [100.0, 100.0], False),  # too few earlier drills for a median
        (None, [100.0] * 5, False),  # RTO not reached is a failed drill, not a regression
        (130.0, [500.0, 500.0, 100.0, 100.0, 100.0, 100.0, 100.0], True),  # only the last 5 count
        (130.0, [100.0, 120.0, 200.0, 210.0, 220.0], False),  # median 200
    ],
)
def test_find_regression(rto: float | None, earlier: list[float], flagged: bool) -> None:
    assert (find_regression(rto, earlier) is not None) is flagged


def test_regression_message_and_custom_tolerance() -> None:
    r = find_regression(150.0, [100.0, 100.0, 100.0])
    assert r is not None and r.message == (
        "RTO regression: 2m30s is 50% above the median 1m40s of the last 3 drills (tolerance 20%)"
    )
    assert find_regression(150.0, [100.0, 100.0, 100.0], tolerance=0.6) is None


def test_history_keeps_drills_and_flags_the_slow_one(tmp_path: Path, kit: Any) -> None:
    h = History(tmp_path / "h" / "history.sqlite")
    for day, rto in enumerate([100.0, 104.0, 98.0, 101.0]):
        assert h.add(record(kit, day, rto)) is None
    slow = h.add(record(kit, 4, 140.0))
    assert slow is not None and slow.median_seconds == 100.5
    assert h.add(record(kit, 5, 0.0, passed=False)) is None
    h.add(record(kit, 6, 500.0, plan="other plan"))  # another plan's drills never mix in
    rows = h.rows(limit=10, plan_name="nightly f01234")
    assert [r.drill_id for r in rows][:2] == ["20261106T030000Z-000005", "20261105T030000Z-000004"]
    assert rows[0].verdict == "fail" and rows[0].rto_seconds is None
    assert rows[1].regression is not None and rows[1].rto_seconds == 140.0
    assert rows[1].restore_point == "tank/lotus@nightly-2026-11-26" and rows[1].rpo_seconds == 44100.0
    assert len(h.rows(limit=3)) == 3
    trend = h.trend("nightly f01234")
    assert [t.rto_seconds for t in trend] == [100.0, 104.0, 98.0, 101.0, 140.0, None]
    stored = h.record("20261105T030000Z-000004")
    assert stored is not None and stored["rto_seconds"] == 140.0


def test_a_failover_is_kept_and_flagged_but_never_compared(tmp_path: Path, kit: Any) -> None:
    """A hand-over (init restore, ChangePeerID wait) is not a drill: no regression, and no baseline either."""
    h = History(tmp_path / "history.sqlite")
    for day, rto in enumerate([100.0, 104.0, 98.0]):
        h.add(record(kit, day, rto))
    assert h.add(record(kit, 3, 900.0, failover=True)) is None  # far slower, and rightly not a regression
    assert h.earlier_rtos("nightly f01234", "2026-12-31") == [100.0, 104.0, 98.0]
    slow = h.add(record(kit, 4, 140.0))
    assert slow is not None and slow.median_seconds == 100.0  # the failover's 900 s is not in the median
    rows = h.rows()
    assert [r.failover for r in rows] == [False, True, False, False, False]
    table = format_rows(rows)
    assert table.splitlines()[3].endswith("FAILOVER") and table.count("FAILOVER") == 1


def test_the_same_drill_twice_is_one_row(tmp_path: Path, kit: Any) -> None:
    h = History(tmp_path / "history.sqlite")
    h.add(record(kit, 0, 100.0))
    h.add(record(kit, 0, 100.0))
    assert len(h.rows()) == 1


def test_a_file_that_is_not_a_database_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "history.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError, match="not a spdrill history database"):
        History(bad).rows()


def test_history_command(tmp_path: Path, kit: Any, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "history.sqlite"
    h = History(db)
    for day, rto in enumerate([100.0, 100.0, 100.0, 200.0]):
        h.add(record(kit, day, rto))
    assert cli("history", "--db", str(db), "--limit", "2") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["started", "(UTC)", "drill"]
    assert len(out) == 4  # header, rule, two drills
    assert out[2].split()[:4] == [
        "2026-11-04",
        "03:00:00",
        "20261104T030000Z-000003",
        "tank/lotus@nightly-2026-11-26",
    ]
    assert "3m20s" in out[2] and "12h15m" in out[2] and "PASS" in out[2] and "SIMULATED" in out[2]
    assert "REGRESSION" in out[2] and "REGRESSION" not in out[3]


def test_history_command_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("history", "--db", str(tmp_path / "none.sqlite")) == 2
    assert "no drill history there" in capsys.readouterr().err
    (tmp_path / "x.sqlite").write_bytes(b"garbage" * 200)
    assert cli("history", "--db", str(tmp_path / "x.sqlite")) == 2
    assert cli("history", "--db", str(tmp_path / "x.sqlite"), "--limit", "0") == 2
    assert "Traceback" not in capsys.readouterr().err
