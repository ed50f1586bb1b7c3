"""``lotus-sim make-fixture``: a complete, deterministic restore point (CONTRACT.md's layout)."""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lotus_sim import configs, keystore, sectorstore
from lotus_sim.address import Address
from lotus_sim.clock import Clock
from lotus_sim.policy import DEADLINES, proof_types
from lotus_sim.world import Account, Head, MinerMetadata, Multisig, World


@dataclass(frozen=True)
class FixtureSpec:
    """What ``make-fixture`` is asked to generate."""

    sectors: int = 64
    deadlines: int = 4
    snapshot_age: int = 2 * 3600
    backup_age: int = 3 * 3600
    sectors_after_backup: int = 0
    seed: int = 1
    miner: str = "f01000"
    sector_size: int = 2048
    storage_paths: int = 2
    now: float | None = None
    block_delay: int = 30
    genesis: int = 1598306400
    faults: tuple[str, ...] = field(default=())
    sector_files: bool = True  # False: chain, repos and backup only (big worlds for daemon benchmarks)
    owner_multisig: str = ""  # "M-of-N": the owner is an M-of-N multisig of account signers


def backup_name(unix_time: float) -> str:
    """``miner-<UTC yyyymmddThhmmssZ>.cbor``."""
    return "miner-" + datetime.fromtimestamp(unix_time, UTC).strftime("%Y%m%dT%H%M%SZ") + ".cbor"


