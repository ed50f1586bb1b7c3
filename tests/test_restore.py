import json
from pathlib import Path

import pytest

from spdrill.errors import InputError
from spdrill.plan import Layout
from spdrill.restore import find_parts, remap_storage


def make_rp(root: Path) -> None:
    (root / "lotus").mkdir(parents=True)
    (root / "lotus-miner").mkdir()
    (root / "storage/store-0").mkdir(parents=True)
    (root / "storage/store-0/sectorstore.json").write_text("{}")
    (root / "chain").mkdir()
    (root / "chain/snapshot-100.car.zst").write_bytes(b"x")
    (root / "backups").mkdir()
    (root / "backups/miner-20261126T010000Z.cbor").write_bytes(b"y")


def test_find_parts(tmp_path: Path) -> None:
    make_rp(tmp_path)
    parts = find_parts(tmp_path, Layout())
    assert parts.daemon_repo == tmp_path / "lotus"
    assert parts.chain_snapshot is not None and parts.chain_snapshot.name == "snapshot-100.car.zst"
    assert parts.miner_backup is not None


def test_find_parts_names_missing_repo(tmp_path: Path) -> None:
    make_rp(tmp_path)
    with pytest.raises(InputError, match=r"miner repo \(restore.layout.miner_repo\)"):
        find_parts(tmp_path, Layout(miner_repo="nope"))


def test_remap_storage_points_into_workspace(tmp_path: Path) -> None:
    make_rp(tmp_path)
    prod = "/backups/lotus/2026-11-26T0100Z/storage/store-0"
    (tmp_path / "lotus-miner/storage.json").write_text(json.dumps(
        {"StoragePaths": [{"Path": prod}, {"Path": "/mnt/elsewhere"}]}))
    changes = remap_storage(tmp_path / "lotus-miner", tmp_path)
    assert changes == [(prod, str(tmp_path / "storage/store-0"))]
    doc = json.loads((tmp_path / "lotus-miner/storage.json").read_text())
    assert doc["StoragePaths"][1]["Path"] == "/mnt/elsewhere"


def test_remap_storage_rejects_garbage(tmp_path: Path) -> None:
    make_rp(tmp_path)
    (tmp_path / "lotus-miner/storage.json").write_text("[1,2")
    with pytest.raises(InputError, match="storage.json"):
        remap_storage(tmp_path / "lotus-miner", tmp_path)
