"""The simulated `lotus-worker run --windowpost`: registers with the miner, proves the partitions sent."""

from __future__ import annotations

import os
import resource
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lotus_sim import post, remote
from lotus_sim.perms import WORKER_PERMS
from lotus_sim.rpc import Api, RpcError, Unauthorized, deferred
from lotus_sim.rpcclient import CallError, RpcClient
from lotus_sim.runtime import Knobs

__all__ = ["API_VERSION_WORKER", "MINER_FD_LIMIT", "WorkerNode", "fd_limit_refusal", "resources_json"]

API_VERSION_WORKER = 67328  # 1.7.0
WINDOW_POST_TASK = "post/v0/windowproof"
FT_SEALED, FT_CACHE = 2, 4
_GIB = 1 << 30


def _meminfo() -> tuple[int, int, int, int]:
    fields: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                name, _, rest = line.partition(":")
                fields[name] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return 0, 0, 0, 0
    total, avail = fields.get("MemTotal", 0), fields.get("MemAvailable", 0)
    swap, swap_free = fields.get("SwapTotal", 0), fields.get("SwapFree", 0)
    return total, total - avail, swap, swap - swap_free


MINER_FD_LIMIT = 100_000  # build/buildconstants/limits.go:5 MinerFDLimit


def fd_limit_refusal(want: int) -> str | None:
    """What `lotus-worker run` logs when the soft RLIMIT_NOFILE is below `want`, else None.

    cli/worker/worker.go:309-318: ulimit.GetLimit's soft limit against buildconstants.MinerFDLimit; it only
    checks (the daemon and the miner raise their own limit, cli/lotus/daemon.go:188, cli/miner/run.go:89).
    The error reaches cmd/lotus-worker/main.go:21-24, which logs it with `log.Warnf("%+v", err)` and returns.
    """
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):  # ulimit.ErrUnsupported: Lotus logs it and goes on
        return None
    if want <= 0 or soft == resource.RLIM_INFINITY or soft >= want:
        return None
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
    message = f"soft file descriptor limit (ulimit -n) too low, want {want}, current {soft}"
    return (f"{stamp}\tWARN\tmain\tlotus-worker/main.go:22\t{message}:\n"
            "    github.com/filecoin-project/lotus/cli/worker.init.func (cli/worker/worker.go:317)")


def resources_json(gpus: list[str]) -> dict[str, Any]:
    """WorkerResources JSON: host memory and CPUs, the GPUs, and WindowPoSt's per-proof requirements."""
    total, used, swap, swap_used = _meminfo()
    need = {"MinMemory": 32 * _GIB, "MaxMemory": 96 * _GIB, "GPUUtilization": 1 if gpus else 0,
            "MaxParallelism": -1, "MaxParallelismGPU": 6, "BaseMinMemory": 32 * _GIB, "MaxConcurrent": 0}
    return {
        "MemPhysical": total, "MemUsed": used, "MemSwap": swap, "MemSwapUsed": swap_used,
        "CPUs": os.cpu_count() or 1, "GPUs": gpus,
        "Resources": {WINDOW_POST_TASK: {str(proof): dict(need) for proof in range(15)}},
    }


