"""The I/O of reconciliation: batch calls to the standby's daemon and miner, folded into a report.

Calls, whatever the miner's size: ``Version``, ``StateMinerProvingDeadline``, ``StateMinerDeadlines``,
``StateMinerPartitions`` once per deadline (48), ``StateMinerSectors`` once with the live sectors as
a bitfield, ``SectorsList`` once; ``CheckProvable`` once per partition only when the caller has no
verdict yet. No per-sector RPC.

``StateMinerSectors`` for a million sectors is ~420 MB of JSON; decoding it into dicts would need
gigabytes. It is read as a stream instead (``RpcClient.stream``), and a lean scanner takes the three
fields reconciliation needs from each SectorOnChainInfo (``SectorNumber``, ``SealProof``,
``ExpectedDayReward``); spdrill's ``SectorInfo`` has no reward field. The scanner relies on Lotus
writing struct fields in declaration order (Go's encoding/json always does) and proves it read every
object by counting ``"SectorNumber"``.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from spdrill.errors import InputError, LotusDecodeError
from spdrill.exposure import DeadlineClock
from spdrill.lotus import Bitfield, FullNodeClient, MinerClient, SectorRef
from spdrill.lotus.backup import CborStream
from spdrill.lotus.miner import CHECK_PROVABLE_TIMEOUT_S
from spdrill.lotus.types import Partition
from spdrill.reconcile import Intervals, ReconciliationReport, build_report, intervals, intervals_of, union

__all__ = ["SectorScan", "backup_sectors", "reconcile", "scan_sectors"]

# Three flat scans in C beat one pattern spanning each object: every object holds each key exactly once.
_NUMBER = re.compile(rb'"SectorNumber":\s*(\d+)')
_PROOF = re.compile(rb'"SealProof":\s*(\d+)')
_REWARD = re.compile(rb'"ExpectedDayReward":\s*(?:"(\d+)"|null)')
_KEY = b'"SectorNumber"'
_MAX_OBJECT = 1 << 22  # far above one SectorOnChainInfo (~450 bytes): a body without sectors
_NOT_LIVE = 0xFF
_FAULTY = 0xFE  # live but faulty: no reward at stake, since its fee is owed with or without an outage
_MAX_INDEX = 1 << 28  # one byte per sector number up to here (256 MB); real miners stay far below


class SectorScan:
    """What the lean scan of ``StateMinerSectors`` collected: rewards per deadline, proofs, counts."""

    def __init__(self, deadlines: int) -> None:
        self.day_rewards = [0] * deadlines
        self.sectors = 0
        self.without_reward = 0  # ExpectedDayReward null (newer actors may omit it)
        self.by_proof: dict[tuple[int, int], array[int]] = {}  # (deadline, seal proof) -> sector numbers


def scan_sectors(chunks: Iterable[bytes], deadline_of: bytearray, *, deadlines: int = 48,
                 keep_proofs: bool = False, method: str = "Filecoin.StateMinerSectors") -> SectorScan:
    """Fold a streamed SectorOnChainInfo list into a :class:`SectorScan`.

    ``deadline_of[n]`` is sector ``n``'s deadline, ``0xFE`` when it is faulty, ``0xFF`` when not live.
    """
    scan = SectorScan(deadlines)
    size = len(deadline_of)
    found = 0
    tail = b""  # an unfinished object, from its "SectorNumber" on
    first = True
    for chunk in chunks:
        head = chunk.find(_KEY)
        if head < 0:
            tail += chunk
            if len(tail) > _MAX_OBJECT:
                raise _bad(method, "result", "a list of SectorOnChainInfo objects",
                           f"{len(tail)} bytes without a SectorNumber")
            continue
        if first:
            # Numbers and rewards are paired by position, so a reward must follow its number: one before
            # the first number means another field order, where pairing would be wrong.
            if _REWARD.search(tail + chunk[:head]):
                raise _bad(method, "result[0]", "SectorNumber before ExpectedDayReward (Go's field order)",
                           "ExpectedDayReward first")
            first = False
        last = chunk.rfind(_KEY)
        # Whole objects only, and no copy of the chunk: the joint (tail + head of the chunk), then the body.
        found += _fold(method, tail + chunk[:head], deadline_of, size, deadlines, scan, keep_proofs)
        found += _fold(method, memoryview(chunk)[head:last], deadline_of, size, deadlines, scan, keep_proofs)
        tail = chunk[last:]
    found += _fold(method, tail, deadline_of, size, deadlines, scan, keep_proofs)
    if b"]" not in tail or not tail.rstrip().endswith(b"}"):
        raise _bad(method, "result", "a complete JSON-RPC answer", "it cut short")
    scan.sectors = found
    return scan


def _bad(method: str, field: str, expected: str, found: str) -> LotusDecodeError:
    return LotusDecodeError(f"{method}: field {field}: expected {expected}, found {found}; is this a Lotus "
                            "version whose API spdrill supports?", method=method, field=field)


def _fold(method: str, region: bytes | memoryview, deadline_of: bytearray, size: int, deadlines: int,
          scan: SectorScan, keep_proofs: bool) -> int:
    numbers = list(map(int, _NUMBER.findall(region)))
    found = _REWARD.findall(region)
    if len(found) != len(numbers):
        raise _bad(method, "result[].ExpectedDayReward", "one (a string or null) per SectorOnChainInfo",
                   f"{len(found)} for {len(numbers)} sectors")
    rewards = scan.day_rewards
    for n, reward in zip(numbers, found, strict=True):
        dl = deadline_of[n] if n < size else _NOT_LIVE
        if dl < deadlines:
            if reward:
                rewards[dl] += int(reward)
            else:
                scan.without_reward += 1
    if keep_proofs:
        proofs = _PROOF.findall(region)
        if len(proofs) != len(numbers):
            raise _bad(method, "result[].SealProof", "one per SectorOnChainInfo",
                       f"{len(proofs)} for {len(numbers)} sectors")
        for n, proof in zip(numbers, proofs, strict=True):
            dl = deadline_of[n] if n < size else _NOT_LIVE
            if dl < deadlines:
                scan.by_proof.setdefault((dl, int(proof)), array("Q")).append(n)
    return len(numbers)


def _deadline_index(live: list[Intervals], faulty: list[Intervals]) -> bytearray:
    top = max((iv[-1][1] for iv in live if iv), default=0)
    if top > _MAX_INDEX:
        raise InputError(f"sector numbers up to {top}: spdrill's reconciliation handles numbers below "
                         f"{_MAX_INDEX}")
    index = bytearray(b"\xff") * top
    for dl, ivs in enumerate(live):
        for s, e in ivs:
            index[s:e] = bytes((dl,)) * (e - s)
    for ivs in faulty:
        for s, e in ivs:
            index[s:e] = bytes((_FAULTY,)) * (e - s)
    return index


def reconcile(full: FullNodeClient, miner: MinerClient, actor: str, *,
              provable_bad: Mapping[int, str] | None = None,
              backup: Iterable[int] | None = None) -> ReconciliationReport:
    """Reconcile the chain's view of ``actor`` with the restored miner and its storage.

    ``provable_bad`` is the verdict of an earlier ``CheckProvable`` over every live sector (sector ->
    reason); None asks CheckProvable here, one call per partition. ``backup`` is the sector numbers of the
    metadata backup (:func:`backup_sectors`); None lets the restored miner's SectorsList stand for it.
    """
    block_delay = full.version().block_delay or 30
    clock = DeadlineClock.from_info(full.state_miner_proving_deadline(actor))
    submissions = [d.post_submissions for d in full.state_miner_deadlines(actor)]
    partitions = [full.state_miner_partitions(actor, dl) for dl in range(clock.period_deadlines)]
    live = [union(intervals(p.live_sectors) for p in parts) for parts in partitions]
    faulty = [union(intervals(p.faulty_sectors) for p in parts) for parts in partitions]
    all_live = union(live)
    rewards: list[int] = [0] * clock.period_deadlines
    scan: SectorScan | None = None
    if all_live:
        runs = _runs(all_live)
        with full.rpc.stream("StateMinerSectors", actor, runs, []) as chunks:
            scan = scan_sectors(chunks, _deadline_index(live, faulty), deadlines=clock.period_deadlines,
                                keep_proofs=provable_bad is None)
        rewards = scan.day_rewards
    known = intervals_of(miner.sectors_list())
    if provable_bad is None:
        provable_bad = _check_provable(full, miner, actor, scan, partitions)
    backup_iv = None
    if backup is not None:  # a Bitfield's runs are its intervals already: no walk over its members
        backup_iv = intervals(backup) if isinstance(backup, Bitfield) else intervals_of(backup)
    return build_report(actor, clock, block_delay, partitions, known=known, bad=provable_bad,
                        backup=backup_iv, day_rewards=dict(enumerate(rewards)), post_submissions=submissions,
                        without_reward=scan.without_reward if scan is not None else 0)


def _runs(iv: Intervals) -> list[int]:
    runs: list[int] = []
    pos = 0
    for s, e in iv:
        runs += (s - pos, e - s)
        pos = e
    return runs


def _check_provable(full: FullNodeClient, miner: MinerClient, actor: str, scan: SectorScan | None,
                    partitions: Sequence[Sequence[Partition]]) -> dict[int, str]:
    """CheckProvable once per partition (cli/miner/proving.go:160-189), each call bounded by Lotus's own
    PartitionCheckTimeout, so the client waits longer (``CHECK_PROVABLE_TIMEOUT_S``)."""
    if scan is None:
        return {}
    post_proof = full.state_miner_info(actor).window_post_proof_type
    miner_id = int(actor[2:])
    bad: dict[int, str] = {}
    for dl, parts in enumerate(partitions):
        by_proof = [(proof, sorted(numbers)) for (d, proof), numbers in sorted(scan.by_proof.items()) if d == dl]
        for part in parts:
            refs: list[SectorRef] = []
            for s, e in intervals(part.live_sectors):
                for proof, numbers in by_proof:
                    lo, hi = bisect_left(numbers, s), bisect_left(numbers, e)
                    refs += (SectorRef(miner_id, n, proof) for n in numbers[lo:hi])
            if refs:
                bad.update(miner.check_provable(post_proof, refs, timeout=CHECK_PROVABLE_TIMEOUT_S))
    return bad


def backup_sectors(path: str | Path) -> Bitfield:
    """Sector numbers a lotus-miner metadata backup holds (``/sectors/<n>`` keys); InputError if malformed."""
    p = Path(path)
    try:
        fh = p.open("rb")
    except OSError as exc:
        raise InputError(f"{p}: cannot open the metadata backup ({exc.strerror}); give the file written by "
                         "`lotus-miner backup`") from None
    numbers: list[int] = []
    with fh:
        s = CborStream(fh, str(p))
        if s.read_exact(2, "the backup header 0x82 0x9f") != b"\x82\x9f":
            raise InputError(f"{p}: offset 0: expected 0x82 0x9f (a lotus-miner backup); "
                             "run `spdrill check-backup` on it")
        while s.peek_byte() != 0xFF:
            entry = s.array_header("an entry [key, value]")
            key, _ = s.byte_string("entry key", keep=256)
            s.byte_string("entry value", keep=0)
            if entry is None:
                s.expect_break("end of an indefinite [key, value] entry")
            if key is not None and key.startswith(b"/sectors/") and key[9:].isdigit():
                numbers.append(int(key[9:]))
    return Bitfield.from_iterable(numbers)
