"""Typed client for the lotus-miner API (``/rpc/v0``): actor, sectors, storage, workers and PoSt checks."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from spdrill.lotus.fullnode import TipSetKey, parse_version
from spdrill.lotus.rpc import ApiClient, Fields, bad_field
from spdrill.lotus.types import (
    FsStat,
    PoStPartition,
    SectorRef,
    StorageDecl,
    Version,
    WindowPoStResult,
    WorkerInfo,
    WorkerStat,
)

__all__ = ["CHECK_PROVABLE_TIMEOUT_S", "NOT_IN_STATE_PREFIX", "MinerClient", "parse_worker_info",
           "split_provable_bad"]

# Lotus bounds one CheckProvable call by [Proving] PartitionCheckTimeout (storage/sealer/faults.go:51-55;
# 20 minutes by default, node/config/def.go:149) and names the sectors it had no time for "waiting for check
# worker". The client must wait longer than that, or a large or slow partition looks like a dead miner.
CHECK_PROVABLE_TIMEOUT_S = 25 * 60.0

# CheckProvable looks each sector's CommR up in the miner's local sealing state (node/impl/storminer.go:554-566);
# a sector missing there comes back as "getting commR: ..." (storage/sealer/faults.go:79-83), whatever its files.
NOT_IN_STATE_PREFIX = "getting commR"


def split_provable_bad(bad: Mapping[int, str]) -> tuple[dict[int, str], dict[int, str]]:
    """CheckProvable's bad sectors split into (files missing or damaged, not in the miner's sealing state)."""
    files: dict[int, str] = {}
    not_in_state: dict[int, str] = {}
    for n, why in bad.items():
        (not_in_state if why.startswith(NOT_IN_STATE_PREFIX) else files)[n] = why
    return files, not_in_state


def parse_worker_info(method: str, raw: object, path: str = "result") -> WorkerInfo:
    """Parse a ``storiface.WorkerInfo`` (hostname, CPUs, GPUs, memory)."""
    f = Fields(method, raw, path)
    res = f.nested("Resources")
    return WorkerInfo(
        f.string("Hostname"),
        f.boolean("IgnoreResources"),
        res.integer("CPUs"),
        res.strings("GPUs", nullable=True),
        res.integer("MemPhysical"),
        res.integer("MemUsed"),
    )


def _map(method: str, raw: object) -> dict[str, Any]:
    if type(raw) is not dict:
        raise bad_field(method, "result", "an object", raw)
    return raw


class MinerClient(ApiClient):
    """The lotus-miner methods restore drills use; PoSt checks need an admin token."""

    # lotus-miner serves only /rpc/v0.
    api_path = "v0"

    def version(self) -> Version:
        """``Filecoin.Version`` of the miner."""
        return parse_version("Filecoin.Version", self.rpc.call("Version"))

    def actor_address(self) -> str:
        """``Filecoin.ActorAddress``: the miner actor this lotus-miner runs (``f0…``)."""
        raw = self.rpc.call("ActorAddress")
        if type(raw) is not str or not raw:
            raise bad_field("Filecoin.ActorAddress", "result", "an address string", raw)
        return raw

    def actor_sector_size(self, actor: str) -> int:
        """``Filecoin.ActorSectorSize`` in bytes."""
        raw = self.rpc.call("ActorSectorSize", actor)
        if type(raw) is not int:
            raise bad_field("Filecoin.ActorSectorSize", "result", "an integer", raw)
        return raw

    def sectors_list(self) -> tuple[int, ...]:
        """``Filecoin.SectorsList``: numbers of the sectors the miner's sealing FSM knows."""
        raw = self.rpc.call("SectorsList")
        if raw is None:
            return ()
        if type(raw) is not list or not all(type(n) is int for n in raw):
            raise bad_field("Filecoin.SectorsList", "result", "a list of sector numbers", raw)
        return tuple(raw)

    def storage_list(self) -> dict[str, tuple[StorageDecl, ...]]:
        """``Filecoin.StorageList`` (admin): sector files per storage-path ID."""
        m = "Filecoin.StorageList"
        out = {}
        for sid, decls in _map(m, self.rpc.call("StorageList")).items():
            items = []
            for i, raw in enumerate(decls if decls is not None else []):
                f = Fields(m, raw, f"result[{sid}][{i}]")
                items.append(
                    StorageDecl(f.integer("Miner"), f.integer("Number"), f.integer("SectorFileType"))
                )
            out[sid] = tuple(items)
        return out

    def storage_local(self) -> dict[str, str]:
        """``Filecoin.StorageLocal`` (admin): storage-path ID to local path."""
        raw = _map("Filecoin.StorageLocal", self.rpc.call("StorageLocal"))
        if not all(type(v) is str for v in raw.values()):
            raise bad_field("Filecoin.StorageLocal", "result", "an object of path strings", raw)
        return dict(raw)

    def storage_stat(self, storage_id: str) -> FsStat:
        """``Filecoin.StorageStat`` (admin) of one storage path."""
        f = Fields("Filecoin.StorageStat", self.rpc.call("StorageStat", storage_id))
        return FsStat(
            *(f.integer(n) for n in ("Capacity", "Available", "FSAvailable", "Reserved", "Max", "Used"))
        )

    def worker_stats(self) -> dict[str, WorkerStat]:
        """``Filecoin.WorkerStats`` (admin): the workers connected to this miner, by worker ID."""
        m = "Filecoin.WorkerStats"
        out = {}
        for wid, raw in _map(m, self.rpc.call("WorkerStats")).items():
            f = Fields(m, raw, f"result[{wid}]")
            tasks = f.obj.get("Tasks")
            # storiface.WorkerStats.Tasks is []sealtasks.TaskType: a JSON list of names (null when empty).
            if tasks is not None and (type(tasks) is not list or not all(type(t) is str for t in tasks)):
                raise bad_field(m, f"result[{wid}].Tasks", "a list of task names", tasks)
            task_names = tuple(sorted(tasks or ()))
            out[wid] = WorkerStat(
                parse_worker_info(m, f.obj.get("Info"), f"result[{wid}].Info"),
                f.boolean("Enabled"),
                task_names,
                f.number("GpuUsed"),
                f.integer("CpuUse"),
            )
        return out

    def check_provable(
        self, post_proof_type: int, sectors: Sequence[SectorRef], timeout: float | None = CHECK_PROVABLE_TIMEOUT_S
    ) -> dict[int, str]:
        """``Filecoin.CheckProvable`` (admin): sector number to reason, for sectors that cannot be proven.

        Call it once per partition, as ``lotus-miner proving check`` does (cli/miner/proving.go:160-189).
        """
        m = "Filecoin.CheckProvable"
        raw = _map(
            m,
            self.rpc.call("CheckProvable", post_proof_type, [s.to_json() for s in sectors], timeout=timeout),
        )
        out = {}
        for key, reason in raw.items():
            if not key.isdigit() or type(reason) is not str:
                raise bad_field(m, f"result[{key}]", "sector number -> reason string", reason)
            out[int(key)] = reason
        return out

    def compute_window_post(
        self, deadline: int, key: TipSetKey | None = None, timeout: float | None = None
    ) -> tuple[WindowPoStResult, ...]:
        """``Filecoin.ComputeWindowPoSt`` (admin): a dry-run proof of one deadline, nothing is sent."""
        m = "Filecoin.ComputeWindowPoSt"
        raw = self.rpc.call("ComputeWindowPoSt", deadline, [{"/": c} for c in key or ()], timeout=timeout)
        if raw is None:
            return ()
        if type(raw) is not list:
            raise bad_field(m, "result", "a list", raw)
        out = []
        for i, item in enumerate(raw):
            f = Fields(m, item, f"result[{i}]")
            parts = []
            for j, p in enumerate(f.array("Partitions", nullable=True)):
                pf = Fields(m, p, f"{f.path}.Partitions[{j}]")
                parts.append(PoStPartition(pf.integer("Index"), pf.bitfield("Skipped")))
            types, blobs = [], []
            for j, p in enumerate(f.array("Proofs", nullable=True)):
                pf = Fields(m, p, f"{f.path}.Proofs[{j}]")
                types.append(pf.integer("PoStProof"))
                blobs.append(_b64(m, f"{pf.path}.ProofBytes", pf.string("ProofBytes")))
            out.append(
                WindowPoStResult(
                    f.integer("Deadline"),
                    tuple(parts),
                    tuple(types),
                    tuple(blobs),
                    f.integer("ChainCommitEpoch"),
                )
            )
        return tuple(out)

    def runtime_subsystems(self) -> tuple[str, ...]:
        """``Filecoin.RuntimeSubsystems``: e.g. Mining, Sealing, SectorStorage."""
        raw = self.rpc.call("RuntimeSubsystems")
        if raw is None:
            return ()
        if type(raw) is not list or not all(type(s) is str for s in raw):
            raise bad_field("Filecoin.RuntimeSubsystems", "result", "a list of names", raw)
        return tuple(raw)


def _b64(method: str, path: str, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise bad_field(method, path, "base64 bytes", text) from None
