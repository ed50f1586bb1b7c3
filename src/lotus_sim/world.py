"""The simulated chain's state for one miner actor, and the miner's own metadata.

Public API (stable; later additions only):

* ``World`` — what the chain knows: ``miner`` (``f01000``), ``owner``/``worker``/``controls`` (``Account``),
  ``peer_id``, ``sector_size``, ``proofs`` (``ProofTypes``: ``seal_proof``, ``window_post_proof``,
  ``partition_sectors``), ``owner_multisig`` (``Multisig`` or None: the owner is a multisig),
  ``network_name``, ``network_version``, ``clock`` (``Clock``), ``head``
  (``Head``: ``height``, ``timestamp``, ``cids``), ``proving_period_offset``, ``deadlines`` (48 sorted
  ``array('Q')`` of sector numbers), ``faulty`` / ``recovering`` (mutable ``set[int]``: tests plant faults).
  Queries: ``sector_count()``, ``all_sectors()``, ``has_sector(n)``, ``locate(n) -> (deadline, partition)``,
  ``partitions(dl) -> list[array]``, ``partition_sets(dl, p) -> PartitionSets``, ``active_sectors()``,
  ``sector_info(n) -> SectorInfo | None``, ``miner_power() -> (raw, qa)``, ``deadline_info(epoch)``.
  Loaders/writers: ``World.from_car(path)`` (zstd or raw CAR), ``world.write_car(path, zstd=True)``
  (returns the head CIDs and sets ``world.head.cids``), ``world.to_state()`` /
  ``World.from_state(state, head)`` (the CBOR-able dict in the head's ParentStateRoot block).
  ``iter_runs(numbers)`` yields (start, length) runs of a sorted array. Bad files raise
  ``lotus_sim.cbor.FormatError`` (a ValueError) with the file and field in the message.
* ``MinerMetadata`` — what the miner repo's metadata datastore (and a backup of it) holds:
  ``miner_address``, ``sectors`` (sorted ``array('Q')``), ``entries`` (other keys -> raw value),
  ``seal_proof``.
  ``MinerMetadata.from_repo(miner_repo)``, ``MinerMetadata.from_backup(path)``, ``md.write_repo(miner_repo)``.
* Storage paths and sector files: ``lotus_sim.sectorstore``; proof tables and deadline arithmetic:
  ``lotus_sim.policy``; key files: ``lotus_sim.keystore``; the clock: ``lotus_sim.clock``.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lotus_sim import backup, policy
from lotus_sim.clock import Clock
from lotus_sim.policy import (
    DEADLINES,
    DeadlineInfo,
    ProofTypes,
    SectorInfo,
    deadline_info,
    proof_types,
)

__all__ = [
    "Account",
    "DeadlineInfo",
    "Head",
    "MinerMetadata",
    "Multisig",
    "PartitionSets",
    "ProofTypes",
    "SectorInfo",
    "World",
    "proof_types",
]


def iter_runs(numbers: array[int]) -> Iterator[tuple[int, int]]:
    """(start, length) of each maximal run of consecutive numbers in a sorted, duplicate-free array."""
    # Divide and conquer: a slice whose ends differ by its length is one run, found without visiting
    # its middle, so a million dense sector numbers cost a handful of steps instead of a million.
    pending: tuple[int, int] | None = None
    stack = [(0, len(numbers))] if len(numbers) else []
    while stack:
        lo, hi = stack.pop()
        if numbers[hi - 1] - numbers[lo] == hi - 1 - lo:
            start, length = numbers[lo], hi - lo
            if pending is not None and pending[0] + pending[1] == start:
                pending = (pending[0], pending[1] + length)
            else:
                if pending is not None:
                    yield pending
                pending = (start, length)
        else:
            mid = (lo + hi) // 2
            stack += [(mid, hi), (lo, mid)]
    if pending is not None:
        yield pending


@dataclass(frozen=True)
class Account:
    """An account actor: its ID address on chain and the key address a wallet holds."""

    id_address: str
    key_address: str
    key_type: str  # "bls" or "secp256k1", the KeyInfo Type


@dataclass(frozen=True)
class Multisig:
    """A multisig actor (the miner's owner, when it is one): signers are account actors."""

    id_address: str
    signers: tuple[Account, ...]
    threshold: int  # NumApprovalsThreshold


@dataclass(frozen=True)
class Head:
    """The head tipset at snapshot time."""

    height: int
    timestamp: int
    cids: tuple[str, ...] = ()
    parent_cids: tuple[str, ...] = ()


@dataclass(frozen=True)
class PartitionSets:
    """Sector sets of one partition, sorted lists as Lotus's bitfields hold them."""

    all: list[int]
    live: list[int]
    active: list[int]
    faulty: list[int]
    recovering: list[int]


@dataclass
class World:
    """Chain state of one miner actor, compact enough for a 1,000,000-sector miner."""

    miner: str
    owner: Account
    worker: Account
    controls: tuple[Account, ...]
    peer_id: str
    sector_size: int
    head: Head
    deadlines: list[array[int]]
    proving_period_offset: int = 0
    network_name: str = "mainnet"
    network_version: int = 27
    clock: Clock = field(default_factory=Clock)
    seed: int = 0
    faulty: set[int] = field(default_factory=set)
    recovering: set[int] = field(default_factory=set)
    owner_multisig: Multisig | None = None  # set when the owner is a multisig (owner.key_type "multisig")
    _deadline_of: bytearray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.deadlines) != DEADLINES:
            raise ValueError(f"a miner has {DEADLINES} deadlines, got {len(self.deadlines)}")
        proof_types(self.sector_size)  # fail early on an unsupported size

    @property
    def proofs(self) -> ProofTypes:
        """Registered proof numbers and partition size for this sector size."""
        return proof_types(self.sector_size)

    @property
    def miner_id(self) -> int:
        """The numeric actor ID (1000 for f01000)."""
        return int(self.miner[2:])

    def sector_count(self) -> int:
        """Number of live sectors on chain."""
        return sum(len(d) for d in self.deadlines)

    def all_sectors(self) -> array[int]:
        """All live sector numbers, sorted."""
        merged = array("Q")
        for dl in self.deadlines:
            merged.extend(dl)
        return array("Q", sorted(merged))

    def _index(self) -> bytearray:
        # One byte per sector number (1 MB for a million): far smaller than a dict of ints.
        if self._deadline_of is None:
            top = max((d[-1] for d in self.deadlines if len(d)), default=-1)
            index = bytearray(b"\xff" * (top + 1))
            for i, dl in enumerate(self.deadlines):
                for start, length in iter_runs(dl):
                    index[start : start + length] = bytes([i]) * length
            self._deadline_of = index
        return self._deadline_of

    def has_sector(self, number: int) -> bool:
        """True when ``number`` is a live sector of this miner."""
        index = self._index()
        return 0 <= number < len(index) and index[number] != 0xFF

    def locate(self, number: int) -> tuple[int, int] | None:
        """(deadline, partition) of a live sector, or None."""
        if not self.has_sector(number):
            return None
        dl = self._index()[number]
        pos = bisect.bisect_left(self.deadlines[dl], number)
        return dl, pos // self.proofs.partition_sectors

    def partitions(self, deadline: int) -> list[array[int]]:
        """Sector numbers of each partition of ``deadline``."""
        sectors, size = self.deadlines[deadline], self.proofs.partition_sectors
        return [sectors[i : i + size] for i in range(0, len(sectors), size)]

    def partition_sets(self, deadline: int, partition: int) -> PartitionSets:
        """All/live/active/faulty/recovering sectors of one partition."""
        members = list(self.partitions(deadline)[partition])
        faulty = [n for n in members if n in self.faulty]
        recovering = [n for n in faulty if n in self.recovering]
        active = [n for n in members if n not in self.faulty]
        return PartitionSets(members, members, active, faulty, recovering)

    def active_sectors(self) -> array[int]:
        """Live sectors that are not faulty, sorted."""
        return array("Q", (n for n in self.all_sectors() if n not in self.faulty))

    def sector_info(self, number: int) -> SectorInfo | None:
        """On-chain info of one sector, computed on demand; None when the sector is not live."""
        if not self.has_sector(number):
            return None
        return policy.sector_info(number, self.seed, self.sector_size, self.head.height, self.miner_id)

    def miner_power(self) -> tuple[int, int]:
        """(raw byte power, quality-adjusted power) of the non-faulty sectors."""
        active = self.sector_count() - sum(1 for n in self.faulty if self.has_sector(n))
        return active * self.sector_size, active * self.sector_size

    def deadline_info(self, epoch: int) -> DeadlineInfo:
        """StateMinerProvingDeadline's facts at ``epoch``."""
        return deadline_info(epoch, self.proving_period_offset)

    def to_state(self) -> dict[str, object]:
        """The CBOR-able state block that the snapshot's head ParentStateRoot points to."""
        from lotus_sim import snapshot  # late: snapshot imports this module

        return snapshot.encode_state(self)

    @classmethod
    def from_state(cls, state: dict[str, object], head: Head) -> World:
        """Rebuild a World from its state block and the head read from the snapshot."""
        from lotus_sim import snapshot  # late: snapshot imports this module

        return snapshot.decode_state(state, head)

    @classmethod
    def from_car(cls, path: str | Path) -> World:
        """Read a chain snapshot (CARv1, zstd or raw by magic bytes) written by ``write_car``."""
        from lotus_sim import snapshot  # late: snapshot imports this module

        return snapshot.read_snapshot(Path(path))

    def write_car(self, path: str | Path, zstd: bool = True) -> list[str]:
        """Write a chain snapshot whose roots are the head tipset; returns the root CIDs."""
        from lotus_sim import snapshot  # late: snapshot imports this module

        return snapshot.write_snapshot(self, Path(path), zstd=zstd)


