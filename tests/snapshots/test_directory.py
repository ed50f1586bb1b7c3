"""Directory sources: timestamps in names, listing, copies, overlays, tarballs, and an untouched source."""

from __future__ import annotations

import logging
import os
import subprocess
import tarfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from spdrill.errors import TargetError, UsageError
from spdrill.snapshots import LocalRunner, RestorePoint, load_source
from spdrill.snapshots.directory import DirectorySource, timestamp_in_name

Populate = Callable[[Path, dict[str, bytes]], None]
FILES = {
    "lotus/config.toml": b"[API]\n",
    "lotus-miner/storage.json": b"{}",
    "storage/sealed/s-t01000-1": os.urandom(4096),
}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2026-11-26T0200Z", datetime(2026, 11, 26, 2, 0, tzinfo=UTC)),
        ("20261126-020000", datetime(2026, 11, 26, 2, 0, tzinfo=UTC)),
        ("2026-11-26_02-00", datetime(2026, 11, 26, 2, 0, tzinfo=UTC)),
        ("auto-2026-11-26_0215", datetime(2026, 11, 26, 2, 15, tzinfo=UTC)),
        ("miner-20261126T020030Z.cbor", datetime(2026, 11, 26, 2, 0, 30, tzinfo=UTC)),
        ("lotus-2026-11-26T03:00:00+01:00.tar.zst", datetime(2026, 11, 26, 2, 0, tzinfo=UTC)),
        ("zfs-auto-snap_daily-2026-11-26-0200", datetime(2026, 11, 26, 2, 0, tzinfo=UTC)),
        ("daily-2026-11-26", datetime(2026, 11, 26, tzinfo=UTC)),
        ("backup-20261399-5", None),
        ("lotus-latest", None),
        ("v1234567890123", None),
    ],
)
def test_timestamp_in_name(name: str, expected: datetime | None) -> None:
    assert timestamp_in_name(name) == expected


def _backups(root: Path, populate: Populate) -> None:
    for name, mtime in (("2026-11-25T0200Z", 3_000), ("2026-11-26T0200Z", 1_000), ("notes", 2_000)):
        populate(root / name, FILES)
        os.utime(root / name, (mtime, mtime))
    (root / "README.txt").write_text("not a restore point")
    (root / ".partial-2026-11-27T0200Z").mkdir()


def test_lists_by_name_timestamp_with_mtime_for_names_without_one(tmp_path: Path, populate: Populate) -> None:
    _backups(tmp_path, populate)
    rps = load_source({"kind": "directory", "path": str(tmp_path)}, where="p").restore_points()
    assert [(Path(rp.name).name, rp.created.year) for rp in rps] == [
        ("notes", 1970), ("2026-11-25T0200Z", 2026), ("2026-11-26T0200Z", 2026)
    ]  # fmt: skip
    assert all(rp.kind == "directory" and rp.protected is None and rp.path == Path(rp.name) for rp in rps)


def test_select_mtime_orders_by_modification_time(tmp_path: Path, populate: Populate) -> None:
    _backups(tmp_path, populate)
    rps = load_source({"kind": "directory", "path": str(tmp_path), "select": "mtime"}, where="p").restore_points()
    assert [Path(rp.name).name for rp in rps] == ["2026-11-26T0200Z", "notes", "2026-11-25T0200Z"]
    assert rps[0].created == datetime.fromtimestamp(1_000, UTC)


def test_pattern_and_single(tmp_path: Path, populate: Populate) -> None:
    _backups(tmp_path, populate)
    rps = load_source({"kind": "directory", "path": str(tmp_path), "pattern": "2026-*"}, where="p").restore_points()
    assert len(rps) == 2
    one = tmp_path / "2026-11-26T0200Z"
    single = load_source({"kind": "directory", "path": str(one), "single": True}, where="p").restore_points()
    assert [(rp.name, rp.created) for rp in single] == [(str(one), datetime(2026, 11, 26, 2, tzinfo=UTC))]


def test_missing_folder_says_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"restore-point folder .*/gone does not exist.*`path`"):
        DirectorySource(tmp_path / "gone", LocalRunner()).restore_points()


def test_copy_workspace_is_writable_and_the_source_unchanged(
    tmp_path: Path, populate: Populate, hash_tree: Callable[[Path], str]
) -> None:
    populate(tmp_path / "backups" / "2026-11-26T0200Z", FILES)
    source = load_source({"kind": "directory", "path": str(tmp_path / "backups")}, where="p")
    (rp,) = source.restore_points()
    assert rp.path is not None
    before = hash_tree(rp.path)
    ws = source.create_workspace(rp, "d1", tmp_path / "ws")
    assert ws.path == tmp_path / "ws" / "spdrill-d1-directory-0" and ws.method == "copy (reflink=auto)"
    assert (ws.path / "storage/sealed/s-t01000-1").read_bytes() == FILES["storage/sealed/s-t01000-1"]
    (ws.path / "lotus/config.toml").write_text("changed by the drill")
    (ws.path / "lotus-miner/new").write_text("x")
    assert hash_tree(rp.path) == before
    ws.destroy()
    assert list((tmp_path / "ws").iterdir()) == []
    assert hash_tree(rp.path) == before


