"""ZFS: both `zfs list` dialects, and clones on a real file-backed zfs-fuse pool."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from spdrill.errors import InputError, TargetError, UsageError
from spdrill.snapshots import CommandResult, RestorePoint, cleanup, load_source
from spdrill.snapshots.zfs import ZfsSource, parse_snapshot_list

DATA = Path(__file__).parent / "data"
FILES = {"config.toml": b"[Subsystems]\n", "sealed/s-t01000-1": os.urandom(64 << 10)}

# Hand-written in the shape OpenZFS 2.x prints for `zfs list -H -p -t snapshot -o name,creation,userrefs`.
OPENZFS_P = (
    "tank/lotus@auto-2026-11-26_0300\t1795662000\t0\n"
    "tank/lotus@auto-2026-11-26_0200\t1795658400\t2\n"
    "tank/lotus@manual\t1795654800\t-\n"
)


def test_parses_openzfs_parsable_output_oldest_first() -> None:
    assert parse_snapshot_list(OPENZFS_P, parsable=True) == [
        ("tank/lotus@manual", datetime(2026, 11, 26, 1, tzinfo=UTC), 0),
        ("tank/lotus@auto-2026-11-26_0200", datetime(2026, 11, 26, 2, tzinfo=UTC), 2),
        ("tank/lotus@auto-2026-11-26_0300", datetime(2026, 11, 26, 3, tzinfo=UTC), 0),
    ]


def test_parses_recorded_zfs_fuse_output() -> None:
    """Recorded on this project's machine: zfs-fuse 0.7 prints local, minute-precise dates and no -p."""
    parsed = parse_snapshot_list((DATA / "zfs-fuse-list.txt").read_text(), parsable=False, tz=UTC)
    assert [(n.split("@")[1], c, h) for n, c, h in parsed] == [
        ("auto-2026-11-26_0200", datetime(2026, 11, 26, 12, 22, tzinfo=UTC), 0),
        ("auto-2026-11-26_0300", datetime(2026, 11, 26, 12, 22, tzinfo=UTC), 1),
        ("daily-2026-11-26", datetime(2026, 11, 26, 12, 26, tzinfo=UTC), 1),
    ]
    assert "invalid option 'p'" in (DATA / "zfs-fuse-list-p.stderr").read_text()


def test_dates_without_p_are_in_the_hosts_zone_and_may_be_space_padded() -> None:
    text = "tank/l@a\tSat Nov  7  2:05 2026\t0\n"
    (parsed,) = parse_snapshot_list(text, parsable=False, tz=timezone(timedelta(hours=1)))
    assert parsed[1] == datetime(2026, 11, 7, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "parsable", "match"),
    [
        ("tank/l@a\t1795662000\n", True, "line 1: expected 3 tab-separated fields"),
        ("tank/l@a\tyesterday\t0\n", True, "cannot read creation 'yesterday'"),
        ("tank/l@a\t1795662000\tmany\n", True, "userrefs 'many'"),
        ("\ntank/l@a\t26.11.2026 02:00\t0\n", False, "line 2: cannot read creation"),
    ],
)
def test_malformed_output_is_an_input_error(text: str, parsable: bool, match: str) -> None:
    with pytest.raises(InputError, match=match):
        parse_snapshot_list(text, parsable=parsable)


def _snapshot(name: str, hold: bool = False) -> None:
    subprocess.run(["zfs", "snapshot", name], check=True)
    if hold:
        subprocess.run(["zfs", "hold", "keep", name], check=True)


def _release(name: str) -> None:
    subprocess.run(["zfs", "release", "keep", name], check=True)


