"""Typed client for the Lotus full node's stable API (``/rpc/v1``): chain, sync and miner state."""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from spdrill.lotus.bitfield import Bitfield
from spdrill.lotus.rpc import ApiClient, Fields, bad_field, bitfield_of, cid_of
from spdrill.lotus.types import (
    ActiveSync,
    Actor,
    ActorState,
    BlockHeader,
    Deadline,
    DeadlineInfo,
    MinerInfo,
    MinerPower,
    Multisig,
    NodeStatus,
    Partition,
    SectorInfo,
    SyncState,
    TipSet,
    Version,
)

__all__ = ["FullNodeClient", "parse_sectors", "parse_tipset", "parse_version"]

TipSetKey = Sequence[str]  # block CIDs; empty means "the current head"


def _tsk(key: TipSetKey | None) -> list[dict[str, str]]:
    return [{"/": c} for c in key or ()]


def parse_version(method: str, raw: object) -> Version:
    """Parse ``Version`` (shared by the full node and the miner); ``Agent`` may be absent."""
    f = Fields(method, raw)
    # Agent exists only since Lotus v1.32.1 (api/api_common.go:77-78); older nodes and miners leave it out.
    agent = f.opt_string("Agent") or ""
    return Version(f.string("Version"), f.integer("APIVersion"), f.integer("BlockDelay"), agent)


def parse_tipset(method: str, raw: object, path: str = "result") -> TipSet:
    """Parse a TipSet JSON (``Cids``, ``Blocks``, ``Height``)."""
    f = Fields(method, raw, path)
    cids = tuple(cid_of(method, f"{path}.Cids[{i}]", c) for i, c in enumerate(f.array("Cids")))
    blocks = []
    for i, raw_block in enumerate(f.array("Blocks")):
        b = Fields(method, raw_block, f"{path}.Blocks[{i}]")
        parents = tuple(cid_of(method, f"{b.path}.Parents[{j}]", p) for j, p in enumerate(b.array("Parents")))
        blocks.append(
            BlockHeader(
                b.string("Miner"), b.integer("Height"), b.integer("Timestamp"), parents, b.big("ParentWeight")
            )
        )
    if not blocks:
        raise bad_field(method, f"{path}.Blocks", "at least one block", [])
    return TipSet(cids, f.integer("Height"), tuple(blocks))


def _opt_tipset_height(method: str, f: Fields, name: str) -> int | None:
    raw = f.obj.get(name)
    return None if raw is None else parse_tipset(method, raw, f"{f.path}.{name}").height


# Lotus (Go's encoding/json) writes compact JSON with the fields of SectorOnChainInfo in struct order.
_SECTOR_RE = re.compile(
    rb'\{"SectorNumber":(\d+),"SealProof":(\d+),"SealedCID":\{"/":"([A-Za-z0-9]+)"\},'
    rb'"Activation":(-?\d+),"Expiration":(-?\d+)[,}]'
)


def _sectors_from_bytes(data: bytes) -> tuple[SectorInfo, ...] | None:
    """Scan a compact JSON sector list with one regex; None when it is not in the shape Lotus writes."""
    # A sector holds no arrays, so exactly one '[' and one ']' means the bytes are one flat list; every
    # sector must match, or the careful path decides.
    if data.count(b"[") != 1 or data.count(b"]") != 1:
        return None
    found = _SECTOR_RE.findall(data)
    if len(found) != data.count(b'"SectorNumber"') or (not found and data.strip() != b"[]"):
        return None
    if not found:
        return ()
    # Column-wise conversion keeps the per-sector work in C loops.
    n, p, c, a, e = zip(*found, strict=True)
    return tuple(map(SectorInfo, map(int, n), map(int, p), map(bytes.decode, c), map(int, a), map(int, e)))


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC: a million new tuples would trigger it hundreds of times for nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_sectors(method: str, raw: object) -> tuple[SectorInfo, ...]:
    """Parse on-chain sector infos, decoded or as raw JSON bytes; lean, as a miner may have millions."""
    with _no_gc():
        return _parse_sectors(method, raw)


