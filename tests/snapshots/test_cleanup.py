"""Markers and the reaper: what a killed drill left goes, what a live drill or a stranger owns stays."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spdrill.snapshots import cleanup, load_source
from spdrill.snapshots.cleanup import owner_alive, owner_tag

FILES = {"lotus/config.toml": b"[API]\n"}


def _workspace(tmp_path: Path, populate: Callable[[Path, dict[str, bytes]], None], drill: str) -> Path:
    populate(tmp_path / "b" / "2026-11-26T0200Z", FILES)
    source = load_source({"kind": "directory", "path": str(tmp_path / "b")}, where="p")
    (rp,) = source.restore_points()
    return source.create_workspace(rp, drill, tmp_path / "ws").path


def _set_owner(slot: Path, owner: str) -> None:
    marker = slot.with_name(slot.name + ".marker.json")
    record = json.loads(marker.read_text())
    marker.write_text(json.dumps({**record, "owner": owner}))


def test_marker_records_the_drill_and_its_owner(
    tmp_path: Path, populate: Callable[[Path, dict[str, bytes]], None]
) -> None:
    slot = _workspace(tmp_path, populate, "d1")
    record = json.loads(slot.with_name(slot.name + ".marker.json").read_text())
    assert record["drill_id"] == "d1" and record["kind"] == "directory" and record["owner"] == owner_tag()
    assert record["restore_point"] == str(tmp_path / "b" / "2026-11-26T0200Z")


def test_owner_liveness() -> None:
    host = os.uname().nodename
    assert owner_alive(owner_tag())
    assert not owner_alive(f"{host}:999999999")
    assert owner_alive("another-host:1")  # cannot be checked from here, so never reaped unasked
    assert owner_alive("")


def test_stale_sweep_reaps_only_workspaces_of_dead_drills(
    tmp_path: Path, populate: Callable[[Path, dict[str, bytes]], None]
) -> None:
    live = _workspace(tmp_path, populate, "live")
    dead = _workspace(tmp_path, populate, "dead")
    _set_owner(dead, f"{os.uname().nodename}:999999999")
    assert cleanup(roots=[tmp_path / "ws"]) == [str(dead)]
    assert not dead.exists() and live.exists()
    assert cleanup("live", roots=[tmp_path / "ws"]) == [str(live)]
    assert list((tmp_path / "ws").iterdir()) == []


def test_reaper_never_follows_a_marker_outside_the_convention(
    tmp_path: Path, populate: Callable[[Path, dict[str, bytes]], None]
) -> None:
    precious = tmp_path / "ws" / "precious"
    populate(precious, FILES)
    for name in ("precious.marker.json", "spdrill-x-zfs-0.marker.json", "spdrill-x-directory-.marker.json"):
        (tmp_path / "ws" / name).write_text(json.dumps({"path": str(precious), "owner": "h:1"}))
    assert cleanup("x", roots=[tmp_path / "ws"]) == []
    assert cleanup(roots=[tmp_path / "ws"]) == []
    assert (precious / "lotus/config.toml").exists()


def test_a_marker_without_its_workspace_is_reaped(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    marker = tmp_path / "ws" / "spdrill-k-directory-0.marker.json"
    marker.write_text("not json: the drill died while writing it")
    assert cleanup("k", roots=[tmp_path / "ws"]) == [str(tmp_path / "ws" / "spdrill-k-directory-0")]
    assert not marker.exists()


def test_cleanup_of_a_missing_root_finds_nothing(tmp_path: Path) -> None:
    assert cleanup("x", roots=[tmp_path / "nope"]) == []


KILLED_DRILL = """
import os, signal, sys
from pathlib import Path
from spdrill.snapshots import load_source
source = load_source({"kind": sys.argv[1], sys.argv[2]: sys.argv[3]}, where="p")
source.create_workspace(source.restore_points()[-1], "killed", Path(sys.argv[4]))
os.kill(os.getpid(), signal.SIGKILL)  # the drill dies before its teardown can run
"""


def run_killed_drill(kind: str, key: str, value: str, root: Path) -> None:
    """Run a drill process that makes a workspace and is SIGKILLed before destroying it."""
    done = subprocess.run([sys.executable, "-c", KILLED_DRILL, kind, key, value, str(root)], check=False,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr


def test_sweep_reaps_what_a_sigkilled_drill_left(
    tmp_path: Path, populate: Callable[[Path, dict[str, bytes]], None]
) -> None:
    populate(tmp_path / "b" / "2026-11-26T0200Z", FILES)
    run_killed_drill("directory", "path", str(tmp_path / "b"), tmp_path / "ws")
    assert sorted(p.name for p in (tmp_path / "ws").iterdir()) == [
        "spdrill-killed-directory-0", "spdrill-killed-directory-0.marker.json"
    ]  # fmt: skip
    assert cleanup(roots=[tmp_path / "ws"]) == [str(tmp_path / "ws" / "spdrill-killed-directory-0")]
    assert list((tmp_path / "ws").iterdir()) == []
    assert (tmp_path / "b" / "2026-11-26T0200Z" / "lotus/config.toml").read_bytes() == FILES["lotus/config.toml"]


@pytest.mark.integration
def test_sweep_reaps_the_clone_of_a_sigkilled_drill(zpool: Any, tmp_path: Path) -> None:
    dataset, _ = zpool.dataset("lotus", FILES)
    subprocess.run(["zfs", "snapshot", f"{dataset}@auto-1"], check=True)
    run_killed_drill("zfs", "dataset", dataset, tmp_path / "ws")
    assert cleanup() == [f"{zpool.name}/spdrill-killed-0"]
    assert not (tmp_path / "ws" / "spdrill-killed-zfs-0").exists()
