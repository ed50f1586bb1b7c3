"""btrfs: `subvolume show` parsing, and writable snapshots on a real btrfs on a loop device."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from spdrill.errors import InputError, TargetError
from spdrill.snapshots import cleanup, load_source
from spdrill.snapshots.btrfs import parse_subvolume_show

DATA = Path(__file__).parent / "data"
FILES = {"config.toml": b"[Subsystems]\n", "sealed/s-t01000-1": os.urandom(64 << 10)}
MakeSnapshot = Callable[..., Path]


def test_parses_recorded_readonly_and_writable_snapshots() -> None:
    ro = parse_subvolume_show((DATA / "btrfs-show-readonly.txt").read_text())
    rw = parse_subvolume_show((DATA / "btrfs-show-writable.txt").read_text())
    assert ro == (datetime(2026, 11, 26, 12, 22, 55, tzinfo=UTC), True)
    assert rw == (datetime(2026, 11, 26, 12, 26, 24, tzinfo=UTC), False)


def test_creation_time_zone_is_honoured() -> None:
    text = "x\n\tCreation time: \t\t2026-11-26 03:00:00 +0100\n\tFlags: \t\t\treadonly\n"
    assert parse_subvolume_show(text) == (datetime(2026, 11, 26, 2, tzinfo=UTC), True)


def test_output_without_creation_time_is_an_input_error() -> None:
    with pytest.raises(InputError, match="expected a 'Creation time: YYYY-MM-DD"):
        parse_subvolume_show("ERROR: Not a Btrfs subvolume\n")


@pytest.mark.integration
def test_lists_subvolume_snapshots_with_their_read_only_flag(
    btrfs_mount: Path, make_btrfs_snapshot: MakeSnapshot
) -> None:
    make_btrfs_snapshot("2026-11-25T0200Z", FILES)
    make_btrfs_snapshot("2026-11-26T0200Z", {"config.toml": b"newer"}, False)
    (btrfs_mount / "snaps" / "plain-folder").mkdir()
    rps = load_source({"kind": "btrfs", "path": str(btrfs_mount / "snaps")}, where="p").restore_points()
    assert [(Path(rp.name).name, rp.protected) for rp in rps] == [
        ("2026-11-25T0200Z", True),
        ("2026-11-26T0200Z", False),
    ]
    assert all(abs(rp.created - datetime.now(UTC)) < timedelta(minutes=2) for rp in rps)
    assert rps[0].path == btrfs_mount / "snaps" / "2026-11-25T0200Z"


@pytest.mark.integration
def test_writable_snapshot_workspace_never_touches_the_source(
    btrfs_mount: Path, make_btrfs_snapshot: MakeSnapshot, hash_tree: Callable[[Path], str]
) -> None:
    snap = make_btrfs_snapshot("2026-11-26T0200Z", FILES)
    source = load_source({"kind": "btrfs", "path": str(btrfs_mount / "snaps")}, where="p")
    (rp,) = source.restore_points()
    before = hash_tree(snap)
    ws = source.create_workspace(rp, "d1", btrfs_mount / "ws")
    assert ws.path == btrfs_mount / "ws" / "spdrill-d1-btrfs-0" and ws.method == "btrfs snapshot"
    assert (btrfs_mount / "ws" / "spdrill-d1-btrfs-0.marker.json").exists()
    (ws.path / "config.toml").write_text("changed by the drill")
    (ws.path / "sealed/s-t01000-1").unlink()
    assert hash_tree(snap) == before
    ws.destroy()
    ws.destroy()
    assert list((btrfs_mount / "ws").iterdir()) == []
    assert hash_tree(snap) == before
    assert [p.protected for p in source.restore_points()] == [True]


@pytest.mark.integration
def test_workspace_root_on_another_filesystem_is_refused_cleanly(
    btrfs_mount: Path, make_btrfs_snapshot: MakeSnapshot, tmp_path: Path
) -> None:
    make_btrfs_snapshot("2026-11-26T0200Z", FILES)
    source = load_source({"kind": "btrfs", "path": str(btrfs_mount / "snaps")}, where="p")
    (rp,) = source.restore_points()
    with pytest.raises(TargetError, match="same btrfs filesystem as the snapshots: set the source's `workspace_root`"):
        source.create_workspace(rp, "d1", tmp_path / "elsewhere")
    assert list((tmp_path / "elsewhere").iterdir()) == []
    table = {"kind": "btrfs", "path": str(btrfs_mount / "snaps"), "workspace_root": str(btrfs_mount / "drills")}
    with load_source(table, where="p").create_workspace(rp, "d1", tmp_path / "elsewhere") as ws:
        assert ws.path == btrfs_mount / "drills" / "spdrill-d1-btrfs-0"
    assert list((btrfs_mount / "drills").iterdir()) == []


@pytest.mark.integration
def test_cleanup_reaps_a_killed_drills_snapshot(btrfs_mount: Path, make_btrfs_snapshot: MakeSnapshot) -> None:
    make_btrfs_snapshot("2026-11-26T0200Z", FILES)
    source = load_source({"kind": "btrfs", "path": str(btrfs_mount / "snaps")}, where="p")
    (rp,) = source.restore_points()
    root = btrfs_mount / "ws"
    source.create_workspace(rp, "killed", root)
    keep = source.create_workspace(rp, "alive", root)
    assert cleanup(roots=[root]) == []  # both owned by this live process
    assert cleanup("killed", roots=[root]) == [str(root / "spdrill-killed-btrfs-0")]
    assert sorted(p.name for p in root.iterdir()) == ["spdrill-alive-btrfs-0", "spdrill-alive-btrfs-0.marker.json"]
    out = subprocess.run(["btrfs", "subvolume", "list", str(btrfs_mount)], capture_output=True, text=True, check=True)
    assert "spdrill-killed" not in out.stdout
    keep.destroy()