def _parse_sectors(method: str, raw: object) -> tuple[SectorInfo, ...]:
    if isinstance(raw, bytes):
        fast = _sectors_from_bytes(raw)
        if fast is not None:
            return fast
        try:
            raw = json.loads(raw)
        except ValueError:
            raise bad_field(method, "result", "a JSON list of sectors", raw) from None
    if type(raw) is not list:
        raise bad_field(method, "result", "a list of sectors", raw)
    out: list[SectorInfo] = []
    append = out.append
    for s in raw:
        # Plain indexing first; any surprise falls back to the field-naming reader.
        try:
            n, proof, cid, act, exp = (
                s["SectorNumber"],
                s["SealProof"],
                s["SealedCID"]["/"],
                s["Activation"],
                s["Expiration"],
            )
        except (KeyError, TypeError):
            n = proof = cid = act = exp = None
        if (
            type(n) is int
            and type(proof) is int
            and type(cid) is str
            and type(act) is int
            and type(exp) is int
        ):
            append(SectorInfo(n, proof, cid, act, exp))
        else:
            append(_sector_slow(method, s, len(out)))
    return tuple(out)


def _sector_slow(method: str, raw: object, index: int) -> SectorInfo:
    f = Fields(method, raw, f"result[{index}]")
    return SectorInfo(
        f.integer("SectorNumber"),
        f.integer("SealProof"),
        f.cid("SealedCID"),
        f.integer("Activation"),
        f.integer("Expiration"),
    )