def assign_deadlines(count: int, k: int, partition_size: int) -> list[array[int]]:
    """Sectors 0..count-1 in full partitions, partition j going to the j-th of ``k`` spread deadlines."""
    chosen = [i * DEADLINES // k for i in range(k)]
    deadlines: list[array[int]] = [array("Q") for _ in range(DEADLINES)]
    for j, start in enumerate(range(0, count, partition_size)):
        deadlines[chosen[j % k]].extend(range(start, min(start + partition_size, count)))
    return deadlines


def _accounts(rng: random.Random, miner: Address, root: Path) -> tuple[list[Account], dict[str, str]]:
    net, secrets = miner.network, root / "secrets"
    secrets.mkdir(mode=0o700)
    accounts, files = [], {}
    roles = (("owner", "bls"), ("worker", "bls"), ("control", "secp256k1"))
    for offset, (role, key_type) in enumerate(roles):
        info, key_address = keystore.wallet_key(rng, key_type, net)
        id_address = Address.id(miner.actor_id + 1 + offset, net)
        accounts.append(Account(str(id_address), str(key_address), key_type))
        target = secrets / f"{role}-{key_address}.key"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(info.export() + "\n")
        files[str(key_address)] = str(target.relative_to(root))
    return accounts, files


def parse_multisig(text: str) -> tuple[int, int]:
    """(threshold, signers) of ``2-of-3``; ValueError unless 1 <= M <= N (the multisig constructor's rules)."""
    m, sep, n = text.partition("-of-")
    if not (sep and m.isdigit() and n.isdigit() and 1 <= int(m) <= int(n)):
        raise ValueError(f"owner multisig {text!r}: expected M-of-N with 1 <= M <= N, e.g. 2-of-3")
    return int(m), int(n)


def _multisig_owner(spec: FixtureSpec, miner: Address, root: Path, secret_files: dict[str, str]) -> Multisig:
    # A separate random stream, so the rest of the fixture is byte-for-byte the same as without a multisig.
    threshold, count = parse_multisig(spec.owner_multisig)
    rng = random.Random(f"owner-multisig:{spec.seed}")
    signers = []
    for i in range(count):
        info, key_address = keystore.wallet_key(rng, "secp256k1", miner.network)
        signers.append(Account(str(Address.id(miner.actor_id + 10 + i, miner.network)), str(key_address),
                               "secp256k1"))
        target = root / "secrets" / f"signer{i}-{key_address}.key"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(info.export() + "\n")
        secret_files[str(key_address)] = str(target.relative_to(root))
    return Multisig(str(Address.id(miner.actor_id + 1, miner.network)), tuple(signers), threshold)


def _repo(path: Path, rng: random.Random, config: str) -> str:
    """A repo with config.toml, a JWT secret, a libp2p key and an admin token; returns its peer ID."""
    path.mkdir(parents=True)
    (path / "config.toml").write_text(config)
    secret = rng.randbytes(32)
    keystore.write_key(path, keystore.JWT_KEY, keystore.KeyInfo("jwt-hmac-secret", secret))
    libp2p, peer_id = keystore.libp2p_key(rng)
    keystore.write_key(path, keystore.LIBP2P_KEY, libp2p)
    fd = os.open(path / "token", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(keystore.hs256_token(secret))
    return peer_id


def _write_sectors(stores: list[Path], seed: int, miner_id: int, count: int) -> None:
    # Sector n lives in store n % len(stores). File creation is kernel time that threads overlap on
    # several cores, so each store's share is cut into chunks run by a small pool.
    chunk = 2048
    jobs = []
    for i, store in enumerate(stores):
        mine = range(i, count, len(stores))
        jobs += [(store, mine[j : j + chunk]) for j in range(0, len(mine), chunk)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda job: sectorstore.write_sectors(job[0], seed, miner_id, job[1]), jobs))


def make_fixture(root: Path, spec: FixtureSpec) -> dict[str, object]:
    """Write a restore point under ``root`` (absent or empty); returns fixture.json's content."""
    miner, proofs = Address.parse(spec.miner), proof_types(spec.sector_size)
    if miner.protocol != 0:
        raise ValueError(f"miner {spec.miner}: a miner actor is an ID address such as f01000")
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty; make-fixture writes into a new or empty folder")
    root = root.resolve()
    now = time.time() if spec.now is None else spec.now
    rng = random.Random(spec.seed)
    clock = Clock(spec.genesis, spec.block_delay)
    rp = root / "restore-point"
    accounts, secret_files = _accounts(rng, miner, root)
    msig = _multisig_owner(spec, miner, root, secret_files) if spec.owner_multisig else None
    if msig is not None:  # the owner slot's ID is the multisig's; no key of its own
        (root / secret_files.pop(accounts[0].key_address)).unlink()
        accounts[0] = Account(msig.id_address, msig.id_address, "multisig")
    _repo(rp / "lotus", rng, configs.daemon_config())
    miner_repo = rp / "lotus-miner"
    peer_id = _repo(miner_repo, rng, configs.miner_config([accounts[2].key_address]))
    height = clock.epoch_at(now - spec.snapshot_age)
    world = World(
        miner=str(miner),
        owner=accounts[0],
        worker=accounts[1],
        controls=(accounts[2],),
        peer_id=peer_id,
        sector_size=spec.sector_size,
        head=Head(height, clock.timestamp_of(height)),
        deadlines=assign_deadlines(spec.sectors, spec.deadlines, proofs.partition_sectors),
        proving_period_offset=rng.randrange(2880),
        network_name="mainnet" if miner.network == "f" else "calibrationnet",
        clock=clock,
        seed=spec.seed,
        owner_multisig=msig,
    )
    (rp / "chain").mkdir(parents=True)
    snapshot = rp / "chain" / f"snapshot-{height}.car.zst"
    world.write_car(snapshot)
    os.utime(snapshot, (world.head.timestamp, world.head.timestamp))
    all_sectors = array("Q", range(spec.sectors))
    MinerMetadata(str(miner), all_sectors, seal_proof=proofs.seal_proof).write_repo(miner_repo)
    backup_time = int(now - spec.backup_age)
    in_backup = array("Q", range(spec.sectors - spec.sectors_after_backup))
    (rp / "backups").mkdir()
    backup = rp / "backups" / backup_name(backup_time)
    MinerMetadata(str(miner), in_backup, seal_proof=proofs.seal_proof).write_backup(backup)
    os.utime(backup, (backup_time, backup_time))
    stores = [rp / "storage" / f"store-{i}" for i in range(spec.storage_paths)]
    for store in stores:
        meta = sectorstore.LocalStorageMeta(str(uuid.UUID(bytes=rng.randbytes(16), version=4)))
        sectorstore.write_sectorstore(store, meta)
    sectorstore.write_storage_json(miner_repo, stores)
    if spec.sector_files:
        _write_sectors(stores, spec.seed, miner.actor_id, spec.sectors)
    info = _describe(root, spec, now, world, snapshot, backup, backup_time, stores, secret_files)
    if msig is not None:
        info["owner_multisig"] = {"id": msig.id_address, "threshold": msig.threshold,
                                  "signers": [{"id": a.id_address, "key": a.key_address, "type": a.key_type}
                                              for a in msig.signers]}
    write_info(root, info)
    return info


def _describe(
    root: Path,
    spec: FixtureSpec,
    now: float,
    world: World,
    snapshot: Path,
    backup: Path,
    backup_time: int,
    stores: list[Path],
    secret_files: dict[str, str],
) -> dict[str, object]:
    def acc(a: Account) -> dict[str, str]:
        return {"id": a.id_address, "key": a.key_address, "type": a.key_type}

    proofs = world.proofs
    return {
        "simulated": True,
        "generator": "lotus-sim make-fixture",
        "seed": spec.seed,
        "now": now,
        "network": world.network_name,
        "block_delay": world.clock.block_delay,
        "genesis": world.clock.genesis,
        "miner": world.miner,
        "miner_id": world.miner_id,
        "peer_id": world.peer_id,
        "owner": acc(world.owner),
        "worker": acc(world.worker),
        "controls": [acc(c) for c in world.controls],
        "sector_size": world.sector_size,
        "seal_proof": proofs.seal_proof,
        "window_post_proof": proofs.window_post_proof,
        "partition_sectors": proofs.partition_sectors,
        "proving_period_offset": world.proving_period_offset,
        "sectors": spec.sectors,
        "deadlines": {
            str(i): [list(p) for p in world.partitions(i)] for i in range(DEADLINES) if len(world.deadlines[i])
        },
        "snapshot": {
            "path": str(snapshot.relative_to(root)),
            "height": world.head.height,
            "timestamp": world.head.timestamp,
            "head_cids": list(world.head.cids),
        },
        "backup": {
            "path": str(backup.relative_to(root)),
            "time": backup_time,
            "sectors": spec.sectors - spec.sectors_after_backup,
            "sectors_after_backup": list(range(spec.sectors - spec.sectors_after_backup, spec.sectors)),
        },
        "repos": {"lotus": "restore-point/lotus", "lotus-miner": "restore-point/lotus-miner"},
        "storage_paths": [str(s.relative_to(root)) for s in stores],
        "sector_files": spec.sector_files,
        "sealed_file_size": sectorstore.SEALED_SIZE,
        "secrets": secret_files,
        "faults": [],
    }


def read_info(root: Path) -> dict[str, object]:
    """fixture.json of a generated fixture; ValueError when ``root`` is not one."""
    target = root / "fixture.json"
    try:
        info = json.loads(target.read_text())
    except FileNotFoundError as exc:
        raise ValueError(f"{target}: missing; {root} is not a folder written by lotus-sim make-fixture") from exc
    if not isinstance(info, dict):
        raise ValueError(f"{target}: expected a JSON object")
    return info


def write_info(root: Path, info: dict[str, object]) -> None:
    """Write fixture.json (sorted keys, so equal fixtures give equal bytes)."""
    (root / "fixture.json").write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