def test_the_source_hash_sees_a_modification(
    tmp_path: Path, populate: Populate, hash_tree: Callable[[Path], str]
) -> None:
    populate(tmp_path, FILES)
    before = hash_tree(tmp_path)
    (tmp_path / "lotus/config.toml").write_bytes(b"[API]\r")  # same size, other bytes
    assert hash_tree(tmp_path) != before


def test_two_workspaces_of_one_drill_get_distinct_slots(tmp_path: Path, populate: Populate) -> None:
    populate(tmp_path / "b" / "2026-11-26T0200Z", FILES)
    source = load_source({"kind": "directory", "path": str(tmp_path / "b")}, where="p")
    (rp,) = source.restore_points()
    first, second = (source.create_workspace(rp, "d1", tmp_path / "ws") for _ in range(2))
    assert (first.path.name, second.path.name) == ("spdrill-d1-directory-0", "spdrill-d1-directory-1")
    first.destroy()
    second.destroy()


def test_tarball_restore_point_is_unpacked(tmp_path: Path, populate: Populate) -> None:
    populate(tmp_path / "src", FILES)
    (tmp_path / "b").mkdir()
    tarball = tmp_path / "b" / "lotus-20261126-020000.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(tmp_path / "src", arcname=".")
    (rp,) = load_source({"kind": "directory", "path": str(tmp_path / "b")}, where="p").restore_points()
    assert rp.path == tarball and rp.created == datetime(2026, 11, 26, 2, tzinfo=UTC)
    source = load_source({"kind": "directory", "path": str(tmp_path / "b"), "overlay": True}, where="p")
    with source.create_workspace(rp, "d2", tmp_path / "ws") as ws:
        assert ws.method == "tar extract"
        for rel, data in FILES.items():  # tar keeps whole-second mtimes: compare contents, not tree hashes
            assert (ws.path / rel).read_bytes() == data
    assert list((tmp_path / "ws").iterdir()) == []


@pytest.mark.integration
def test_overlay_workspace_leaves_the_lower_layer_alone(
    tmp_path: Path, populate: Populate, hash_tree: Callable[[Path], str]
) -> None:
    if os.geteuid() != 0:
        pytest.skip("overlay mounts need root")
    populate(tmp_path / "b" / "2026-11-26T0200Z", FILES)
    source = load_source({"kind": "directory", "path": str(tmp_path / "b"), "overlay": True}, where="p")
    (rp,) = source.restore_points()
    assert rp.path is not None
    before = hash_tree(rp.path)
    ws = source.create_workspace(rp, "d3", tmp_path / "ws")
    assert ws.method == "overlay" and ws.path.name == "merged"
    (ws.path / "lotus/config.toml").write_text("changed")
    (ws.path / "storage/sealed/s-t01000-1").unlink()
    assert hash_tree(rp.path) == before
    ws.destroy()
    assert subprocess.run(["mountpoint", "-q", str(ws.path)], check=False).returncode != 0
    assert list((tmp_path / "ws").iterdir()) == []


def test_overlay_falls_back_to_a_copy_with_a_clear_message(
    tmp_path: Path, populate: Populate, caplog: pytest.LogCaptureFixture
) -> None:
    populate(tmp_path / "b,c" / "2026-11-26T0200Z", FILES)
    source = load_source({"kind": "directory", "path": str(tmp_path / "b,c"), "overlay": True}, where="p")
    (rp,) = source.restore_points()
    with (
        caplog.at_level(logging.WARNING, "spdrill.snapshots"),
        source.create_workspace(rp, "d4", tmp_path / "ws") as ws,
    ):
        assert ws.method == "copy (reflink=auto)"
        assert (ws.path / "lotus/config.toml").read_bytes() == b"[API]\n"
    assert "overlay workspace for" in caplog.text and "copying instead" in caplog.text


def test_failed_copy_leaves_no_slot_or_marker(tmp_path: Path) -> None:
    rp = RestorePoint("directory", "/nonexistent/x", Path("/nonexistent/x"), datetime.now(UTC), None)
    with pytest.raises(TargetError, match="could not copy /nonexistent/x"):
        DirectorySource(Path("/nonexistent"), LocalRunner()).create_workspace(rp, "d5", tmp_path / "ws")
    assert list((tmp_path / "ws").iterdir()) == []


def test_refuses_foreign_restore_points_and_unsafe_ids(tmp_path: Path) -> None:
    source = DirectorySource(tmp_path, LocalRunner())
    zrp = RestorePoint("zfs", "tank/l@a", None, datetime.now(UTC), True)
    with pytest.raises(UsageError, match="not a directory one"):
        source.create_workspace(zrp, "d6", tmp_path / "ws")
    drp = RestorePoint("directory", str(tmp_path), tmp_path, datetime.now(UTC), None)
    with pytest.raises(UsageError, match="drill id"):
        source.create_workspace(drp, "../../etc", tmp_path / "ws")