class FullNodeClient(ApiClient):
    """The full-node methods restore drills use, with typed results."""

    api_path = "v1"

    def _call(self, method: str, *params: Any) -> Any:
        return self.rpc.call(method, *params)

    def version(self) -> Version:
        """``Filecoin.Version``."""
        return parse_version("Filecoin.Version", self._call("Version"))

    def chain_head(self) -> TipSet:
        """``Filecoin.ChainHead``: the current head tipset."""
        return parse_tipset("Filecoin.ChainHead", self._call("ChainHead"))

    def chain_get_tipset_by_height(self, height: int, key: TipSetKey | None = None) -> TipSet:
        """``Filecoin.ChainGetTipSetByHeight``: the tipset at ``height`` (or the last before a null round)."""
        m = "Filecoin.ChainGetTipSetByHeight"
        return parse_tipset(m, self._call("ChainGetTipSetByHeight", height, _tsk(key)))

    def sync_state(self) -> SyncState:
        """``Filecoin.SyncState``."""
        m = "Filecoin.SyncState"
        f = Fields(m, self._call("SyncState"))
        syncs = []
        for i, raw in enumerate(f.array("ActiveSyncs", nullable=True)):
            a = Fields(m, raw, f"result.ActiveSyncs[{i}]")
            syncs.append(
                ActiveSync(
                    a.integer("WorkerID"),
                    a.integer("Stage"),
                    a.integer("Height"),
                    _opt_tipset_height(m, a, "Base"),
                    _opt_tipset_height(m, a, "Target"),
                    a.opt_string("Message") or "",
                )
            )
        return SyncState(tuple(syncs), f.integer("VMApplied"))

    def node_status(self, include_chain_status: bool = False) -> NodeStatus:
        """``Filecoin.NodeStatus``; chain status costs a 900-tipset walk, so it is off by default."""
        m = "Filecoin.NodeStatus"
        f = Fields(m, self._call("NodeStatus", include_chain_status))
        sync, peers = f.nested("SyncStatus"), f.nested("PeerStatus")
        last100 = finality = None
        if isinstance(f.obj.get("ChainStatus"), dict):
            chain = f.nested("ChainStatus")
            last100, finality = (
                chain.number("BlocksPerTipsetLast100"),
                chain.number("BlocksPerTipsetLastFinality"),
            )
        return NodeStatus(
            sync.integer("Epoch"),
            sync.integer("Behind"),
            peers.integer("PeersToPublishMsgs"),
            peers.integer("PeersToPublishBlocks"),
            last100,
            finality,
        )

    def state_network_version(self, key: TipSetKey | None = None) -> int:
        """``Filecoin.StateNetworkVersion``."""
        raw = self._call("StateNetworkVersion", _tsk(key))
        if type(raw) is not int:
            raise bad_field("Filecoin.StateNetworkVersion", "result", "an integer", raw)
        return raw

    def state_get_actor(self, address: str, key: TipSetKey | None = None) -> Actor:
        """``Filecoin.StateGetActor``: code, head, nonce, balance and (nullable) delegated address."""
        f = Fields("Filecoin.StateGetActor", self._call("StateGetActor", address, _tsk(key)))
        return Actor(f.cid("Code"), f.cid("Head"), f.integer("Nonce"), f.big("Balance"),
                     f.opt_string("DelegatedAddress"))

    def state_read_state(self, address: str, key: TipSetKey | None = None) -> ActorState:
        """``Filecoin.StateReadState``: the actor's state object, as Lotus dumps it (node/impl/full/state.go:519)."""
        f = Fields("Filecoin.StateReadState", self._call("StateReadState", address, _tsk(key)))
        raw = f.obj.get("State")
        if type(raw) is not dict:
            raise bad_field("Filecoin.StateReadState", "result.State", "an object", raw)
        return ActorState(f.cid("Code"), f.big("Balance"), raw)

    def multisig(self, address: str, key: TipSetKey | None = None) -> Multisig | None:
        """The signers and threshold of `address` when its state is a multisig's; None for any other actor."""
        state = self.state_read_state(address, key).state
        if "Signers" not in state or "NumApprovalsThreshold" not in state:
            return None
        # go-state-types multisig.State: Signers []address.Address, NumApprovalsThreshold uint64
        # (Lotus chain/actors/builtin/multisig/v19.go:37-39,75-80).
        f = Fields("Filecoin.StateReadState", state, "result.State")
        return Multisig(address, f.strings("Signers"), f.integer("NumApprovalsThreshold"))

    def state_miner_info(self, miner: str, key: TipSetKey | None = None) -> MinerInfo:
        """``Filecoin.StateMinerInfo``."""
        f = Fields("Filecoin.StateMinerInfo", self._call("StateMinerInfo", miner, _tsk(key)))
        return MinerInfo(
            f.string("Owner"),
            f.string("Worker"),
            f.strings("ControlAddresses", nullable=True),
            f.opt_string("PeerId"),
            f.integer("WindowPoStProofType"),
            f.integer("SectorSize"),
            f.integer("WindowPoStPartitionSectors"),
            f.integer("ConsensusFaultElapsed"),
            f.opt_string("Beneficiary"),
        )

    def state_miner_proving_deadline(self, miner: str, key: TipSetKey | None = None) -> DeadlineInfo:
        """``Filecoin.StateMinerProvingDeadline``: the deadline open now."""
        f = Fields(
            "Filecoin.StateMinerProvingDeadline", self._call("StateMinerProvingDeadline", miner, _tsk(key))
        )
        names = (
            "CurrentEpoch",
            "PeriodStart",
            "Index",
            "Open",
            "Close",
            "Challenge",
            "FaultCutoff",
            "WPoStPeriodDeadlines",
            "WPoStProvingPeriod",
            "WPoStChallengeWindow",
            "WPoStChallengeLookback",
            "FaultDeclarationCutoff",
        )
        return DeadlineInfo(*(f.integer(n) for n in names))

    def state_miner_deadlines(self, miner: str, key: TipSetKey | None = None) -> tuple[Deadline, ...]:
        """``Filecoin.StateMinerDeadlines``: all 48 deadlines."""
        m = "Filecoin.StateMinerDeadlines"
        out = []
        for i, raw in enumerate(self._list(m, self._call("StateMinerDeadlines", miner, _tsk(key)))):
            f = Fields(m, raw, f"result[{i}]")
            out.append(Deadline(f.bitfield("PostSubmissions"), f.integer("DisputableProofCount")))
        return tuple(out)

    def state_miner_partitions(
        self, miner: str, deadline: int, key: TipSetKey | None = None
    ) -> tuple[Partition, ...]:
        """``Filecoin.StateMinerPartitions``: the partitions of one deadline."""
        m = "Filecoin.StateMinerPartitions"
        out = []
        for i, raw in enumerate(
            self._list(m, self._call("StateMinerPartitions", miner, deadline, _tsk(key)))
        ):
            f = Fields(m, raw, f"result[{i}]")
            out.append(
                Partition(
                    *(
                        f.bitfield(n)
                        for n in (
                            "AllSectors",
                            "FaultySectors",
                            "RecoveringSectors",
                            "LiveSectors",
                            "ActiveSectors",
                        )
                    )
                )
            )
        return tuple(out)

    def state_miner_sectors(
        self, miner: str, sectors: Bitfield | Iterable[int] | None = None, key: TipSetKey | None = None
    ) -> tuple[SectorInfo, ...]:
        """``Filecoin.StateMinerSectors``; ``sectors`` filters, None means all."""
        if sectors is not None and not isinstance(sectors, Bitfield):
            sectors = Bitfield.from_iterable(sectors)
        flt = None if sectors is None else sectors.runs()
        raw = self.rpc.call_list_bytes("StateMinerSectors", miner, flt, _tsk(key))
        return parse_sectors("Filecoin.StateMinerSectors", raw)

    def state_miner_active_sectors(self, miner: str, key: TipSetKey | None = None) -> tuple[SectorInfo, ...]:
        """``Filecoin.StateMinerActiveSectors``: sectors the miner is proving."""
        raw = self.rpc.call_list_bytes("StateMinerActiveSectors", miner, _tsk(key))
        return parse_sectors("Filecoin.StateMinerActiveSectors", raw)

    def state_miner_faults(self, miner: str, key: TipSetKey | None = None) -> Bitfield:
        """``Filecoin.StateMinerFaults``."""
        return self._bitfield("StateMinerFaults", miner, key)

    def state_miner_recoveries(self, miner: str, key: TipSetKey | None = None) -> Bitfield:
        """``Filecoin.StateMinerRecoveries``."""
        return self._bitfield("StateMinerRecoveries", miner, key)

    def state_sector_get_info(
        self, miner: str, number: int, key: TipSetKey | None = None
    ) -> SectorInfo | None:
        """``Filecoin.StateSectorGetInfo``; None when the chain has no such sector."""
        raw = self._call("StateSectorGetInfo", miner, number, _tsk(key))
        return None if raw is None else _sector_slow("Filecoin.StateSectorGetInfo", raw, 0)

    def state_miner_power(self, miner: str, key: TipSetKey | None = None) -> MinerPower:
        """``Filecoin.StateMinerPower``."""
        f = Fields("Filecoin.StateMinerPower", self._call("StateMinerPower", miner, _tsk(key)))
        mine, total = f.nested("MinerPower"), f.nested("TotalPower")
        return MinerPower(
            mine.big("RawBytePower"),
            mine.big("QualityAdjPower"),
            total.big("RawBytePower"),
            total.big("QualityAdjPower"),
            f.boolean("HasMinPower"),
        )

    def wallet_list(self) -> tuple[str, ...]:
        """``Filecoin.WalletList`` (needs write permission): addresses whose keys the node holds."""
        raw = self._call("WalletList")
        if raw is None:
            return ()
        if type(raw) is not list or not all(type(a) is str for a in raw):
            raise bad_field("Filecoin.WalletList", "result", "a list of addresses", raw)
        return tuple(raw)

    def wallet_has(self, address: str) -> bool:
        """``Filecoin.WalletHas`` (needs write permission)."""
        raw = self._call("WalletHas", address)
        if type(raw) is not bool:
            raise bad_field("Filecoin.WalletHas", "result", "true or false", raw)
        return raw

    def _bitfield(self, method: str, miner: str, key: TipSetKey | None) -> Bitfield:
        raw = self._call(method, miner, _tsk(key))
        return bitfield_of(f"Filecoin.{method}", "result", raw)

    @staticmethod
    def _list(method: str, raw: object) -> list[Any]:
        if type(raw) is not list:
            raise bad_field(method, "result", "a list", raw)
        return raw
