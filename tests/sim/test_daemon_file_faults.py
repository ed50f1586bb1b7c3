"""File faults applied with `lotus-sim fault`, seen through the running programs' API and CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lotus_sim.bitfield import decode_runs
from tests.sim.simproc import Stand, make_stand


@pytest.fixture
def stand(tmp_path: Path) -> Iterator[Stand]:
    s = make_stand(tmp_path, sectors=24, deadlines=3)
    try:
        yield s
    finally:
        s.stop_all()


def test_stale_snapshot_leaves_the_daemon_far_behind(stand: Stand) -> None:
    stand.fault("stale-snapshot=30d")
    assert stand.import_snapshot().returncode == 0
    stand.start_daemon("--bootstrap=false")
    behind = stand.daemon().call("NodeStatus", False)["SyncStatus"]["Behind"]
    assert behind >= 30 * 2880  # 30 days of 30 s epochs


def test_truncated_snapshot_fails_the_import(stand: Stand) -> None:
    stand.fault("truncated-snapshot")
    result = stand.import_snapshot()
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1].startswith("ERROR: ")


def test_keys_in_wallet_show_in_wallet_list(stand: Stand) -> None:
    stand.fault("keys-in-wallet")
    assert stand.import_snapshot().returncode == 0
    stand.start_daemon()
    listed = stand.run("lotus", "wallet", "list", "-a").stdout.split()
    assert {stand.info["worker"]["key"], stand.info["owner"]["key"]} <= set(listed)


def test_wrong_actor_stops_the_miner(stand: Stand) -> None:
    stand.fault("wrong-actor")
    assert stand.import_snapshot().returncode == 0
    stand.start_daemon()
    result = stand.run("lotus-miner", "run", "--nosync", "--miner-api", "0", timeout=30)
    assert result.returncode == 1 and "not found" in result.stderr


def test_missing_and_truncated_sectors_are_skipped_and_named(stand: Stand) -> None:
    first_partition = stand.info["deadlines"]["0"][0]
    stand.fault(f"missing-sector={first_partition[0]}")
    stand.fault(f"truncated-sector={first_partition[1]}")
    assert stand.import_snapshot().returncode == 0
    stand.start_daemon()
    stand.start_miner("--nosync")
    posts = stand.miner().call("ComputeWindowPoSt", 0, [])
    assert list(decode_runs(posts[0]["Partitions"][0]["Skipped"])) == first_partition
    check = stand.run("lotus-miner", "proving", "check", "--only-bad", "0").stdout
    assert "not found" in check and "truncated" in check


DAMAGED_BACKUPS = [("corrupt-backup", "checksum"), ("backup-trailing-bytes", "after the checksum")]


@pytest.mark.parametrize(("fault", "words"), DAMAGED_BACKUPS)
def test_damaged_backup_fails_init_restore_before_any_push(stand: Stand, tmp_path: Path, fault: str,
                                                            words: str) -> None:
    stand.fault(fault)
    stand.fault("keys-in-wallet")  # so only the backup can stop the restore
    assert stand.import_snapshot().returncode == 0
    stand.start_daemon()
    backup = stand.root / stand.info["backup"]["path"]
    result = stand.run("lotus-miner", "init", "restore", "--nosync", str(backup),
                       env={"LOTUS_MINER_PATH": str(tmp_path / "restored")})
    assert result.returncode == 1 and words in result.stderr.lower()
    assert stand.records() == []
