"""The package's public surface: a curated ``__all__`` that the lead's code and drills import from."""

from __future__ import annotations

import spdrill.lotus as lotus

EXPECTED = {
    "ApiInfo",
    "Bitfield",
    "FullNodeClient",
    "MinerClient",
    "WorkerClient",
    "RpcClient",
    "LotusResponseError",
    "decode_json",
    "decode_rle",
    "encode_json",
    "encode_rle",
    "epochs_behind",
    "is_sync_done",
    "node_status_behind",
    "working_sync",
    "BackupCheck",
    "BackupInfo",
    "check_backup",
    "read_backup",
    "SnapshotHead",
    "read_snapshot_head",
    "ActiveSync",
    "BlockHeader",
    "Deadline",
    "DeadlineInfo",
    "FsStat",
    "MinerInfo",
    "MinerPower",
    "NodeStatus",
    "Partition",
    "PoStPartition",
    "SectorInfo",
    "SectorRef",
    "StorageDecl",
    "StoragePath",
    "SyncState",
    "TipSet",
    "Version",
    "WindowPoStResult",
    "WorkerInfo",
    "WorkerStat",
}


def test_all_is_exactly_the_curated_set() -> None:
    assert set(lotus.__all__) == EXPECTED
    assert len(lotus.__all__) == len(set(lotus.__all__))


def test_every_export_resolves() -> None:
    for name in lotus.__all__:
        assert getattr(lotus, name) is not None, name
