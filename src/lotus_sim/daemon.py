"""The simulated full node's API: chain head and sync, miner state, wallet and mpool, as Lotus answers."""

from __future__ import annotations

import base64
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lotus_sim import cbor
from lotus_sim.actors import account_key, read_state_or_fail
from lotus_sim.bitfield import encode_runs
from lotus_sim.chain import ChainSync
from lotus_sim.jwt import JwtError, decode_allow, encode_allow
from lotus_sim.mpool import Mpool
from lotus_sim.perms import DAEMON_PERMS
from lotus_sim.rpc import Api, Channel, FileSlices, JsonStream, RpcError, deferred
from lotus_sim.sectorcache import SectorCache, filter_runs
from lotus_sim.statejson import miner_info_json, sector_json, sector_stream
from lotus_sim.version import version_json
from lotus_sim.world import World

__all__ = ["API_VERSION_V0", "API_VERSION_V1", "DaemonNode"]

CHANGE_PEER_ID = 23
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58(data: bytes) -> str:
    number, out = int.from_bytes(data, "big"), ""
    while number:
        number, rem = divmod(number, 58)
        out = _B58[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out

API_VERSION_V1 = 131840  # 2.3.0
API_VERSION_V0 = 66816  # 1.5.0
NODE_VERSION = "1.36.2-dev+lotus-sim"
# A network total of about 25 EiB; only its type and order of magnitude matter to callers.
TOTAL_POWER = str(25 * (1 << 60))
MIN_POWER = 10 * (1 << 40)  # consensus minimum: 10 TiB


class DaemonNode:
    """State and RPC handlers of one running `lotus daemon`."""

    def __init__(
        self,
        sync: ChainSync,
        world_loader: Callable[[], World | None],
        wallet: Callable[[], list[str]],
        secret: bytes,
        record: Callable[[dict[str, Any]], None],
        peers: int,
        sector_cache: Path | None = None,
    ) -> None:
        self.sync = sync
        self.secret = secret
        self.session = str(uuid.uuid4())
        self.stop = threading.Event()
        self._wallet = wallet
        self._record = record
        self._peers = peers if sync.bootstrap else 0
        self._world: World | None = None
        self._loaded = threading.Event()
        self._load_error: str | None = None
        self._cache_dir = sector_cache
        self._cache: SectorCache | None = None
        self.cache_done = threading.Event()  # the sector cache is ready, or will not be (tests wait on it)
        self.mpool = Mpool(wallet, self._key_address, record, self._apply_message)
        # Loading a big world takes a while; the API answers meanwhile and state calls wait for it.
        threading.Thread(target=self._load, args=(world_loader,), daemon=True).start()

    def _load(self, loader: Callable[[], World | None]) -> None:
        try:
            self._world = loader()
        except Exception as exc:  # noqa: BLE001 - reported through every state call
            self._load_error = str(exc)
        finally:
            self._loaded.set()
        if self._world is not None and self._cache_dir is not None:
            try:
                self._cache = SectorCache.open(self._world, self._cache_dir)
            except OSError as exc:  # calls are answered without it, only slower
                print(f"lotus-sim: sector cache in {self._cache_dir}: {exc}", file=sys.stderr)
        self.cache_done.set()

    def world(self) -> World | None:
        """The imported world once loaded (None for a chain without a lotus-sim state block)."""
        if not self._loaded.wait(120):
            raise RpcError("chain state is still loading")
        if self._load_error:
            raise RpcError(f"loading chain state: {self._load_error}")
        return self._world

    def _miner(self, addr: str) -> World:
        world = self.world()
        if world is None or addr.replace("t0", "f0", 1) != world.miner.replace("t0", "f0", 1):
            # StateMinerInfo wraps LoadActor's error (node/impl/full/state.go:168-171); an ID address the state
            # tree lacks is types.ErrActorNotFound, "actor not found" (chain/state/statetree.go:402,
            # chain/types/actor.go:11): the address is not in the message.
            raise RpcError("failed to load miner actor: actor not found")
        return world

    # ---- common -------------------------------------------------------------------------------
    def version(self, api_version: int) -> dict[str, Any]:
        """Filecoin.Version."""
        return version_json(api_version, self.sync.clock.block_delay)  # lotus_sim/version.py: Agent or not

    def auth_new(self, perms: list[str]) -> str:
        """Filecoin.AuthNew: the JWT as base64 ([]byte in Go)."""
        return base64.b64encode(encode_allow(list(perms), self.secret).encode()).decode()

    def auth_verify(self, token: str) -> list[str]:
        """Filecoin.AuthVerify."""
        try:
            return decode_allow(token, self.secret)
        except JwtError as exc:
            raise RpcError(f"JWT Verification failed: {exc}") from exc

    # ---- chain --------------------------------------------------------------------------------
    def chain_head(self) -> dict[str, Any]:
        """Filecoin.ChainHead."""
        return self.sync.tipset(self.sync.head_height())

    def chain_notify(self) -> Channel:
        """Filecoin.ChainNotify (node/impl/full/chain.go:107-109 -> chain/store/store.go:289-333).

        First `[{"Type": "current", "Val": head}]`, then one notification per head change listing an
        `apply` for every tipset on the path to the new head (store.go:168-190; the stand-in never
        reorgs, so never `revert`); the channel closes when the daemon stops.
        """
        return Channel(self._head_changes)

    def _head_changes(self, cancelled: threading.Event) -> Iterator[list[dict[str, Any]]]:
        height = self.sync.head_height()
        yield [{"Type": "current", "Val": self.sync.tipset(height)}]
        # Polled often enough that a catch-up at thousands of epochs/s sends modest notifications.
        poll = min(0.25, self.sync.clock.block_delay / 4)
        while not cancelled.wait(poll) and not self.stop.is_set():
            head = self.sync.head_height()
            if head > height:
                yield [{"Type": "apply", "Val": self.sync.tipset(h)} for h in range(height + 1, head + 1)]
                height = head

    def tipset_by_height(self, height: int, tsk: Any) -> dict[str, Any]:
        """Filecoin.ChainGetTipSetByHeight."""
        head = self.sync.head_height()
        if not isinstance(height, int) or height < 0:
            raise RpcError(f"invalid height {height!r}")
        if height > head:
            raise RpcError("looking for tipset with height greater than start point")
        return self.sync.tipset(height)

    def sync_state(self) -> dict[str, Any]:
        """Filecoin.SyncState."""
        return {"ActiveSyncs": self.sync.active_syncs(), "VMApplied": 0}

    def behind(self) -> int:
        """NodeStatus's Behind: Lotus divides by a hard-coded 30 s, whatever the block delay."""
        head = self.sync.head_height()
        return max(0, int(time.time() - self.sync.timestamp_of(head)) // 30)

    def node_status(self, include_chain: bool) -> dict[str, Any]:
        """Filecoin.NodeStatus."""
        head = self.sync.head_height()
        # float64 in Go, whose JSON writes whole values without a fraction: 1, not 1.0.
        chain = {"BlocksPerTipsetLast100": 0, "BlocksPerTipsetLastFinality": 0}
        if include_chain and head > 900:
            chain = {"BlocksPerTipsetLast100": 1, "BlocksPerTipsetLastFinality": 1}
        return {
            "SyncStatus": {"Epoch": head, "Behind": self.behind()},
            "PeerStatus": {"PeersToPublishMsgs": self._peers, "PeersToPublishBlocks": self._peers},
            "ChainStatus": chain,
        }

    def health(self, ready: bool) -> tuple[int, str]:
        """/health/livez and /health/readyz: ready needs peers (NAT reachability) and Behind < 5."""
        if not ready:
            return 200, "ok"
        if self._peers > 0 and self.behind() < 5:
            return 200, "ok"
        return 503, "not ready"

    # ---- state --------------------------------------------------------------------------------
    def network_version(self, tsk: Any) -> int:
        """Filecoin.StateNetworkVersion."""
        world = self.world()
        return world.network_version if world else 27

    def miner_info(self, addr: str, tsk: Any) -> dict[str, Any]:
        """Filecoin.StateMinerInfo."""
        return miner_info_json(self._miner(addr))

    def proving_deadline(self, addr: str, tsk: Any) -> dict[str, Any]:
        """Filecoin.StateMinerProvingDeadline at the head."""
        d = self._miner(addr).deadline_info(self.sync.head_height())
        return {
            "CurrentEpoch": d.current_epoch, "PeriodStart": d.period_start, "Index": d.index,
            "Open": d.open, "Close": d.close, "Challenge": d.challenge, "FaultCutoff": d.fault_cutoff,
            "WPoStPeriodDeadlines": d.wpost_period_deadlines, "WPoStProvingPeriod": d.wpost_proving_period,
            "WPoStChallengeWindow": d.wpost_challenge_window,
            "WPoStChallengeLookback": d.wpost_challenge_lookback,
            "FaultDeclarationCutoff": d.fault_declaration_cutoff,
        }

    def deadlines(self, addr: str, tsk: Any) -> list[dict[str, Any]]:
        """Filecoin.StateMinerDeadlines: deadlines already past in this period have all partitions proven."""
        w = self._miner(addr)
        current = w.deadline_info(self.sync.head_height()).index
        out = []
        for index in range(len(w.deadlines)):
            count = len(w.partitions(index))
            proven = range(count) if index < current else range(0)
            out.append({"PostSubmissions": encode_runs(proven), "DisputableProofCount": 0, "DailyFee": "0"})
        return out

    def partitions(self, addr: str, index: int, tsk: Any) -> list[dict[str, Any]]:
        """Filecoin.StateMinerPartitions."""
        w = self._miner(addr)
        if not isinstance(index, int) or not 0 <= index < len(w.deadlines):
            raise RpcError(f"invalid deadline index {index!r}: expected 0..{len(w.deadlines) - 1}")
        out = []
        for p in range(len(w.partitions(index))):
            sets = w.partition_sets(index, p)
            out.append({
                "AllSectors": encode_runs(sets.all), "FaultySectors": encode_runs(sets.faulty),
                "RecoveringSectors": encode_runs(sets.recovering), "LiveSectors": encode_runs(sets.live),
                "ActiveSectors": encode_runs(sets.active),
            })
        return out

    def _sector_cache(self, w: World) -> SectorCache | None:
        # Waiting for a build under way costs less than encoding alongside it: both need the one interpreter.
        # Without a cache (none could be built, or a test changed the world since), encode on each call.
        self.cache_done.wait(120)
        cache = self._cache
        return cache if cache is not None and cache.fresh(w) else None

    def miner_sectors(self, addr: str, filt: Any, tsk: Any) -> JsonStream | FileSlices:
        """Filecoin.StateMinerSectors (from the sector cache, else streamed: never all in memory as JSON)."""
        w = self._miner(addr)
        cache = self._sector_cache(w)
        if filt is None:
            return cache.answer_all() if cache else sector_stream(w, w.all_sectors())
        if not isinstance(filt, list):
            raise RpcError("sector filter must be an RLE+ bitfield JSON list like [0,3,5,2]")
        try:
            runs = list(filter_runs(filt))
        except ValueError as exc:
            raise RpcError(f"sector filter: {exc}") from exc
        if cache:
            return cache.answer(runs)
        return sector_stream(w, (n for start, length in runs for n in range(start, start + length)))

    def active_sectors(self, addr: str, tsk: Any) -> JsonStream | FileSlices:
        """Filecoin.StateMinerActiveSectors."""
        w = self._miner(addr)
        cache = self._sector_cache(w)
        return cache.answer_without(w.faulty) if cache else sector_stream(w, w.active_sectors())

    def faults(self, addr: str, tsk: Any) -> list[int]:
        """Filecoin.StateMinerFaults."""
        w = self._miner(addr)
        return encode_runs(sorted(n for n in w.faulty if w.has_sector(n)))

    def recoveries(self, addr: str, tsk: Any) -> list[int]:
        """Filecoin.StateMinerRecoveries."""
        w = self._miner(addr)
        return encode_runs(sorted(n for n in w.recovering if w.has_sector(n)))

    def sector_info(self, addr: str, number: int, tsk: Any) -> dict[str, Any] | None:
        """Filecoin.StateSectorGetInfo: null for a sector the miner does not have."""
        info = self._miner(addr).sector_info(int(number))
        return None if info is None else sector_json(info)

    def miner_power(self, addr: str, tsk: Any) -> dict[str, Any]:
        """Filecoin.StateMinerPower."""
        raw, qa = self._miner(addr).miner_power()
        return {
            "MinerPower": {"RawBytePower": str(raw), "QualityAdjPower": str(qa)},
            "TotalPower": {"RawBytePower": TOTAL_POWER, "QualityAdjPower": TOTAL_POWER},
            "HasMinPower": raw >= MIN_POWER,
        }

    # ---- wallet and mpool ---------------------------------------------------------------------
    def wallet_list(self) -> list[str]:
        """Filecoin.WalletList: the keys in this repo's keystore."""
        return self._wallet()

    def wallet_has(self, addr: str) -> bool:
        """Filecoin.WalletHas."""
        return addr in self._wallet()

    def wallet_default(self) -> str:
        """Filecoin.WalletDefaultAddress."""
        keys = self._wallet()
        if not keys:
            raise RpcError("failed to get default address: key not found")
        return keys[0]

    def _key_address(self, addr: str) -> str:
        world = self.world()
        if world is not None:
            for acc in (world.owner, world.worker, *world.controls):
                if addr.replace("t0", "f0", 1) == acc.id_address.replace("t0", "f0", 1):
                    return acc.key_address
        return addr

    def _apply_message(self, msg: dict[str, Any]) -> None:
        """Apply the one message whose effect a drill can observe: the miner's ChangePeerID (method 23)."""
        world = self._world
        if world is None or msg.get("Method") != CHANGE_PEER_ID or msg["To"].replace("t0", "f0", 1) != \
                world.miner.replace("t0", "f0", 1):
            return
        try:
            params = cbor.decode(base64.b64decode(msg.get("Params") or ""))
            raw = params[0] if isinstance(params, list) and params and isinstance(params[0], bytes) else None
        except ValueError:
            raw = None
        if raw:
            world.peer_id = _b58(raw)

    def account_key(self, addr: str, tsk: Any) -> str:
        """Filecoin.StateAccountKey: the key address behind an account's ID address."""
        key = account_key(self.world(), addr) or self._key_address(addr)  # actors.py: multisig fails
        if key == addr and addr[1:2] == "0":
            raise RpcError(f"resolution lookup failed ({addr}): actor not found")
        return key

    # ---- wiring -------------------------------------------------------------------------------
    def api(self, api_version: int) -> Api:
        """The RPC namespace for /rpc/v0 (api_version 1.5.0) or /rpc/v1 (2.3.0)."""
        methods: dict[str, Callable[..., Any]] = {
            "Version": lambda: self.version(api_version),
            "Session": lambda: self.session,
            "Shutdown": deferred(self.stop.set),
            "AuthNew": self.auth_new, "AuthVerify": self.auth_verify,
            "ChainHead": self.chain_head, "ChainNotify": self.chain_notify,
            "ChainGetTipSetByHeight": self.tipset_by_height,
            "SyncState": self.sync_state, "NodeStatus": self.node_status,
            "StateNetworkVersion": self.network_version, "StateMinerInfo": self.miner_info,
            "StateMinerProvingDeadline": self.proving_deadline, "StateMinerDeadlines": self.deadlines,
            "StateMinerPartitions": self.partitions, "StateMinerSectors": self.miner_sectors,
            "StateMinerActiveSectors": self.active_sectors, "StateMinerFaults": self.faults,
            "StateMinerRecoveries": self.recoveries, "StateSectorGetInfo": self.sector_info,
            "StateMinerPower": self.miner_power, "StateAccountKey": self.account_key,
            "StateReadState": lambda addr, tsk: read_state_or_fail(self.world(), addr),
            "WalletList": self.wallet_list, "WalletHas": self.wallet_has,
            "WalletDefaultAddress": self.wallet_default, "MpoolPushMessage": self.mpool.push,
        }
        return Api(methods, DAEMON_PERMS, on_denied=self.mpool.denied, channels=frozenset({"ChainNotify"}))