@pytest.mark.integration
def test_restore_points_with_holds_and_prefix(zpool: Any, populate: Callable[[Path, dict[str, bytes]], None]) -> None:
    dataset, _ = zpool.dataset("lotus", FILES)
    zpool.dataset("lotus/child", {"x": b"1"})
    _snapshot(f"{dataset}@auto-1", hold=True)
    _snapshot(f"{dataset}@manual")
    _snapshot(f"{dataset}/child@auto-1")  # a child's snapshot is not the dataset's restore point
    _snapshot(f"{dataset}@auto-2")
    try:
        source = load_source({"kind": "zfs", "dataset": dataset}, where="p")
        rps = source.restore_points()
        assert [(rp.name.split("@")[1], rp.protected, rp.path) for rp in rps] == [
            ("auto-1", True, None), ("manual", False, None), ("auto-2", False, None)
        ]  # fmt: skip
        assert all(rp.created.tzinfo is UTC for rp in rps)
        assert abs(rps[-1].created - datetime.now(UTC)) < timedelta(minutes=2)
        assert rps == sorted(rps, key=lambda rp: rp.created)
        prefixed = load_source({"kind": "zfs", "dataset": dataset, "snapshot_prefix": "auto-"}, where="p")
        assert [rp.name.split("@")[1] for rp in prefixed.restore_points()] == ["auto-1", "auto-2"]
    finally:
        _release(f"{dataset}@auto-1")


@pytest.mark.integration
def test_missing_dataset_is_a_target_error(zpool: Any) -> None:
    with pytest.raises(TargetError, match=r"could not list snapshots of .*/nope: .*does not exist"):
        load_source({"kind": "zfs", "dataset": f"{zpool.name}/nope"}, where="p").restore_points()


