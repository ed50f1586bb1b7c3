"""Plan-table validation, the lazy registry, drill ids, Workspace and the package's exports."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

import spdrill.snapshots as snapshots
from spdrill.errors import PlanError, UsageError
from spdrill.snapshots import RestorePoint, Workspace, check_drill_id, load_source


def test_exports_are_curated() -> None:
    assert sorted(snapshots.__all__) == [
        "CommandResult", "CommandRunner", "LocalRunner", "RestorePoint", "RetentionCheck", "SetMember",
        "SnapshotSetChoice", "Source", "Workspace", "check_drill_id", "choose", "cleanup", "human_delta",
        "load_source", "retention_report", "select_set", "source_kinds",
    ]  # fmt: skip
    assert all(hasattr(snapshots, name) for name in snapshots.__all__)


def test_kinds_load_lazily() -> None:
    kinds = "('.zfs', '.btrfs', '.directory')"
    code = f"import sys, spdrill.snapshots; print(sorted(m for m in sys.modules if m.endswith({kinds})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("table", "field", "message"),
    [
        ({"kind": "tape"}, "plan.kind", "expected one of 'directory', 'zfs', 'btrfs', found 'tape'"),
        ({}, "plan.kind", "found None"),
        ({"kind": "zfs"}, "plan.dataset", 'missing; expected a dataset name such as "tank/lotus"'),
        ({"kind": "zfs", "dataset": 5}, "plan.dataset", "found int 5"),
        ({"kind": "zfs", "dataset": "tank/lotus@snap"}, "plan.dataset", 'no "@"'),
        (
            {"kind": "zfs", "dataset": "tank/lotus", "snapshot_prefx": "a"},
            "plan.snapshot_prefx",
            "unknown key",
        ),
        (
            {"kind": "zfs", "dataset": "tank/lotus", "snapshot_prefix": "a/b"},
            "plan.snapshot_prefix",
            "prefix",
        ),
        ({"kind": "directory", "path": "backups"}, "plan.path", "absolute folder path, found 'backups'"),
        ({"kind": "directory", "path": "/b", "select": "newest"}, "plan.select", '"name" or "mtime"'),
        ({"kind": "directory", "path": "/b", "single": 1}, "plan.single", "true or false, found int 1"),
        ({"kind": "directory", "path": "/b", "overlay": "yes"}, "plan.overlay", "true or false"),
        ({"kind": "directory", "path": "/b", "pattern": ""}, "plan.pattern", "empty string"),
        ({"kind": "btrfs", "path": "/s", "dataset": "x"}, "plan.dataset", "known keys: path, pattern, workspace_root"),
        ({"kind": "btrfs", "path": "/s", "workspace_root": "ws"}, "plan.workspace_root", "absolute folder"),
        ({"kind": "btrfs"}, "plan.path", "missing"),
    ],
)
def test_bad_tables_name_the_field_and_the_expected_form(table: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(PlanError) as info:
        load_source(table, where="plan")
    assert info.value.field == field
    assert message in str(info.value)


def test_good_tables_build_sources_without_touching_the_host() -> None:
    zfs = load_source({"kind": "zfs", "dataset": "tank/lotus", "snapshot_prefix": "auto-"}, where="p")
    directory = load_source({"kind": "directory", "path": "/nonexistent", "select": "mtime"}, where="p")
    btrfs = load_source({"kind": "btrfs", "path": "/nonexistent"}, where="p")
    assert [(s.kind, s.name) for s in (zfs, directory, btrfs)] == [
        ("zfs", "tank/lotus"), ("directory", "/nonexistent"), ("btrfs", "/nonexistent")
    ]  # fmt: skip
    assert isinstance(zfs, snapshots.Source)


@pytest.mark.parametrize("bad", ["", "-x", "a/b", "a@b", "a b", "x" * 65, "ä"])
def test_drill_ids_must_be_safe_in_names(bad: str) -> None:
    with pytest.raises(UsageError, match="drill id"):
        check_drill_id(bad)


def test_drill_ids_that_are_safe_pass() -> None:
    assert check_drill_id("2026-11-26T0200Z.nightly_1") == "2026-11-26T0200Z.nightly_1"


def test_workspace_destroy_is_idempotent_and_a_context_manager() -> None:
    calls: list[int] = []
    rp = RestorePoint("directory", "/b/x", Path("/b/x"), datetime(2026, 11, 26, tzinfo=UTC), None)
    with Workspace(Path("/w"), rp, "d1", lambda: calls.append(1), method="copy") as ws:
        assert not ws.destroyed
    ws.destroy()
    assert calls == [1] and ws.destroyed


def test_age_is_the_rpo() -> None:
    rp = RestorePoint("zfs", "t/l@a", None, datetime(2026, 11, 26, 2, tzinfo=UTC), True)
    assert rp.age(datetime(2026, 11, 26, 3, 30, tzinfo=UTC)).total_seconds() == 5400
