"""Resilience of the restore points themselves: HA is not DR, so snapshots must be protected and kept."""

import json

import pytest

from spdrill.drill import Drill


def _facts(drill: Drill, name: str) -> list[dict[str, str]]:
    __tracebackhide__ = True
    result = drill.stage("restore")
    if result.data.get("not_applicable"):
        pytest.skip(f"restore: {result.detail}")
    if "retention" not in result.data:
        raise AssertionError(f"restore: {result.detail}. The restore points could not be listed")
    rows = [r for r in json.loads(str(result.data["retention"])) if r["name"].startswith(name)]
    if rows and all(r["status"] == "skip" for r in rows):
        pytest.skip("; ".join(r["message"] for r in rows))
    return rows


@pytest.mark.objective
def test_restore_points_protected(drill: Drill) -> None:
    """Every restore point carries a ZFS hold or the btrfs read-only flag."""
    bad = [f"{r['source']}: {r['message']}" for r in _facts(drill, "protected") if r["status"] == "fail"]
    assert not bad, "; ".join(bad)


@pytest.mark.objective
def test_snapshot_set_consistent(drill: Drill) -> None:
    """The restore points of the snapshot set were taken within the plan's window of each other."""
    result = drill.stage("restore")
    if result.data.get("not_applicable"):
        pytest.skip(f"restore: {result.detail}")
    assert result.data.get("snapshot_set_consistent") is True, (
        f"inconsistent snapshot set: {result.data.get('snapshot_set_detail') or result.detail}. Snapshot the "
        "daemon repo, miner repo and storage together (zfs snapshot -r), or widen [restore] window")


@pytest.mark.objective
def test_retention_meets_plan(drill: Drill) -> None:
    """Each source keeps enough restore points, reaching back as far as the plan asks."""
    bad = [f"{r['source']}: {r['message']}" for r in _facts(drill, "retention") if r["status"] == "fail"]
    assert not bad, "; ".join(bad)
