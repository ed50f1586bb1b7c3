"""Resilience of the restore points themselves: HA is not DR, so snapshots must be protected and kept."""

import pytest

from spdrill.drill import Drill
from spdrill.findings import RestoreFinding
from spdrill.snapshots.retention import RetentionCheck


def _restored(drill: Drill) -> RestoreFinding:
    __tracebackhide__ = True
    result = drill.stage("restore")
    if result.not_applicable:
        pytest.skip(f"restore: {result.detail}")
    found = drill.finding("restore", RestoreFinding)
    if found is None:
        raise AssertionError(f"restore: {result.detail}. The restore points could not be listed")
    return found


def _rows(drill: Drill, name: str) -> list[RetentionCheck]:
    __tracebackhide__ = True
    found = _restored(drill)
    if found.retention is None:
        raise AssertionError(f"restore: {drill.stage('restore').detail}. The restore points could not be listed")
    rows = [r for r in found.retention if r.name.startswith(name)]
    if rows and all(r.status == "skip" for r in rows):
        pytest.skip("; ".join(r.message for r in rows))
    return rows


@pytest.mark.objective
def test_restore_points_protected(drill: Drill) -> None:
    """Every restore point carries a ZFS hold or the btrfs read-only flag."""
    bad = [f"{r.source}: {r.message}" for r in _rows(drill, "protected") if r.status == "fail"]
    assert not bad, "; ".join(bad)


@pytest.mark.objective
def test_snapshot_set_consistent(drill: Drill) -> None:
    """The restore points of the snapshot set were taken within the plan's window of each other."""
    found = _restored(drill)
    assert found.snapshot_set_consistent is True, (
        f"inconsistent snapshot set: {found.snapshot_set_detail or drill.stage('restore').detail}. Snapshot the "
        "daemon repo, miner repo and storage together (zfs snapshot -r), or widen [restore] window")


@pytest.mark.objective
def test_retention_meets_plan(drill: Drill) -> None:
    """Each source keeps enough restore points, reaching back as far as the plan asks."""
    bad = [f"{r.source}: {r.message}" for r in _rows(drill, "retention") if r.status == "fail"]
    assert not bad, "; ".join(bad)