@pytest.mark.integration
def test_clone_is_marked_writable_and_never_touches_the_snapshot(
    zpool: Any, tmp_path: Path, hash_tree: Callable[[Path], str]
) -> None:
    dataset, live = zpool.dataset("lotus", FILES)
    _snapshot(f"{dataset}@auto-1", hold=True)
    source = load_source({"kind": "zfs", "dataset": dataset}, where="p")
    (rp,) = source.restore_points()
    live_before = hash_tree(live)
    try:
        ws = source.create_workspace(rp, "d1", tmp_path / "ws")
        assert ws.path == tmp_path / "ws" / "spdrill-d1-zfs-0" and ws.method == "zfs clone"
        clone = f"{zpool.name}/spdrill-d1-0"
        props = subprocess.run(["zfs", "get", "-H", "-o", "value", "spdrill:drill,origin", clone],
                               capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
        assert props == ["d1", rp.name]
        snapshot_view = hash_tree(ws.path)
        (ws.path / "config.toml").write_text("changed by the drill")
        (ws.path / "sealed/s-t01000-1").unlink()
        ws.destroy()
        ws.destroy()
        assert not (tmp_path / "ws" / "spdrill-d1-zfs-0").exists()
        # A second clone of the same snapshot shows what the snapshot holds: exactly what it held before.
        with source.create_workspace(rp, "d2", tmp_path / "ws") as again:
            assert hash_tree(again.path) == snapshot_view
            assert (again.path / "sealed/s-t01000-1").read_bytes() == FILES["sealed/s-t01000-1"]
        assert hash_tree(live) == live_before
        assert [p.protected for p in source.restore_points()] == [True]
    finally:
        _release(f"{dataset}@auto-1")


@pytest.mark.integration
def test_cleanup_reaps_the_clone_a_killed_drill_left(zpool: Any, tmp_path: Path) -> None:
    dataset, _ = zpool.dataset("lotus", FILES)
    _snapshot(f"{dataset}@auto-1")
    source = load_source({"kind": "zfs", "dataset": dataset}, where="p")
    (rp,) = source.restore_points()
    source.create_workspace(rp, "killed", tmp_path / "ws")  # never destroyed: the drill "died"
    other = source.create_workspace(rp, "other", tmp_path / "ws")
    # Both belong to this live process, so a sweep of stale ones must keep them...
    assert cleanup() == []
    # ...while naming the drill reaps exactly its clone, and leaves the snapshot.
    assert cleanup("killed") == [f"{zpool.name}/spdrill-killed-0"]
    assert not (tmp_path / "ws" / "spdrill-killed-zfs-0").exists()
    assert [p.name for p in source.restore_points()] == [rp.name]
    other_host = "spdrill:owner=another-host:1"  # its process cannot be checked from here: keep it
    subprocess.run(["zfs", "set", other_host, f"{zpool.name}/spdrill-other-0"], check=True)
    assert cleanup() == []
    dead = f"spdrill:owner={os.uname().nodename}:999999999"  # this host, a pid that cannot exist
    subprocess.run(["zfs", "set", dead, f"{zpool.name}/spdrill-other-0"], check=True)
    assert cleanup() == [f"{zpool.name}/spdrill-other-0"]
    other.destroy()  # already reaped: destroy stays quiet


@pytest.mark.integration
def test_foreign_restore_point_is_refused(zpool: Any, tmp_path: Path) -> None:
    dataset, _ = zpool.dataset("lotus", FILES)
    source = load_source({"kind": "zfs", "dataset": dataset}, where="p")
    foreign = RestorePoint("zfs", f"{zpool.name}/other@a", None, datetime.now(UTC), False)
    with pytest.raises(UsageError, match="not a snapshot of ZFS dataset"):
        source.create_workspace(foreign, "d1", tmp_path / "ws")


class ReplayRunner:
    """Answers recorded output for argv prefixes: OpenZFS cannot run here (no kernel module), its output can."""

    def __init__(self, answers: dict[tuple[str, ...], CommandResult]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    def run(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
        args = tuple(argv)
        self.calls.append(args)
        for prefix, done in self.answers.items():
            if args[: len(prefix)] == prefix:
                return CommandResult(args, done.returncode, done.stdout, done.stderr)
        return CommandResult(args, 1, "", f"unexpected command {args}")


def test_openzfs_host_gives_exact_times_holds_and_snapshot_folders() -> None:
    runner = ReplayRunner({
        ("zfs", "list", "-H", "-p"): CommandResult((), 0, OPENZFS_P, ""),
        ("zfs", "get", "-H", "-o", "value", "mountpoint"): CommandResult((), 0, "/tank/lotus\n", ""),
        ("test", "-d", "/tank/lotus/.zfs/snapshot"): CommandResult((), 0, "", ""),
    })  # fmt: skip
    rps = ZfsSource("tank/lotus", runner, snapshot_prefix="auto-").restore_points()
    assert [(rp.name, rp.path, rp.protected) for rp in rps] == [
        ("tank/lotus@auto-2026-11-26_0200", Path("/tank/lotus/.zfs/snapshot/auto-2026-11-26_0200"), True),
        ("tank/lotus@auto-2026-11-26_0300", Path("/tank/lotus/.zfs/snapshot/auto-2026-11-26_0300"), False),
    ]
    assert not any(call[:2] == ("zfs", "get") and "creation" in call for call in runner.calls)


def test_a_failing_zfs_list_is_reported_not_parsed() -> None:
    runner = ReplayRunner(
        {("zfs", "list"): CommandResult((), 1, "", "cannot open 'tank/x': dataset does not exist")}
    )
    with pytest.raises(TargetError, match="could not list snapshots of tank/x: .*dataset does not exist"):
        ZfsSource("tank/x", runner).restore_points()


@pytest.mark.integration
def test_clone_mount_folder_never_reuses_an_existing_one(zpool: Any, tmp_path: Path) -> None:
    dataset, _ = zpool.dataset("lotus", FILES)
    _snapshot(f"{dataset}@auto-1")
    source = load_source({"kind": "zfs", "dataset": dataset}, where="p")
    (rp,) = source.restore_points()
    (tmp_path / "ws" / "spdrill-d1-zfs-0").mkdir(parents=True)  # e.g. another pool's clone for this drill
    with source.create_workspace(rp, "d1", tmp_path / "ws") as ws:
        assert ws.path.name == "spdrill-d1-zfs-1"
        assert (ws.path / "config.toml").read_bytes() == FILES["config.toml"]


def test_a_failed_zfs_command_is_judged_on_its_own_answer_never_re_run() -> None:
    """A second run may see another host state (zfs-fuse stopping): the error is the first answer's, once."""
    from spdrill.errors import TargetError
    from spdrill.snapshots.zfs import reap_clones

    answers = [CommandResult(("zfs", "get"), 1, "", "cannot open 'tank': pool I/O is currently suspended"),
               CommandResult(("zfs", "get"), 1, "", "internal error: failed to initialize ZFS library")]
    calls: list[Sequence[str]] = []

    class Flaky:
        def run(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
            calls.append(argv)
            return answers[len(calls) - 1]

    with pytest.raises(TargetError, match="pool I/O is currently suspended"):
        reap_clones(Flaky(), None)
    assert len(calls) == 1
    calls.clear()
    answers.reverse()  # no ZFS library on this host: nothing of ours can exist there
    assert reap_clones(Flaky(), None) == [] and len(calls) == 1
