"""Storage paths: storage.json, sectorstore.json, and the small sealed/cache files of the stand-in's sectors.

A sealed file is ``LSIMSEC1`` + miner (u64) + sector (u64) + payload length (u32) + sha256(payload) + payload,
so a reader tells a missing, truncated, corrupt or misplaced file apart without any real proof.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"LSIMSEC1"
_HEADER = struct.Struct(">8sQQI32s")
HEADER_SIZE = _HEADER.size  # 60
PAYLOAD_SIZE = 196  # 256-byte files: small, yet a truncation anywhere is visible
SEALED_SIZE = HEADER_SIZE + PAYLOAD_SIZE


def sector_name(miner_id: int, number: int) -> str:
    """``s-t0<miner>-<n>``, Lotus's sector file name on every network."""
    return f"s-t0{miner_id}-{number}"


@dataclass
class LocalStorageMeta:
    """sectorstore.json of one storage path (storiface.LocalStorageMeta)."""

    id: str
    weight: int = 10
    can_seal: bool = False
    can_store: bool = True
    max_storage: int = 0
    groups: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """The JSON object Lotus writes, with its field names."""
        return {
            "ID": self.id,
            "Weight": self.weight,
            "CanSeal": self.can_seal,
            "CanStore": self.can_store,
            "MaxStorage": self.max_storage,
            "Groups": self.groups,
            "AllowTo": [],
            "AllowTypes": [],
            "DenyTypes": [],
            "AllowMiners": [],
            "DenyMiners": [],
        }


def write_sectorstore(path: Path, meta: LocalStorageMeta) -> None:
    """Create a storage path with its sectorstore.json and empty sealed/ and cache/ folders."""
    for sub in ("sealed", "cache"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    (path / "sectorstore.json").write_text(json.dumps(meta.to_json(), indent=2) + "\n")


def read_sectorstore(path: Path) -> LocalStorageMeta:
    """Read ``<path>/sectorstore.json``; ValueError names the file and what is missing."""
    target = path / "sectorstore.json"
    try:
        raw = json.loads(target.read_text())
        return LocalStorageMeta(
            id=str(raw["ID"]),
            weight=int(raw.get("Weight", 0)),
            can_seal=bool(raw.get("CanSeal", False)),
            can_store=bool(raw.get("CanStore", False)),
            max_storage=int(raw.get("MaxStorage", 0)),
            groups=list(raw.get("Groups") or []),
        )
    except FileNotFoundError as exc:
        raise ValueError(f"{target}: missing; every storage path needs a sectorstore.json") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{target}: expected JSON with at least an ID field") from exc


def write_storage_json(miner_repo: Path, paths: list[Path]) -> None:
    """``<miner_repo>/storage.json``: ``{"StoragePaths": [{"Path": <absolute>}, …]}``."""
    doc = {"StoragePaths": [{"Path": str(p.resolve())} for p in paths]}
    (miner_repo / "storage.json").write_text(json.dumps(doc, indent=2) + "\n")


def read_storage_json(miner_repo: Path) -> list[Path]:
    """Storage paths named in ``<miner_repo>/storage.json``; ValueError names the file."""
    target = Path(miner_repo) / "storage.json"
    try:
        raw = json.loads(target.read_text())
        paths = [Path(entry["Path"]) for entry in raw["StoragePaths"]]
    except FileNotFoundError as exc:
        raise ValueError(f"{target}: missing; a miner repo needs storage.json") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f'{target}: expected {{"StoragePaths": [{{"Path": "/abs"}}]}}') from exc
    for p in paths:
        if not p.is_absolute():
            raise ValueError(f"{target}: storage path {p} is relative; Lotus needs absolute paths")
    return paths


def sealed_bytes(seed: int, miner_id: int, number: int) -> bytes:
    """Content of a sealed file: header then a deterministic payload."""
    digest = hashlib.blake2b(f"sealed:{seed}:{miner_id}:{number}".encode(), digest_size=64).digest()
    payload = (digest * (PAYLOAD_SIZE // 64 + 1))[:PAYLOAD_SIZE]
    return _HEADER.pack(MAGIC, miner_id, number, PAYLOAD_SIZE, hashlib.sha256(payload).digest()) + payload


def write_sectors(store: Path, seed: int, miner_id: int, numbers: range) -> None:
    """Write ``sealed/s-t0M-N`` and the folder ``cache/s-t0M-N/`` for each sector number into ``store``."""
    # Directory fds and bare syscalls: path resolution and file objects cost more than the writes here.
    # Cache folders stay empty: files in them would double the inodes created (the 100,000-sector
    # fixture's time is nearly all kernel time) and no reader of the stand-in looks inside them.
    sealed_fd = os.open(store / "sealed", os.O_RDONLY | os.O_DIRECTORY)
    cache_fd = os.open(store / "cache", os.O_RDONLY | os.O_DIRECTORY)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        for number in numbers:
            name = sector_name(miner_id, number)
            data = sealed_bytes(seed, miner_id, number)
            fd = os.open(name, flags, 0o644, dir_fd=sealed_fd)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            os.mkdir(name, dir_fd=cache_fd)
    finally:
        os.close(sealed_fd)
        os.close(cache_fd)


def check_sealed(path: Path, miner_id: int, number: int) -> str | None:
    """Why the sealed file at ``path`` cannot be proven, or None when it is whole."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return f"sealed file {path.name} not found"
    except OSError as exc:
        return f"sealed file {path.name} unreadable: {exc.strerror}"
    if len(data) < HEADER_SIZE or data[:8] != MAGIC:
        return f"sealed file {path.name} truncated or not a sector ({len(data)} of {SEALED_SIZE} bytes)"
    _, miner, sector, size, checksum = _HEADER.unpack_from(data)
    if (miner, sector) != (miner_id, number):
        return f"sealed file {path.name} holds sector s-t0{miner}-{sector}"
    if len(data) != HEADER_SIZE + size:
        return f"sealed file {path.name} truncated: {len(data)} of {HEADER_SIZE + size} bytes"
    if hashlib.sha256(data[HEADER_SIZE:]).digest() != checksum:
        return f"sealed file {path.name} corrupt: checksum mismatch"
    return None


def find_sector(paths: list[Path], miner_id: int, number: int) -> Path | None:
    """The storage path whose sealed/ holds the sector, or None."""
    name = sector_name(miner_id, number)
    return next((p for p in paths if (p / "sealed" / name).exists()), None)


def check_sector(paths: list[Path], miner_id: int, number: int) -> str | None:
    """Why sector ``number`` cannot be proven from ``paths`` (sealed file and cache), or None."""
    store = find_sector(paths, miner_id, number)
    name = sector_name(miner_id, number)
    if store is None:
        return f"sealed file {name} not found in any storage path"
    reason = check_sealed(store / "sealed" / name, miner_id, number)
    if reason is None and not (store / "cache" / name).is_dir():
        reason = f"cache folder {name} not found"
    return reason
