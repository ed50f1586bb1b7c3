"""A stand-in SP's restore point on real ZFS (a snapshot set of three datasets) and on real btrfs."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from spdrill.snapshots import cleanup, load_source, select_set

PARTS = ("lotus", "lotus-miner", "storage")


@pytest.fixture
def restore_point(tmp_path: Path) -> Path:
    """The restore point `lotus-sim make-fixture` writes: repos, chain CAR, metadata backup, sealed sectors."""
    fixture = pytest.importorskip("lotus_sim.fixture")
    fixture.make_fixture(tmp_path / "fx", fixture.FixtureSpec(sectors=16))
    return tmp_path / "fx" / "restore-point"


def contents(root: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under root."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.mark.integration
def test_zfs_snapshot_set_restores_every_part_and_leaves_nothing(
    zpool: Any, restore_point: Path, tmp_path: Path
) -> None:
    sh = subprocess.run
    sh(["zfs", "create", f"{zpool.name}/sp"], check=True)
    for part in PARTS:
        dataset, mnt = zpool.dataset(f"sp/{part}", {})
        shutil.copytree(restore_point / part, mnt, dirs_exist_ok=True)
    sh(["zfs", "snapshot", f"{zpool.name}/sp/lotus-miner@stale"], check=True)
    time.sleep(1.1)
    sh(["zfs", "snapshot", "-r", f"{zpool.name}/sp@auto-1"], check=True)  # one atomic set of all three
    time.sleep(1.1)
    sh(["zfs", "snapshot", f"{zpool.name}/sp/storage@later"], check=True)
    sources = [load_source({"kind": "zfs", "dataset": f"{zpool.name}/sp/{p}"}, where=f"s[{i}]") for i, p in
               enumerate(PARTS)]  # fmt: skip
    choice = select_set(sources, window=timedelta(seconds=0))
    assert choice.consistent and [rp.name.split("@")[1] for rp in choice.restore_points] == ["auto-1"] * 3
    assert [m.passed_over for m in choice.members] == [0, 0, 1]
    workspaces = [s.create_workspace(rp, "e2e", tmp_path / "ws") for s, rp in zip(sources, choice.restore_points,
                                                                                  strict=True)]  # fmt: skip
    try:
        for part, ws in zip(PARTS, workspaces, strict=True):
            assert contents(ws.path) == contents(restore_point / part), part
        (workspaces[1].path / "config.toml").write_text("[Subsystems]\nDisableWinningPoSt = true\n")
    finally:
        for ws in workspaces:
            ws.destroy()
    assert cleanup("e2e") == []
    assert list((tmp_path / "ws").iterdir()) == []
    # Taken together, the newest snapshots are not a set: lotus-miner is older than storage@later.
    newest = select_set(sources[1:], window=timedelta(seconds=0), at=None)
    assert newest.consistent  # lotus-miner@auto-1 and storage@auto-1 still agree...
    sh(["zfs", "destroy", f"{zpool.name}/sp/lotus-miner@auto-1"], check=True)
    broken = select_set(sources[1:], window=timedelta(seconds=0))
    assert not broken.consistent  # ...until the miner repo's snapshot is gone
    assert broken.problems()[0].startswith(f"{zpool.name}/sp/lotus-miner@stale is ")


@pytest.mark.integration
def test_btrfs_snapshot_restores_the_whole_restore_point(
    btrfs_mount: Path, make_btrfs_snapshot: Callable[..., Path], restore_point: Path, tmp_path: Path
) -> None:
    live = btrfs_mount / "live"
    subprocess.run(["btrfs", "subvolume", "create", str(live)], check=True, capture_output=True)
    shutil.copytree(restore_point, live, dirs_exist_ok=True)
    snap = make_btrfs_snapshot("2026-11-26T0200Z", {})
    before = contents(snap)
    source = load_source({"kind": "btrfs", "path": str(btrfs_mount / "snaps")}, where="s[0]")
    (rp,) = select_set([source], window=timedelta(minutes=15)).restore_points
    with source.create_workspace(rp, "e2e", btrfs_mount / "ws") as ws:
        assert contents(ws.path) == contents(restore_point)
        (car,) = (ws.path / "chain").glob("snapshot-*.car.zst")
        assert car.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"  # a zstd frame, as the daemon import expects
        shutil.rmtree(ws.path / "storage")
    assert contents(snap) == before
    assert list((btrfs_mount / "ws").iterdir()) == []
