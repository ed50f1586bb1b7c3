"""Each file fault is visible on disk to the readers that must catch it, and is recorded in fixture.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lotus_sim import keystore, sectorstore
from lotus_sim.backup import BackupError
from lotus_sim.cbor import FormatError
from lotus_sim.filefaults import FAULTS, apply_fault
from lotus_sim.world import MinerMetadata, World

Fixture = tuple[Path, dict[str, object]]


def _path(root: Path, *keys: str) -> Path:
    value: object = json.loads((root / "fixture.json").read_text())
    for key in keys:
        assert isinstance(value, dict)
        value = value[key]
    return root / str(value)


def _recorded(root: Path) -> list[str]:
    return [f["name"] for f in json.loads((root / "fixture.json").read_text())["faults"]]


def _stores(root: Path) -> list[Path]:
    return sectorstore.read_storage_json(root / "restore-point" / "lotus-miner")


def test_stale_snapshot_moves_the_head_back(small_fixture: Fixture) -> None:
    root, info = small_fixture
    before = World.from_car(_path(root, "snapshot", "path"))
    old_path = _path(root, "snapshot", "path")
    apply_fault(root, "stale-snapshot")
    after = World.from_car(_path(root, "snapshot", "path"))
    assert before.head.height - after.head.height >= 30 * 2880 - 240
    assert not old_path.exists() and after.sector_count() == before.sector_count()
    assert _path(root, "snapshot", "path").stat().st_mtime == after.head.timestamp
    apply_fault(root, "stale-snapshot=60d")
    assert World.from_car(_path(root, "snapshot", "path")).head.height < after.head.height
    assert _recorded(root) == ["stale-snapshot", "stale-snapshot"]


def test_corrupt_backup_fails_the_checksum(small_fixture: Fixture) -> None:
    root, _ = small_fixture
    backup = _path(root, "backup", "path")
    MinerMetadata.from_backup(backup)
    mtime = backup.stat().st_mtime
    apply_fault(root, "corrupt-backup")
    with pytest.raises(BackupError, match="checksum"):
        MinerMetadata.from_backup(backup)
    assert backup.stat().st_mtime == mtime and _recorded(root) == ["corrupt-backup"]


def test_backup_trailing_bytes_are_rejected(small_fixture: Fixture) -> None:
    root, _ = small_fixture
    apply_fault(root, "backup-trailing-bytes")
    with pytest.raises(BackupError, match="after the checksum"):
        MinerMetadata.from_backup(_path(root, "backup", "path"))


def test_truncated_snapshot_does_not_read(small_fixture: Fixture) -> None:
    root, _ = small_fixture
    apply_fault(root, "truncated-snapshot")
    with pytest.raises(FormatError):
        World.from_car(_path(root, "snapshot", "path"))


def test_missing_and_truncated_sectors_are_named(small_fixture: Fixture) -> None:
    root, _ = small_fixture
    apply_fault(root, "missing-sector")
    apply_fault(root, "truncated-sector=5")
    stores = _stores(root)
    bad = {n: sectorstore.check_sector(stores, 1000, n) for n in range(24)}
    assert "not found" in str(bad.pop(0)) and "truncated" in str(bad.pop(5))
    assert set(bad.values()) == {None}
    faults = json.loads((root / "fixture.json").read_text())["faults"]
    assert [(f["name"], f["sector"]) for f in faults] == [("missing-sector", 0), ("truncated-sector", 5)]


def test_a_corrupt_sector_payload_is_caught(small_fixture: Fixture) -> None:
    root, _ = small_fixture
    path = _stores(root)[1] / "sealed" / "s-t01000-3"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert "checksum" in str(sectorstore.check_sector(_stores(root), 1000, 3))
    (_stores(root)[0] / "sealed" / "s-t01000-2").write_bytes(path.read_bytes()[:10])
    assert "truncated" in str(sectorstore.check_sector(_stores(root), 1000, 2))
    (_stores(root)[0] / "cache" / "s-t01000-4").rmdir()
    assert "cache folder" in str(sectorstore.check_sector(_stores(root), 1000, 4))
    (_stores(root)[0] / "sealed" / "s-t01000-6").write_bytes((_stores(root)[0] / "sealed" / "s-t01000-8").read_bytes())
    assert "holds sector s-t01000-8" in str(sectorstore.check_sector(_stores(root), 1000, 6))


def test_keys_in_wallet_puts_owner_and_worker_keys_in_the_daemon_repo(small_fixture: Fixture) -> None:
    root, info = small_fixture
    daemon = root / "restore-point" / "lotus"
    assert keystore.wallet_addresses(daemon) == []
    apply_fault(root, "keys-in-wallet")
    wanted = {info["worker"]["key"], info["owner"]["key"]}  # type: ignore[index]
    assert set(keystore.wallet_addresses(daemon)) == wanted


def test_wrong_actor_changes_metadata_but_not_the_chain(small_fixture: Fixture) -> None:
    root, _ = small_fixture
    apply_fault(root, "wrong-actor")
    world = World.from_car(_path(root, "snapshot", "path"))
    repo_md = MinerMetadata.from_repo(root / "restore-point" / "lotus-miner")
    backup_md = MinerMetadata.from_backup(_path(root, "backup", "path"))  # still a valid backup
    assert world.miner == "f01000" and repo_md.miner_address == backup_md.miner_address == "f02000"
    apply_fault(root, "wrong-actor=f01999")
    assert MinerMetadata.from_repo(root / "restore-point" / "lotus-miner").miner_address == "f01999"


@pytest.mark.parametrize("spec", ["no-such-fault", "keys-in-wallet=1", "missing-sector=999"])
def test_bad_fault_requests_are_value_errors(small_fixture: Fixture, spec: str) -> None:
    root, _ = small_fixture
    with pytest.raises(ValueError):
        apply_fault(root, spec)
    assert _recorded(root) == []


def test_every_fault_is_documented() -> None:
    assert set(FAULTS) == {"stale-snapshot", "corrupt-backup", "backup-trailing-bytes", "truncated-snapshot",
                           "missing-sector", "truncated-sector", "keys-in-wallet", "wrong-actor",
                           "repo-from-backup"}  # fmt: skip
    assert all(f.help for f in FAULTS.values())
