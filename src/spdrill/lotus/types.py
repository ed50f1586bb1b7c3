"""Typed, frozen results of the Lotus API calls spdrill makes.

Field names follow Lotus's JSON (``api-methods-*.md``); epochs, sector numbers and sizes are ints, big
ints (decimal strings in JSON) are ints, CIDs are their string form, bitfields are :class:`Bitfield`.
They are built by the clients with :class:`spdrill.lotus.rpc.Fields`, which names any bad field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from spdrill.lotus.bitfield import Bitfield

__all__ = [
    "Actor",
    "ActiveSync",
    "ActorState",
    "BlockHeader",
    "Deadline",
    "DeadlineInfo",
    "FsStat",
    "MinerInfo",
    "MinerPower",
    "Multisig",
    "Partition",
    "PoStPartition",
    "SectorInfo",
    "SectorRef",
    "StorageDecl",
    "StoragePath",
    "SyncState",
    "NodeStatus",
    "TipSet",
    "Version",
    "WindowPoStResult",
    "WorkerInfo",
    "WorkerStat",
]


@dataclass(frozen=True, slots=True)
class Version:
    """``Filecoin.Version``: build string, API version (major<<16|minor<<8|patch) and block delay."""

    version: str
    api_version: int
    block_delay: int
    agent: str  # "" when the node predates Lotus v1.32.1, which added the field

    @property
    def simulated(self) -> bool:
        """Whether the answer came from the Lotus stand-in (its agent is ``lotus-sim``)."""
        return "lotus-sim" in self.agent

    @property
    def api_semver(self) -> tuple[int, int, int]:
        """The API version as (major, minor, patch)."""
        v = self.api_version
        return (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """The block-header fields a drill reads."""

    miner: str
    height: int
    timestamp: int
    parents: tuple[str, ...]
    parent_weight: int


@dataclass(frozen=True, slots=True)
class TipSet:
    """A tipset: its block CIDs (the tipset key), height and blocks."""

    cids: tuple[str, ...]
    height: int
    blocks: tuple[BlockHeader, ...]

    @property
    def min_timestamp(self) -> int:
        """The smallest block timestamp, as Lotus's ``TipSet.MinTimestamp``."""
        return min(b.timestamp for b in self.blocks)

    def key(self) -> list[dict[str, str]]:
        """The tipset key in the JSON form Lotus methods take as their last parameter."""
        return [{"/": c} for c in self.cids]


@dataclass(frozen=True, slots=True)
class ActiveSync:
    """One sync worker of ``SyncState``; ``stage`` is Lotus's integer SyncStateStage."""

    worker_id: int
    stage: int
    height: int
    base_height: int | None
    target_height: int | None
    message: str

    STAGE_NAMES = (
        "idle worker",
        "header sync",
        "persisting headers",
        "message sync",
        "complete",
        "error",
        "fetching messages",
    )

    @property
    def stage_name(self) -> str:
        """Lotus's name for the stage (``SyncStateStage.String``)."""
        names = ActiveSync.STAGE_NAMES
        return names[self.stage] if 0 <= self.stage < len(names) else f"<unknown: {self.stage}>"


@dataclass(frozen=True, slots=True)
class SyncState:
    """``Filecoin.SyncState``."""

    active_syncs: tuple[ActiveSync, ...]
    vm_applied: int


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """``Filecoin.NodeStatus``; chain-status figures are None when Lotus leaves them out."""

    epoch: int
    behind: int
    peers_to_publish_msgs: int
    peers_to_publish_blocks: int
    blocks_per_tipset_last_100: float | None
    blocks_per_tipset_last_finality: float | None


@dataclass(frozen=True, slots=True)
class MinerInfo:
    """``Filecoin.StateMinerInfo``: the keys and proof parameters of a miner actor."""

    owner: str
    worker: str
    control_addresses: tuple[str, ...]
    peer_id: str | None
    window_post_proof_type: int
    sector_size: int
    window_post_partition_sectors: int
    consensus_fault_elapsed: int
    beneficiary: str | None


