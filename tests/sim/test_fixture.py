"""make-fixture: CONTRACT.md's layout, consistency between its files, ages, and determinism."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path

from lotus_sim import keystore, sectorstore
from lotus_sim.fixture import backup_name
from lotus_sim.world import MinerMetadata, World

Fixture = tuple[Path, dict[str, object]]
FixtureFactory = Callable[..., Fixture]
NOW = 1_764_000_000.0  # the conftest's fixed now; checked against fixture.json below


def _rp(root: Path) -> Path:
    return root / "restore-point"


def test_layout_follows_the_contract(small_fixture: Fixture) -> None:
    root, info = small_fixture
    rp = _rp(root)
    assert info["now"] == NOW
    for rel in ("lotus/config.toml", "lotus/token", "lotus-miner/config.toml", "lotus-miner/storage.json",
                "lotus-miner/token", "lotus-miner/datastore", "chain", "backups", "storage/store-0/sectorstore.json",
                "storage/store-1/sectorstore.json"):  # fmt: skip
        assert (rp / rel).exists(), rel
    assert [p.name for p in (rp / "chain").iterdir()] == [f"snapshot-{info['snapshot']['height']}.car.zst"]  # type: ignore[index]
    assert [p.name for p in (rp / "backups").iterdir()] == [backup_name(NOW - 3 * 3600)]
    assert backup_name(NOW - 3 * 3600) == "miner-20251124T130000Z.cbor"
    assert not (root / "secrets").is_relative_to(rp)


def test_repos_hold_keys_but_the_daemon_wallet_is_empty(small_fixture: Fixture) -> None:
    root, info = small_fixture
    for repo in (_rp(root) / "lotus", _rp(root) / "lotus-miner"):
        assert set(keystore.list_keys(repo)) == {"auth-jwt-private", "libp2p-host"}
        assert len(keystore.read_jwt_secret(repo)) == 32
        assert (repo / "token").read_text() == keystore.hs256_token(keystore.read_jwt_secret(repo))
    assert keystore.wallet_addresses(_rp(root) / "lotus") == []
    secrets = info["secrets"]
    assert isinstance(secrets, dict) and len(secrets) == 3
    for address, rel in secrets.items():
        key = keystore.KeyInfo.from_export((root / rel).read_text())
        assert key.type in ("bls", "secp256k1") and address[:2] in ("f1", "f3")


def test_miner_config_is_production_like(small_fixture: Fixture) -> None:
    root, info = small_fixture
    config = tomllib.loads((_rp(root) / "lotus-miner" / "config.toml").read_text())
    assert config["Subsystems"]["DisableWinningPoSt"] is False
    assert config["API"]["ListenAddress"] == "/ip4/127.0.0.1/tcp/2345/http"
    assert config["Addresses"]["PreCommitControl"] == [info["controls"][0]["key"]]  # type: ignore[index]
    daemon = tomllib.loads((_rp(root) / "lotus" / "config.toml").read_text())
    assert daemon["API"]["ListenAddress"] == "/ip4/127.0.0.1/tcp/1234/http"


def test_chain_metadata_storage_and_fixture_json_agree(small_fixture: Fixture) -> None:
    root, info = small_fixture
    world = World.from_car(root / str(info["snapshot"]["path"]))  # type: ignore[index]
    assert world.miner == info["miner"] == "f01000" and world.peer_id == info["peer_id"]
    assert world.sector_count() == 24 and world.worker.key_address == info["worker"]["key"]  # type: ignore[index]
    assert list(world.head.cids) == info["snapshot"]["head_cids"]  # type: ignore[index]
    deadlines = info["deadlines"]
    assert isinstance(deadlines, dict) and sorted(map(int, deadlines)) == [0, 16, 32]
    for dl, partitions in deadlines.items():
        assert [list(p) for p in world.partitions(int(dl))] == partitions
        assert all(len(p) <= 2 for p in partitions)
    assert list(MinerMetadata.from_repo(_rp(root) / "lotus-miner").sectors) == list(range(24))
    backup = MinerMetadata.from_backup(root / str(info["backup"]["path"]))  # type: ignore[index]
    assert backup.miner_address == "f01000" and list(backup.sectors) == list(range(22))
    assert info["backup"]["sectors_after_backup"] == [22, 23]  # type: ignore[index]
    stores = sectorstore.read_storage_json(_rp(root) / "lotus-miner")
    assert stores == [(_rp(root) / f"storage/store-{i}").resolve() for i in range(2)]
    assert all(p.is_absolute() for p in stores)
    assert len({sectorstore.read_sectorstore(p).id for p in stores}) == 2
    for n in range(24):
        assert sectorstore.check_sector(stores, 1000, n) is None
        assert (stores[n % 2] / "sealed" / f"s-t01000-{n}").stat().st_size == sectorstore.SEALED_SIZE
        assert (stores[n % 2] / "cache" / f"s-t01000-{n}").is_dir()


def test_snapshot_and_backup_carry_their_ages(small_fixture: Fixture) -> None:
    root, info = small_fixture
    snap = info["snapshot"]
    assert isinstance(snap, dict)
    assert NOW - 2 * 3600 - 30 < snap["timestamp"] <= NOW - 2 * 3600
    assert (root / snap["path"]).stat().st_mtime == snap["timestamp"]
    assert (root / str(info["backup"]["path"])).stat().st_mtime == NOW - 3 * 3600  # type: ignore[index]


def _files(root: Path) -> dict[str, bytes]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            out[str(path.relative_to(root))] = data.replace(str(root.resolve()).encode(), b"<ROOT>")
    return out


def test_same_seed_and_now_give_the_same_bytes(make_fx: FixtureFactory) -> None:
    a, _ = make_fx("a", seed=11)
    b, _ = make_fx("b", seed=11)
    c, _ = make_fx("c", seed=12)
    files_a = _files(a)
    assert files_a == _files(b)
    files_c = _files(c)
    assert files_c != files_a
    snapshot = next(k for k in files_a if k.startswith("restore-point/chain/"))
    assert files_c.get(snapshot) != files_a[snapshot]


def test_big_sectors_and_testnet_miner(make_fx: FixtureFactory) -> None:
    root, info = make_fx(sectors=2400, deadlines=1, sector_size=32 << 30, miner="t01234", storage_paths=1)
    world = World.from_car(root / str(info["snapshot"]["path"]))  # type: ignore[index]
    assert world.proofs.partition_sectors == 2349 and [len(p) for p in world.partitions(0)] == [2349, 51]
    assert world.network_name == "calibrationnet" and world.owner.id_address.startswith("t0")
    assert (root / "restore-point/storage/store-0/sealed/s-t01234-2399").is_file()
    assert json.loads((root / "fixture.json").read_text())["seal_proof"] == 8


def test_without_sector_files_the_chain_still_has_every_sector(make_fx: FixtureFactory) -> None:
    root, info = make_fx(sectors=3000, sector_files=False)
    assert World.from_car(root / str(info["snapshot"]["path"])).sector_count() == 3000  # type: ignore[index]
    assert not any((root / "restore-point/storage/store-0/sealed").iterdir())
    assert info["sector_files"] is False and info["sealed_file_size"] == sectorstore.SEALED_SIZE
