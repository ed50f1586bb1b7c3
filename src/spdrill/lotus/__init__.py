"""spdrill's Lotus boundary: API info, JSON-RPC clients, bitfields, sync rules, backup and snapshot readers.

Built from Lotus's public documents only (``lotus-api/``), never from the stand-in, so the two cannot
share a bug.
"""

from spdrill.errors import LotusResponseError
from spdrill.lotus.apiinfo import ApiInfo
from spdrill.lotus.backup import BackupCheck, BackupInfo, check_backup, read_backup
from spdrill.lotus.bitfield import Bitfield, decode_json, decode_rle, encode_json, encode_rle
from spdrill.lotus.car import SnapshotHead, read_snapshot_head
from spdrill.lotus.fullnode import FullNodeClient
from spdrill.lotus.miner import MinerClient
from spdrill.lotus.rpc import RpcClient
from spdrill.lotus.sync import epochs_behind, is_sync_done, node_status_behind, working_sync
from spdrill.lotus.types import (
    ActiveSync,
    BlockHeader,
    Deadline,
    DeadlineInfo,
    FsStat,
    MinerInfo,
    MinerPower,
    NodeStatus,
    Partition,
    PoStPartition,
    SectorInfo,
    SectorRef,
    StorageDecl,
    StoragePath,
    SyncState,
    TipSet,
    Version,
    WindowPoStResult,
    WorkerInfo,
    WorkerStat,
)
from spdrill.lotus.worker import WorkerClient

__all__ = [
    "ActiveSync",
    "ApiInfo",
    "BackupCheck",
    "BackupInfo",
    "Bitfield",
    "BlockHeader",
    "Deadline",
    "DeadlineInfo",
    "FsStat",
    "FullNodeClient",
    "LotusResponseError",
    "MinerClient",
    "MinerInfo",
    "MinerPower",
    "NodeStatus",
    "Partition",
    "PoStPartition",
    "RpcClient",
    "SectorInfo",
    "SectorRef",
    "SnapshotHead",
    "StorageDecl",
    "StoragePath",
    "SyncState",
    "TipSet",
    "Version",
    "WindowPoStResult",
    "WorkerClient",
    "WorkerInfo",
    "WorkerStat",
    "check_backup",
    "decode_json",
    "decode_rle",
    "encode_json",
    "encode_rle",
    "epochs_behind",
    "is_sync_done",
    "node_status_behind",
    "read_backup",
    "read_snapshot_head",
    "working_sync",
]