class WorkerNode:
    """State and RPC handlers of one running WindowPoSt worker."""

    def __init__(self, miner: RpcClient, knobs: Knobs, local_paths: list[dict[str, Any]], gpu: bool) -> None:
        self.miner = miner
        self.knobs = knobs
        self.local_paths = local_paths
        self.session = str(uuid.uuid4())
        self.stop = threading.Event()
        names = [g.strip() for g in knobs.gpus.split(",") if g.strip()]
        self.gpus = [] if knobs.no_gpu else names
        self.gpu_proving = gpu and bool(self.gpus)
        self._paths: list[Path] | None = None
        self._tokens: dict[str, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()
        self._gpu = threading.Lock()

    def authorize(self, token: str) -> list[str]:
        """Check a caller's token with the miner's AuthVerify, as Lotus workers do (cached for a minute)."""
        now = time.monotonic()
        with self._lock:
            hit = self._tokens.get(token)
        if hit and now - hit[0] < 60:
            return hit[1]
        try:
            allow = list(self.miner.call("AuthVerify", token))
        except CallError as exc:
            raise Unauthorized(str(exc)) from exc
        with self._lock:
            self._tokens[token] = (now, allow)
        return allow

    def storage_paths(self) -> list[Path]:
        """The miner's storage paths, read through its API (a PoSt worker reads sectors where they are)."""
        if self._paths is None:
            try:
                self._paths = [Path(p) for p in self.miner.call("StorageLocal").values()]
            except CallError as exc:
                raise RpcError(f"listing the miner's storage paths: {exc}") from exc
        return self._paths

    def info(self) -> dict[str, Any]:
        """Filecoin.Info."""
        resources = resources_json(self.gpus)
        return {"Hostname": socket.gethostname(), "IgnoreResources": False, "Resources": resources}

    def generate_window_post(
        self, ppt: int, miner_id: int, sectors: list[dict[str, Any]], partition: int, randomness: str
    ) -> dict[str, Any]:
        """Filecoin.GenerateWindowPoSt: prove one partition from its sealed files, skip unreadable ones."""
        started = time.monotonic()
        numbers = [int(s["SectorNumber"]) for s in sectors]
        seconds = self.knobs.post_seconds_per_partition
        if not self.gpu_proving:
            seconds *= 10  # CPU proving: bellman without a GPU is an order of magnitude slower
        # worker_local.go:694: each sector's vanilla proof comes from the miner's storage over HTTP
        # (paths/remote.go:822-880); a sector no URL answers for is skipped.
        with ThreadPoolExecutor(max_workers=16) as pool:
            vanilla = list(pool.map(lambda s: self._vanilla(ppt, miner_id, s), sectors))
        skipped = [n for n, v in zip(numbers, vanilla, strict=True) if v is None]
        remaining = seconds - (time.monotonic() - started)
        # One SNARK at a time on the GPU: the miner's own scheduler and a dry-run queue behind each other.
        with self._gpu:
            if remaining > 0:
                time.sleep(remaining)
        proof = post.proof_for(miner_id, numbers, skipped, randomness, b"".join(v or b"" for v in vanilla))
        return {"PoStProofs": {"PoStProof": ppt, "ProofBytes": proof},
                "Skipped": [{"Miner": miner_id, "Number": n} for n in skipped]}

    def _vanilla(self, ppt: int, miner_id: int, challenge: dict[str, Any]) -> bytes | None:
        sector = {"Miner": miner_id, "Number": int(challenge["SectorNumber"])}
        try:
            found = self.miner.call("StorageFindSector", sector, FT_SEALED | FT_CACHE, 0, False)
        except CallError as exc:
            print(f"WARN\tadvmgr\tfinding sector {sector} failed: {exc}", file=sys.stderr, flush=True)
            return None
        urls = [u for info in found or [] for u in info.get("BaseURLs") or []]
        return remote.fetch_vanilla(urls, self.miner.token,
                                    {"Miner": miner_id, "Sector": challenge, "ProofType": ppt})

    def api(self) -> Api:
        """The /rpc/v0 namespace."""
        methods: dict[str, Callable[..., Any]] = {
            "Version": lambda: API_VERSION_WORKER, "Session": lambda: self.session,
            "Shutdown": deferred(self.stop.set),
            "Info": self.info, "Paths": lambda: self.local_paths, "Enabled": lambda: True,
            "TaskTypes": lambda: {WINDOW_POST_TASK: {}}, "GenerateWindowPoSt": self.generate_window_post,
        }
        return Api(methods, WORKER_PERMS)

    def keep_registered(self, url: str, period: float = 2.0) -> None:
        """Re-run WorkerConnect whenever the miner's session changes (it restarted), until stopped."""
        last = ""
        while not self.stop.is_set():
            try:
                session = self.miner.call("Session")
                if session != last:
                    self.miner.call("WorkerConnect", url)
                    last = session
            except CallError:
                last = ""  # the miner is away; connect again when it answers
            self.stop.wait(period)