@dataclass(frozen=True, slots=True)
class Actor:
    """``Filecoin.StateGetActor``: an actor's code CID, state head, nonce, balance (attoFIL)."""

    code: str
    head: str
    nonce: int
    balance: int
    delegated_address: str | None


@dataclass(frozen=True, slots=True)
class ActorState:
    """``Filecoin.StateReadState``: an actor's code CID, balance and its state object as Lotus dumps it."""

    code: str
    balance: int
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Multisig:
    """The signers and threshold of a multisig actor, read from ``Filecoin.StateReadState``."""

    address: str
    signers: tuple[str, ...]
    threshold: int


@dataclass(frozen=True, slots=True)
class DeadlineInfo:
    """``Filecoin.StateMinerProvingDeadline``."""

    current_epoch: int
    period_start: int
    index: int
    open: int
    close: int
    challenge: int
    fault_cutoff: int
    wpost_period_deadlines: int
    wpost_proving_period: int
    wpost_challenge_window: int
    wpost_challenge_lookback: int
    fault_declaration_cutoff: int


@dataclass(frozen=True, slots=True)
class Deadline:
    """One entry of ``Filecoin.StateMinerDeadlines``."""

    post_submissions: Bitfield
    disputable_proof_count: int


@dataclass(frozen=True, slots=True)
class Partition:
    """One entry of ``Filecoin.StateMinerPartitions``."""

    all_sectors: Bitfield
    faulty_sectors: Bitfield
    recovering_sectors: Bitfield
    live_sectors: Bitfield
    active_sectors: Bitfield


class SectorInfo(NamedTuple):
    """On-chain sector info; a NamedTuple because a miner can have a million of them."""

    sector_number: int
    seal_proof: int
    sealed_cid: str
    activation: int
    expiration: int


@dataclass(frozen=True, slots=True)
class MinerPower:
    """``Filecoin.StateMinerPower`` in bytes."""

    raw_byte_power: int
    quality_adj_power: int
    total_raw_byte_power: int
    total_quality_adj_power: int
    has_min_power: bool


@dataclass(frozen=True, slots=True)
class SectorRef:
    """A sector to check (``storiface.SectorRef``): miner actor ID, sector number, seal proof type."""

    miner: int
    number: int
    proof_type: int

    def to_json(self) -> dict[str, Any]:
        """The JSON form ``CheckProvable`` takes."""
        return {"ID": {"Miner": self.miner, "Number": self.number}, "ProofType": self.proof_type}


@dataclass(frozen=True, slots=True)
class StorageDecl:
    """A sector file a storage path holds (``StorageList``); file type is Lotus's bit flag."""

    miner: int
    number: int
    file_type: int


@dataclass(frozen=True, slots=True)
class FsStat:
    """``StorageStat`` of one storage path, in bytes."""

    capacity: int
    available: int
    fs_available: int
    reserved: int
    max: int
    used: int


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A worker's host facts (``Info`` on a worker, ``Info`` inside ``WorkerStats``)."""

    hostname: str
    ignore_resources: bool
    cpus: int
    gpus: tuple[str, ...]
    mem_physical: int
    mem_used: int


@dataclass(frozen=True, slots=True)
class WorkerStat:
    """One worker as the miner sees it (``WorkerStats``)."""

    info: WorkerInfo
    enabled: bool
    tasks: tuple[str, ...]
    gpu_used: float
    cpu_use: int


@dataclass(frozen=True, slots=True)
class StoragePath:
    """One of a worker's storage paths (``Paths``)."""

    id: str
    weight: int
    local_path: str
    can_seal: bool
    can_store: bool


@dataclass(frozen=True, slots=True)
class PoStPartition:
    """A partition proven by ``ComputeWindowPoSt`` and the sectors it had to skip."""

    index: int
    skipped: Bitfield


@dataclass(frozen=True, slots=True)
class WindowPoStResult:
    """One ``SubmitWindowedPoStParams`` returned by ``ComputeWindowPoSt``."""

    deadline: int
    partitions: tuple[PoStPartition, ...]
    proof_types: tuple[int, ...]
    proof_bytes: tuple[bytes, ...]
    chain_commit_epoch: int