@dataclass
class MinerMetadata:
    """The miner repo's metadata datastore: ``/miner-address``, ``/sectors/<n>`` and the rest."""

    miner_address: str
    sectors: array[int]
    entries: dict[str, bytes] = field(default_factory=dict)
    seal_proof: int | None = None

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[bytes, bytes]], network: str = "f") -> MinerMetadata:
        """Build from datastore (key, value) pairs as a backup holds them."""
        from lotus_sim import metadata  # late: metadata imports this module

        return metadata.from_pairs(pairs, network)

    def to_pairs(self) -> list[tuple[bytes, bytes]]:
        """Datastore (key, value) pairs, sorted by key as Lotus's backup writes them."""
        from lotus_sim import metadata  # late: metadata imports this module

        return metadata.to_pairs(self)

    @classmethod
    def from_backup(cls, path: str | Path, network: str = "f") -> MinerMetadata:
        """Read a lotus-miner metadata backup file (checksum verified, trailing bytes rejected)."""
        return cls.from_pairs(backup.read_backup(Path(path)), network)

    @classmethod
    def from_repo(cls, miner_repo: str | Path, network: str = "f") -> MinerMetadata:
        """Read ``<miner_repo>/datastore/metadata.cbor`` (the stand-in's datastore: backup layout)."""
        return cls.from_pairs(backup.read_backup(Path(miner_repo) / "datastore" / "metadata.cbor"), network)

    def write_repo(self, miner_repo: str | Path) -> Path:
        """Write the datastore file into ``miner_repo``; returns its path."""
        target = Path(miner_repo) / "datastore" / "metadata.cbor"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(backup.encode_backup(self.to_pairs()))
        return target

    def write_backup(self, path: str | Path) -> None:
        """Write a backup file, refusing an existing one as ``lotus-miner backup`` does."""
        backup.write_backup(Path(path), self.to_pairs())
