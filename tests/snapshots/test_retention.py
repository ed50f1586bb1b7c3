"""Resilience checks: protection, count, history depth and pruning, each shown passing and failing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from spdrill.snapshots import LocalRunner, RestorePoint, RetentionCheck, retention_report
from spdrill.snapshots.btrfs import BtrfsSource
from spdrill.snapshots.directory import DirectorySource
from spdrill.snapshots.zfs import ZfsSource

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
DAY = timedelta(days=1)
ZFS = ZfsSource("tank/lotus", LocalRunner())


def points(*ages_days: float, protected: bool | None = True, kind: str = "zfs") -> list[RestorePoint]:
    return [RestorePoint(kind, f"tank/lotus@{a}", None, NOW - a * DAY, protected) for a in ages_days]


def status(checks: list[RetentionCheck]) -> dict[str, str]:
    return {c.name: c.status for c in checks}


def test_healthy_source_passes_everything() -> None:
    checks = retention_report(ZFS, points(0.1, 1, 7, 30), min_count=4, now=NOW, min_oldest_age=30 * DAY,
                              max_oldest_age=40 * DAY)  # fmt: skip
    assert status(checks) == {"protected": "pass", "retention-count": "pass", "retention-oldest": "pass",
                              "retention-pruned": "pass"}  # fmt: skip


def test_unprotected_snapshots_fail_and_are_named() -> None:
    rps = points(1, 2) + [RestorePoint("zfs", f"tank/lotus@bare{i}", None, NOW, False) for i in range(5)]
    (check,) = [c for c in retention_report(ZFS, rps, min_count=1, now=NOW) if c.name == "protected"]
    assert check.status == "fail" and "5 of 7 restore points lack a ZFS hold" in check.message
    assert "tank/lotus@bare0, tank/lotus@bare1, tank/lotus@bare2 and 2 more" in check.message


def test_btrfs_wording_and_directory_not_applicable() -> None:
    btrfs = BtrfsSource(Path("/snaps"), LocalRunner())
    (check,) = retention_report(btrfs, points(1, protected=False, kind="btrfs"), min_count=0, now=NOW)[:1]
    assert check.status == "fail" and "btrfs read-only flag" in check.message
    directory = DirectorySource(Path("/b"), LocalRunner())
    (check,) = retention_report(directory, points(1, protected=None, kind="directory"), min_count=0, now=NOW)[:1]
    assert check.status == "skip" and "not applicable" in check.message


def test_too_few_restore_points_fail() -> None:
    checks = retention_report(ZFS, points(1, 2), min_count=3, now=NOW)
    assert status(checks)["retention-count"] == "fail"
    assert "2 restore points, plan asks for at least 3" in checks[1].message


def test_history_too_shallow_fails() -> None:
    checks = retention_report(ZFS, points(1, 6), min_count=1, now=NOW, min_oldest_age=30 * DAY)
    assert status(checks)["retention-oldest"] == "fail"
    assert "the oldest is 6 d old, plan asks for history reaching back at least 30 d" in checks[-1].message


def test_pruning_that_stopped_fails() -> None:
    checks = retention_report(ZFS, points(1, 90), min_count=1, now=NOW, max_oldest_age=40 * DAY)
    assert status(checks)["retention-pruned"] == "fail"


def test_no_restore_points_at_all() -> None:
    checks = retention_report(ZFS, [], min_count=1, now=NOW, min_oldest_age=DAY, require_protection=True)
    assert status(checks) == {"protected": "skip", "retention-count": "fail", "retention-oldest": "fail"}
    assert "there are none" in checks[-1].message
