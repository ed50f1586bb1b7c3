"""The simulated lotus-miner's API: identity, storage, PoSt workers, WindowPoSt dry-runs, checks, backups."""

from __future__ import annotations

import base64
import bisect
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lotus_sim import post, remote
from lotus_sim.bitfield import decode_runs, encode_runs
from lotus_sim.chain import cid_for
from lotus_sim.jwt import JwtError, decode_allow, encode_allow
from lotus_sim.minerconfig import MinerConfig
from lotus_sim.perms import MINER_PERMS
from lotus_sim.rpc import Api, JsonStream, RpcError, deferred
from lotus_sim.rpcclient import CallError, RpcClient
from lotus_sim.runtime import Knobs
from lotus_sim.scheduler import WindowPostScheduler
from lotus_sim.version import version_json
from lotus_sim.world import MinerMetadata

__all__ = ["API_VERSION_MINER", "MinerNode", "RemoteWorker", "commr_missing", "worker_stats_entry"]

API_VERSION_MINER = 66816  # 1.5.0
WINDOW_POST_TASK = "post/v0/windowproof"
FT_SEALED, FT_CACHE = 2, 4


@dataclass
class RemoteWorker:
    """A worker that called WorkerConnect: its endpoint, session and what it reported."""

    url: str
    session: str
    info: dict[str, Any]
    tasks: list[str]
    client: RpcClient


def commr_missing(number: int) -> str:
    """CheckProvable's reason for a sector absent from the sealing state, as Lotus words it.

    sealer/faults.go:81 `getting commR: %s` around go-statestore's StoredState.Get error
    `No state for %s: %w` (key `/<n>` in the `/sectors` namespace) wrapping go-datastore's ErrNotFound.
    """
    return f"getting commR: No state for /{number}: datastore: key not found"


def worker_stats_entry(info: dict[str, Any], tasks: list[str]) -> dict[str, Any]:
    """One WorkerStats value (storiface.WorkerStats)."""
    return {"Info": info, "Tasks": tasks, "Enabled": True, "MemUsedMin": 0, "MemUsedMax": 0,
            "GpuUsed": 0, "CpuUse": 0, "TaskCounts": {}}


