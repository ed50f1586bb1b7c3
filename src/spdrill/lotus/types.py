"""Typed, frozen results of the Lotus API calls spdrill makes, and the defensive reader that builds them.

Field names follow Lotus's JSON (``api-methods-*.md``); epochs, sector numbers and sizes are ints, big
ints (decimal strings in JSON) are ints, CIDs are their string form, bitfields are :class:`Bitfield`.
A missing or mistyped field raises :class:`LotusResponseError` naming the method and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from spdrill.errors import InputError, LotusError
from spdrill.lotus.bitfield import Bitfield, decode_json

__all__ = [
    "ActiveSync",
    "BlockHeader",
    "Deadline",
    "DeadlineInfo",
    "FsStat",
    "LotusResponseError",
    "MinerInfo",
    "MinerPower",
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


class LotusResponseError(LotusError):
    """A Lotus answer lacks a field spdrill needs, or the field has the wrong type."""

    def __init__(self, method: str, field: str, expected: str, found: object) -> None:
        self.method = method
        self.field = field
        shown = "missing" if found is _MISSING else f"got {type(found).__name__}"
        super().__init__(
            f"{method}: field {field}: expected {expected}, {shown}; "
            "is this a Lotus version whose API spdrill supports?"
        )


_MISSING = object()


class Fields:
    """Reads typed fields of one JSON object from the answer to ``method``; ``path`` names it in errors."""

    __slots__ = ("method", "obj", "path")

    def __init__(self, method: str, obj: object, path: str = "result") -> None:
        if not isinstance(obj, dict):
            raise LotusResponseError(method, path, "an object", obj)
        self.method = method
        self.obj: dict[str, Any] = obj
        self.path = path

    def _get(self, name: str) -> Any:
        return self.obj.get(name, _MISSING)

    def _fail(self, name: str, expected: str, found: object) -> LotusResponseError:
        return LotusResponseError(self.method, f"{self.path}.{name}", expected, found)

    def integer(self, name: str) -> int:
        """An integer field (JSON number, not a bool)."""
        v = self._get(name)
        if type(v) is not int:
            raise self._fail(name, "an integer", v)
        return v

    def number(self, name: str) -> float:
        """A number field."""
        v = self._get(name)
        if type(v) not in (int, float):
            raise self._fail(name, "a number", v)
        return float(v)

    def boolean(self, name: str) -> bool:
        """A boolean field."""
        v = self._get(name)
        if type(v) is not bool:
            raise self._fail(name, "true or false", v)
        return v

    def string(self, name: str) -> str:
        """A string field."""
        v = self._get(name)
        if type(v) is not str:
            raise self._fail(name, "a string", v)
        return v

    def opt_string(self, name: str) -> str | None:
        """A string field that may be null or absent."""
        v = self._get(name)
        if v is _MISSING or v is None:
            return None
        return self.string(name)

    def big(self, name: str) -> int:
        """A big int, sent by Lotus as a decimal string."""
        v = self._get(name)
        if type(v) is str:
            try:
                return int(v)
            except ValueError:
                pass
        raise self._fail(name, "a decimal string (big int)", v)

    def cid(self, name: str) -> str:
        """A CID, sent as ``{"/": "bafy..."}``."""
        return cid_of(self.method, f"{self.path}.{name}", self._get(name))

    def array(self, name: str, *, nullable: bool = False) -> list[Any]:
        """A list field; null counts as empty when ``nullable``."""
        v = self._get(name)
        if nullable and v is None:
            return []
        if type(v) is not list:
            raise self._fail(name, "a list", v)
        return v

    def strings(self, name: str, *, nullable: bool = False) -> tuple[str, ...]:
        """A list of strings."""
        items = self.array(name, nullable=nullable)
        if not all(type(s) is str for s in items):
            raise self._fail(name, "a list of strings", items)
        return tuple(items)

    def nested(self, name: str) -> Fields:
        """A nested object."""
        return Fields(self.method, self._get(name), f"{self.path}.{name}")

    def bitfield(self, name: str) -> Bitfield:
        """A bitfield in its JSON run-length form."""
        return bitfield_of(self.method, f"{self.path}.{name}", self._get(name))


def bitfield_of(method: str, path: str, value: object) -> Bitfield:
    """A bitfield in Lotus's JSON run-length form."""
    try:
        return decode_json(value, what=path)
    except InputError as exc:
        raise LotusResponseError(method, path, f"a run-length bitfield ({exc})", value) from None


def cid_of(method: str, path: str, value: object) -> str:
    """The CID string inside Lotus's ``{"/": cid}`` JSON."""
    if type(value) is dict and type(value.get("/")) is str:
        return value["/"]  # type: ignore[no-any-return]
    raise LotusResponseError(method, path, 'a CID object {"/": "..."}', value)


@dataclass(frozen=True, slots=True)
class Version:
    """``Filecoin.Version``: build string, API version (major<<16|minor<<8|patch) and block delay."""

    version: str
    api_version: int
    block_delay: int
    agent: str

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
