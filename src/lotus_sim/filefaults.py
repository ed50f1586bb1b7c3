"""File faults planted in a generated restore point; each is recorded in fixture.json under ``faults``.

wrong-actor is realised on the miner side only: the chain snapshot keeps the real miner (f01000, owner of
every sector), while the miner repo's datastore ``/miner-address`` and the metadata backup name another ID
address (default f0<miner+1000>) that the chain does not know, so StateMinerInfo on it fails as for any
unknown actor. The backup stays valid (its checksum is recomputed): only the identity is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lotus_sim import cbor, keystore, sectorstore
from lotus_sim.address import Address
from lotus_sim.clock import parse_duration
from lotus_sim.fixture import read_info, write_info
from lotus_sim.world import Head, MinerMetadata, World

Info = dict[str, object]


@dataclass(frozen=True)
class Fault:
    """One file fault: how to apply it and what ``lotus-sim fault --help`` says about it."""

    name: str
    arg: str  # metavar of the optional argument, "" when it takes none
    help: str
    apply: Callable[[Path, Info, str | None], Info]


def _get(info: Info, *keys: str) -> object:
    value: object = info
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise ValueError(f"fixture.json: field {'.'.join(keys)} is missing; regenerate the fixture")
        value = value[key]
    return value


def _stale_snapshot(root: Path, info: Info, arg: str | None) -> Info:
    age = parse_duration(arg or "30d")
    old = root / str(_get(info, "snapshot", "path"))
    world = World.from_car(old)
    height = world.clock.epoch_at(float(_get(info, "now")) - age)  # type: ignore[arg-type]
    world.head = Head(height, world.clock.timestamp_of(height))
    new = old.with_name(f"snapshot-{height}.car.zst")
    old.unlink()
    cids = world.write_car(new)
    os.utime(new, (world.head.timestamp, world.head.timestamp))
    info["snapshot"] = {**_dict(info, "snapshot"), "path": str(new.relative_to(root)), "height": height,
                        "timestamp": world.head.timestamp, "head_cids": cids}  # fmt: skip
    return {"age_s": age, "height": height}


def _dict(info: Info, key: str) -> dict[str, object]:
    value = info.get(key)
    return dict(value) if isinstance(value, dict) else {}


def _flip_backup_byte(root: Path, info: Info, arg: str | None) -> Info:
    path = root / str(_get(info, "backup", "path"))
    data = bytearray(path.read_bytes())
    # Inside the entry list (past 82 9f, before ff 58 20 + checksum): only the checksum can catch it.
    offset = int(arg) if arg else 2 + (len(data) - 37) // 2
    data[offset] ^= 0x01
    _rewrite(path, bytes(data))
    return {"offset": offset}


def _rewrite(path: Path, data: bytes) -> None:
    stat = path.stat()
    path.write_bytes(data)
    os.utime(path, (stat.st_atime, stat.st_mtime))  # the restore point's age must not change


def _trailing_bytes(root: Path, info: Info, arg: str | None) -> Info:
    path = root / str(_get(info, "backup", "path"))
    # What kvlog replay would leave: a CBOR log Entry [Key, Value, Timestamp] after the checksum.
    extra = cbor.encode([b"/trailing", b"entry", int(float(_get(info, "now")))])  # type: ignore[arg-type]
    _rewrite(path, path.read_bytes() + extra)
    return {"bytes": len(extra)}


def _truncate_snapshot(root: Path, info: Info, arg: str | None) -> Info:
    path = root / str(_get(info, "snapshot", "path"))
    data = path.read_bytes()
    keep = int(arg) if arg else len(data) * 6 // 10
    _rewrite(path, data[:keep])
    return {"kept_bytes": keep, "of_bytes": len(data)}


def _pick_sector(info: Info, arg: str | None, last: bool) -> int:
    if arg:
        return int(arg)
    deadlines = _get(info, "deadlines")
    assert isinstance(deadlines, dict)
    first_dl = deadlines[min(deadlines, key=int)]
    return int(first_dl[0][-1] if last else first_dl[0][0])


def _sector_path(root: Path, info: Info, number: int) -> Path:
    stores = [root / str(p) for p in _get(info, "storage_paths")]  # type: ignore[attr-defined]
    miner_id = int(_get(info, "miner_id"))  # type: ignore[call-overload]
    store = sectorstore.find_sector(stores, miner_id, number)
    if store is None:
        raise ValueError(f"sector {number}: no sealed file in {', '.join(map(str, stores))}")
    return store / "sealed" / sectorstore.sector_name(miner_id, number)


def _missing_sector(root: Path, info: Info, arg: str | None) -> Info:
    number = _pick_sector(info, arg, last=False)
    path = _sector_path(root, info, number)
    path.unlink()
    return {"sector": number, "path": str(path.relative_to(root))}


def _truncated_sector(root: Path, info: Info, arg: str | None) -> Info:
    number = _pick_sector(info, arg, last=True)
    path = _sector_path(root, info, number)
    data = path.read_bytes()
    _rewrite(path, data[: len(data) // 2])
    return {"sector": number, "path": str(path.relative_to(root)), "kept_bytes": len(data) // 2}


def _keys_in_wallet(root: Path, info: Info, arg: str | None) -> Info:
    daemon_repo = root / "restore-point" / "lotus"
    secrets = _get(info, "secrets")
    assert isinstance(secrets, dict)
    copied = []
    # A multisig owner has no key: its signers' keys are what would let the standby act as owner.
    msig = info.get("owner_multisig")
    signers = [str(a["key"]) for a in msig["signers"]] if isinstance(msig, dict) else []
    for role, address in [("worker", str(_get(info, "worker", "key")))] + (
            [("signer", a) for a in signers] if signers else [("owner", str(_get(info, "owner", "key")))]):
        key = keystore.KeyInfo.from_export((root / str(secrets[address])).read_text(), f"{role} key")
        keystore.write_key(daemon_repo, keystore.WALLET_PREFIX + address, key)
        copied.append(address)
    return {"addresses": copied}


def _wrong_actor(root: Path, info: Info, arg: str | None) -> Info:
    miner = Address.parse(str(_get(info, "miner")))
    other = Address.parse(arg) if arg else Address.id(miner.actor_id + 1000, miner.network)
    repo = root / "restore-point" / "lotus-miner"
    md = MinerMetadata.from_repo(repo, miner.network)
    md.miner_address = str(other)
    md.write_repo(repo)
    backup = root / str(_get(info, "backup", "path"))
    stat = backup.stat()
    md_backup = MinerMetadata.from_backup(backup, miner.network)
    md_backup.miner_address = str(other)
    backup.unlink()
    md_backup.write_backup(backup)
    os.utime(backup, (stat.st_atime, stat.st_mtime))
    return {"chain_miner": str(miner), "metadata_miner": str(other)}


def _repo_from_backup(root: Path, info: Info, arg: str | None) -> Info:
    # The miner repo is as old as the backup: sectors sealed after it are on chain but absent from the
    # sealing state, so real CheckProvable reports them as `getting commR: ...` (sealer/faults.go:79-83).
    miner = Address.parse(str(_get(info, "miner")))
    repo = root / "restore-point" / "lotus-miner"
    md = MinerMetadata.from_backup(root / str(_get(info, "backup", "path")), miner.network)
    before = len(MinerMetadata.from_repo(repo, miner.network).sectors)
    md.write_repo(repo)
    return {"repo_sectors": len(md.sectors), "dropped": before - len(md.sectors)}


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("stale-snapshot", "AGE", "rewrite the chain snapshot with a head AGE old (default 30d)",
              _stale_snapshot),
        Fault("corrupt-backup", "OFFSET", "flip one bit of one byte inside the metadata backup's entries",
              _flip_backup_byte),
        Fault("backup-trailing-bytes", "", "append a CBOR log entry after the backup's SHA-256 trailer",
              _trailing_bytes),
        Fault("truncated-snapshot", "BYTES", "cut the chain snapshot file (default: keep 60 %)",
              _truncate_snapshot),
        Fault("missing-sector", "N", "delete sector N's sealed file (default: first sector of the first deadline)",
              _missing_sector),
        Fault("truncated-sector", "N", "cut sector N's sealed file in half (default: last sector of the "
              "first partition)", _truncated_sector),
        Fault("keys-in-wallet", "", "copy the worker and owner keys into the daemon repo's keystore as "
              "wallet-<addr>", _keys_in_wallet),
        Fault("wrong-actor", "ADDR", "miner repo's /miner-address and the backup name ADDR (default f0<miner+1000>),"
              " an actor unknown to the chain",
              _wrong_actor),
        Fault("repo-from-backup", "", "the miner repo's metadata holds only the backup's sectors (those sealed "
              "after the backup are on chain but not in the sealing state)", _repo_from_backup),
    )
}  # fmt: skip


def apply_fault(root: Path, spec: str) -> Info:
    """Apply ``NAME`` or ``NAME=ARG`` to the fixture at ``root`` and record it; ValueError for bad input."""
    name, _, arg = spec.partition("=")
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; expected one of: {', '.join(FAULTS)}")
    fault = FAULTS[name]
    if arg and not fault.arg:
        raise ValueError(f"fault {name} takes no argument (got {arg!r})")
    info = read_info(root)
    try:
        detail = fault.apply(root, info, arg or None)
    except (OSError, cbor.FormatError) as exc:
        raise ValueError(f"fault {name}: cannot apply to {root}: {exc}") from exc
    faults = info.setdefault("faults", [])
    assert isinstance(faults, list)
    faults.append({"name": name, "arg": arg or None, **detail})
    write_info(root, info)
    return detail