class MinerNode:
    """State and RPC handlers of one running `lotus-miner`."""

    def __init__(
        self,
        repo: Path,
        full: RpcClient,
        metadata: MinerMetadata,
        miner_info: dict[str, Any],
        stores: dict[str, Path],
        config: MinerConfig,
        knobs: Knobs,
        secret: bytes,
        block_delay: int,
    ) -> None:
        self.repo = repo
        self.full = full
        self.metadata = metadata
        self.address = metadata.miner_address
        self.miner_id = int(self.address[2:])
        self.info = miner_info
        self.stores = stores
        self.config = config
        self.knobs = knobs
        self.secret = secret
        self.block_delay = block_delay
        self.session = str(uuid.uuid4())
        self.stop = threading.Event()
        self.workers: dict[str, RemoteWorker] = {}
        self._lock = threading.Lock()
        self.wdpost: WindowPostScheduler | None = None

    # ---- common -------------------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        """Filecoin.Version."""
        return version_json(API_VERSION_MINER, self.block_delay, self.knobs)

    def auth_new(self, perms: list[str]) -> str:
        """Filecoin.AuthNew (base64 of the JWT, as Go marshals []byte)."""
        return base64.b64encode(encode_allow(list(perms), self.secret).encode()).decode()

    def auth_verify(self, token: str) -> list[str]:
        """Filecoin.AuthVerify: how workers check the tokens they are called with."""
        try:
            return decode_allow(token, self.secret)
        except JwtError as exc:
            raise RpcError(f"JWT Verification failed: {exc}") from exc

    # ---- identity and storage -----------------------------------------------------------------
    def actor_sector_size(self, addr: str) -> int:
        """Filecoin.ActorSectorSize."""
        if addr.replace("t0", "f0", 1) != self.address.replace("t0", "f0", 1):
            # ActorSectorSize returns StateMinerInfo's error unchanged (node/impl/storminer.go:132-136)
            raise RpcError("failed to load miner actor: actor not found")
        return int(self.info["SectorSize"])

    def sectors_list(self) -> JsonStream:
        """Filecoin.SectorsList: the sectors the miner's metadata knows (streamed)."""
        numbers = self.metadata.sectors

        def fragments() -> Iterator[str]:
            yield "["
            for i in range(0, len(numbers), 10_000):
                yield ("," if i else "") + ",".join(map(str, numbers[i : i + 10_000]))
            yield "]"

        return JsonStream(fragments())

    def storage_local(self) -> dict[str, str]:
        """Filecoin.StorageLocal."""
        return {sid: str(path) for sid, path in self.stores.items()}

    def storage_list(self) -> dict[str, list[dict[str, int]]]:
        """Filecoin.StorageList: the sector files found in each storage path right now."""
        prefix = f"s-t0{self.miner_id}-"
        out: dict[str, list[dict[str, int]]] = {}
        for sid, path in self.stores.items():
            decls = []
            for sub, ftype in (("sealed", FT_SEALED), ("cache", FT_CACHE)):
                try:
                    names = os.listdir(path / sub)
                except OSError:
                    continue
                for name in names:
                    if name.startswith(prefix) and name[len(prefix):].isdigit():
                        decls.append({"Miner": self.miner_id, "Number": int(name[len(prefix):]),
                                      "SectorFileType": ftype})
            out[sid] = sorted(decls, key=lambda d: (d["Number"], d["SectorFileType"]))
        return out

    def storage_find_sector(
        self, sector: dict[str, Any], ft: int, ssize: int, allow_fetch: bool
    ) -> list[dict[str, Any]]:
        """Filecoin.StorageFindSector: the paths holding the sector's sealed file, with the /remote URLs.

        BaseURLs are `http://<[API] RemoteListenAddress>/remote` (node/builder.go:290-295, attached at
        storage/paths/local.go:244), whatever port this miner really serves on.
        """
        try:
            number = int(sector["Number"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RpcError('sector must look like {"Miner":1000,"Number":9}') from exc
        base = remote.base_url(self.config.remote_listen_address)
        name = f"s-t0{self.miner_id}-{number}"
        # The index holds each path's declared files by type (sealed, cache) and lists a path holding any of the
        # types asked for, as paths/index.go StorageFindSector does.
        subdirs = [sub for bit, sub in ((FT_SEALED, "sealed"), (FT_CACHE, "cache")) if ft & bit]
        out = []
        for sid, path in self.stores.items():
            if any((path / sub / name).exists() for sub in subdirs):
                out.append({"ID": sid, "URLs": [f"{base}/sealed/{name}"], "BaseURLs": [base], "Weight": 10,
                            "CanSeal": True, "CanStore": True, "Primary": True, "AllowTypes": [],
                            "DenyTypes": [], "AllowMiners": [], "DenyMiners": []})
        return out

    def remote_route(self, path: str, allow: tuple[str, ...] | None, body: bytes) -> tuple[int, bytes]:
        """POST /remote/... on the API port (node/rpc.go:130-133): vanilla proofs for PoSt workers."""
        return remote.serve_remote(list(self.stores.values()), path, allow, body)

    def storage_stat(self, sid: str) -> dict[str, int]:
        """Filecoin.StorageStat: filesystem numbers of one storage path."""
        path = self.stores.get(sid)
        if path is None:
            raise RpcError(f"storage {sid} not found")
        try:
            st = os.statvfs(path)
        except OSError as exc:
            raise RpcError(f"stat {path}: {exc.strerror}") from exc
        capacity, available = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
        return {"Capacity": capacity, "Available": available, "FSAvailable": available, "Reserved": 0,
                "Max": 0, "Used": capacity - st.f_bfree * st.f_frsize}

    # ---- workers ------------------------------------------------------------------------------
    def worker_connect(self, url: str) -> None:
        """Filecoin.WorkerConnect: dial the worker back and register it."""
        token = encode_allow(["read", "write", "sign", "admin"], self.secret)
        client = RpcClient(url, token, timeout=600)
        try:
            session = client.call("Session")
            info = client.call("Info")
            tasks = sorted(client.call("TaskTypes"))
        except CallError as exc:
            raise RpcError(f"connecting to worker {url}: {exc}") from exc
        with self._lock:
            for sid, w in list(self.workers.items()):
                if w.url == url:
                    del self.workers[sid]
            self.workers[session] = RemoteWorker(url, session, info, tasks, client)

    def _local_info(self) -> dict[str, Any]:
        return {"Hostname": socket.gethostname(), "IgnoreResources": False,
                "Resources": {"MemPhysical": 0, "MemUsed": 0, "MemSwap": 0, "MemSwapUsed": 0,
                              "CPUs": os.cpu_count() or 1, "GPUs": [], "Resources": {}}}

    def worker_stats(self) -> dict[str, Any]:
        """Filecoin.WorkerStats: the miner's local worker plus every connected one."""
        out = {str(uuid.uuid5(uuid.NAMESPACE_URL, self.session)):
               worker_stats_entry(self._local_info(), ["seal/v0/fetch", "seal/v0/finalize"])}
        with self._lock:
            for sid, w in self.workers.items():
                out[sid] = worker_stats_entry(w.info, w.tasks)
        return out

    def _post_workers(self) -> list[RemoteWorker]:
        alive = []
        with self._lock:
            candidates = [w for w in self.workers.values() if WINDOW_POST_TASK in w.tasks]
        for w in candidates:
            try:
                w.client.call("Session")
                alive.append(w)
            except CallError:
                with self._lock:
                    self.workers.pop(w.session, None)  # the scheduler drops workers that stop answering
        return alive

    # ---- proving ------------------------------------------------------------------------------
    def _prove(
        self, workers: list[RemoteWorker], parts: list[list[int]], rand: str
    ) -> list[tuple[list[int], str]]:
        ppt = int(self.info["WindowPoStProofType"])
        paths = list(self.stores.values())

        def run(index: int) -> tuple[list[int], str]:
            sectors = parts[index]
            if not workers:
                return post.prove_partition(paths, self.miner_id, sectors,
                                            self.knobs.post_seconds_per_partition, rand)
            worker = workers[index % len(workers)]
            challenges = [{"SealProof": 0, "SectorNumber": n, "SealedCID": {"/": cid_for(f"commr:{n}")},
                           "Challenge": [], "Update": False} for n in sectors]
            try:
                res = worker.client.call("GenerateWindowPoSt", ppt, self.miner_id, challenges, index, rand)
            except CallError as exc:
                raise RpcError(f"running window post on worker {worker.url}: {exc}") from exc
            return [s["Number"] for s in res["Skipped"] or []], res["PoStProofs"]["ProofBytes"]

        # Partitions run in parallel, one lane per worker (or one for the builtin prover).
        with ThreadPoolExecutor(max_workers=max(1, len(workers))) as pool:
            return list(pool.map(run, range(len(parts))))

    def compute_window_post(self, deadline: int, tsk: Any) -> list[dict[str, Any]]:
        """Filecoin.ComputeWindowPoSt: a dry-run over every partition of a deadline; nothing is sent."""
        if self.config.disable_window_post:
            raise RpcError("WindowPoSt scheduler not running: [Subsystems] DisableWindowPoSt = true")
        if not isinstance(deadline, int) or not 0 <= deadline < 48:
            raise RpcError(f"invalid deadline index {deadline!r}: expected 0..47")
        workers = self._post_workers()
        if not workers and self.config.disable_builtin_window_post:
            raise RpcError("no WindowPoSt workers connected and [Proving] DisableBuiltinWindowPoSt = true")
        try:
            partitions = self.full.call("StateMinerPartitions", self.address, deadline, [])
            head = self.full.call("ChainHead")
        except CallError as exc:
            raise RpcError(f"getting partitions: {exc}") from exc
        if not partitions:
            return []
        parts = [list(decode_runs(p["LiveSectors"])) for p in partitions]
        rand = base64.b64encode(cid_for(f"rand:{head['Height']}:{deadline}").encode()[:32]).decode()
        results = self._prove(workers, parts, rand)
        total = sum(len(p) for p in parts)
        skipped_total = sum(len(s) for s, _ in results)
        if total and skipped_total == total:
            raise RpcError(f"running window post failed: all {total} sectors of deadline {deadline} were "
                           "skipped (unreadable sealed files)")
        return [{
            "Deadline": deadline,
            "Partitions": [{"Index": i, "Skipped": encode_runs(s)} for i, (s, _) in enumerate(results)],
            # One SNARK covers the batch of partitions in a real SubmitWindowedPoStParams.
            "Proofs": [{"PoStProof": int(self.info["WindowPoStProofType"]), "ProofBytes": results[0][1]}],
            "ChainCommitEpoch": int(head["Height"]),
            "ChainCommitRand": rand,
        }]

    def check_provable(self, ppt: int, refs: list[dict[str, Any]]) -> dict[str, str]:
        """Filecoin.CheckProvable: a reason for each sector that cannot be read."""
        numbers = []
        for ref in refs:
            try:
                numbers.append(int(ref["ID"]["Number"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise RpcError('sector refs must look like {"ID":{"Miner":1000,"Number":9},"ProofType":8}') \
                    from exc
        if self.knobs.check_seconds_per_sector:
            time.sleep(self.knobs.check_seconds_per_sector * len(numbers))
        # CommR comes from the local sealing state first (storminer.go:554-566 -> pipeline/utils.go:28-31):
        # a sector the restored metadata lacks is bad whatever its files (sealer/faults.go:79-83).
        known = [n for n in numbers if self._in_sealing_state(n)]
        bad = {n: commr_missing(n) for n in numbers if not self._in_sealing_state(n)}
        bad.update(post.check_sectors(list(self.stores.values()), self.miner_id, known))
        return {str(n): reason for n, reason in bad.items()}

    def _in_sealing_state(self, number: int) -> bool:
        sectors = self.metadata.sectors
        at = bisect.bisect_left(sectors, number)
        return at < len(sectors) and sectors[at] == number

    def create_backup(self, path: str) -> None:
        """Filecoin.CreateBackup: only inside LOTUS_BACKUP_BASE_PATH, never over an existing file."""
        base = os.environ.get("LOTUS_BACKUP_BASE_PATH")
        if not base:
            raise RpcError("LOTUS_BACKUP_BASE_PATH env var not set")
        target = Path(os.path.abspath(os.path.expanduser(path)))
        base_abs = Path(os.path.abspath(os.path.expanduser(base)))
        if not target.is_relative_to(base_abs):
            raise RpcError(f"backup file name ({target}) must be inside base path ({base_abs})")
        if target.exists():
            raise RpcError(f"backup file {target} already exists; overwriting it would corrupt it")
        try:
            MinerMetadata.from_repo(self.repo).write_backup(target)
        except (OSError, ValueError) as exc:
            raise RpcError(f"creating backup: {exc}") from exc

    def start_wdpost(self) -> WindowPostScheduler | None:
        """Start the WindowPoSt scheduler as `lotus-miner run` does (builder_miner.go:99, storageminer.go:294-302)."""
        if self.config.disable_window_post or not self.knobs.wdpost_scheduler:
            return None
        scheduler = WindowPostScheduler(self, poll=min(1.0, self.block_delay / 4))
        scheduler.start(self.stop)
        self.wdpost = scheduler
        return scheduler

    def api(self) -> Api:
        """The /rpc/v0 namespace."""
        methods: dict[str, Callable[..., Any]] = {
            "Version": self.version, "Session": lambda: self.session, "Shutdown": deferred(self.stop.set),
            "AuthNew": self.auth_new, "AuthVerify": self.auth_verify,
            "ActorAddress": lambda: self.address, "ActorSectorSize": self.actor_sector_size,
            "SectorsList": self.sectors_list, "StorageList": self.storage_list,
            "StorageLocal": self.storage_local, "StorageStat": self.storage_stat,
            "StorageFindSector": self.storage_find_sector,
            "WorkerConnect": self.worker_connect, "WorkerStats": self.worker_stats,
            "ComputeWindowPoSt": self.compute_window_post, "CheckProvable": self.check_provable,
            "CreateBackup": self.create_backup, "RuntimeSubsystems": self.config.subsystems,
        }
        return Api(methods, MINER_PERMS)

