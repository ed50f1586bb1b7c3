"""Chain policy the stand-in follows: registered proofs, partition sizes, deadlines and sector economics."""

from __future__ import annotations

import base64
import functools
import hashlib
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lotus_sim.address import uvarint

DEADLINES = 48  # WPoStPeriodDeadlines
PROVING_PERIOD = 2880  # WPoStProvingPeriod, epochs (24 h)
CHALLENGE_WINDOW = 60  # WPoStChallengeWindow
CHALLENGE_LOOKBACK = 20  # WPoStChallengeLookback
FAULT_DECLARATION_CUTOFF = 70
SECTOR_LIFETIME = 540 * 2880  # a typical commitment: 540 days

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
SIZE_NAMES = {"2KiB": 2 * KiB, "8MiB": 8 * MiB, "512MiB": 512 * MiB, "32GiB": 32 * GiB, "64GiB": 64 * GiB}

# Per sector size: (RegisteredSealProof StackedDrg*V1_1, RegisteredPoStProof StackedDrgWindow*V1_1,
# WindowPoStPartitionSectors), from go-state-types abi and builtin/miner policy.
_TABLE = {
    2 * KiB: (5, 10, 2),
    8 * MiB: (6, 11, 2),
    512 * MiB: (7, 12, 2),
    32 * GiB: (8, 13, 2349),
    64 * GiB: (9, 14, 2300),
}

# attoFIL of a 32 GiB sector without deals: round figures of the right order, scaled by size.
_PLEDGE_32G = 180_000_000_000_000_000
_DAY_REWARD_32G = 900_000_000_000_000
STORAGE_PLEDGE_DAYS = 20


@dataclass(frozen=True)
class ProofTypes:
    """Registered proof numbers and partition size of one sector size."""

    sector_size: int
    seal_proof: int
    window_post_proof: int
    partition_sectors: int


def parse_size(text: str) -> int:
    """Sector size from ``2KiB`` / ``32GiB`` or a byte count; ValueError names the accepted values."""
    if text in SIZE_NAMES:
        return SIZE_NAMES[text]
    if text.isdigit() and int(text) in _TABLE:
        return int(text)
    raise ValueError(f"sector size {text!r}: expected one of {', '.join(SIZE_NAMES)} or their byte counts")


def size_name(size: int) -> str:
    """``32GiB`` for 34359738368."""
    return next(name for name, value in SIZE_NAMES.items() if value == size)


@functools.cache
def proof_types(sector_size: int) -> ProofTypes:
    """Proof numbers for ``sector_size`` bytes; ValueError for sizes Filecoin does not have."""
    if sector_size not in _TABLE:
        raise ValueError(f"sector size {sector_size}: expected one of {sorted(_TABLE)}")
    seal, post, part = _TABLE[sector_size]
    return ProofTypes(sector_size, seal, post, part)


@dataclass(frozen=True)
class DeadlineInfo:
    """What StateMinerProvingDeadline reports at one epoch."""

    current_epoch: int
    period_start: int
    index: int
    open: int
    close: int
    challenge: int
    fault_cutoff: int
    wpost_period_deadlines: int = DEADLINES
    wpost_proving_period: int = PROVING_PERIOD
    wpost_challenge_window: int = CHALLENGE_WINDOW
    wpost_challenge_lookback: int = CHALLENGE_LOOKBACK
    fault_declaration_cutoff: int = FAULT_DECLARATION_CUTOFF


def deadline_info(epoch: int, period_offset: int) -> DeadlineInfo:
    """Current deadline at ``epoch`` for a miner whose proving periods start at ``offset mod 2880``."""
    period_start = epoch - ((epoch - period_offset) % PROVING_PERIOD)
    index = (epoch - period_start) // CHALLENGE_WINDOW
    opens = period_start + index * CHALLENGE_WINDOW
    return DeadlineInfo(
        current_epoch=epoch,
        period_start=period_start,
        index=index,
        open=opens,
        close=opens + CHALLENGE_WINDOW,
        challenge=opens - CHALLENGE_LOOKBACK,
        fault_cutoff=opens - FAULT_DECLARATION_CUTOFF,
    )


@dataclass(frozen=True)
class SectorInfo:
    """A sector's on-chain info (SectorOnChainInfo); token amounts are attoFIL integers."""

    number: int
    seal_proof: int
    sealed_cid: str
    activation: int
    expiration: int
    deal_weight: int
    verified_deal_weight: int
    initial_pledge: int
    expected_day_reward: int
    expected_storage_pledge: int
    power_base_epoch: int
    replaced_day_reward: int
    flags: int
    daily_fee: int
    raw_power: int
    qa_power: int


_COMMR_PREFIX = b"\x01" + uvarint(0xF102) + uvarint(0xB401) + b"\x20"
_M64 = (1 << 64) - 1
_HASH_KEY = struct.Struct("<QQQ")
# The 40 bytes of a CommR CID are exactly 64 base32 characters: 12 fixed by the prefix, then one holding the
# prefix's last 4 bits (zero) and the digest's first bit, then 51 of digest only. Drawing those characters
# straight from a hash (masked to 5 bits each) gives a valid CID without a base32 encoder, which in pure
# Python cost more than everything else about a sector. Character 62 keeps its bits 2 and 1 clear: they are
# the top two bits of the digest's last byte, clear in every Poseidon field element.
_CID_HEAD = "b" + base64.b32encode(_COMMR_PREFIX + bytes(32)).decode("ascii").lower()[:12]
_CID_MASK = int.from_bytes(bytes([0x01] + [0x1F] * 49 + [0x19, 0x1F]), "little")
_B32 = bytes(b"abcdefghijklmnopqrstuvwxyz234567"[i & 31] for i in range(256))


def _hash(seed: int, miner_id: int, number: int) -> tuple[str, int]:
    # One blake2b per sector: 52 bytes become the CID's free characters, 8 more the sector's other facts.
    d = hashlib.blake2b(_HASH_KEY.pack(seed & _M64, miner_id & _M64, number), digest_size=60).digest()
    chars = (int.from_bytes(d[:52], "little") & _CID_MASK).to_bytes(52, "little").translate(_B32)
    return _CID_HEAD + chars.decode("ascii"), int.from_bytes(d[52:], "little")


def sealed_cid(seed: int, miner_id: int, number: int) -> str:
    """CommR as a CIDv1 string: codec fil-commitment-sealed, multihash poseidon-bls12_381-a2-fc1, 32 bytes."""
    return _hash(seed, miner_id, number)[0]


@functools.cache
def _amounts(sector_size: int) -> tuple[int, int]:
    scale = sector_size / (32 * GiB)
    return int(_PLEDGE_32G * scale), int(_DAY_REWARD_32G * scale)


def sector_rows(numbers: Iterable[int], seed: int, sector_size: int, head_height: int,
                miner_id: int = 0) -> Iterator[tuple[int, str, int, int, int, int]]:
    """(number, sealed CID, activation, expiration, initial pledge, expected day reward) of each sector.

    The facts that vary per sector, as tuples from one loop: the stand-in's cache of StateMinerSectors
    encodes a million of them, where a SectorInfo and a few calls for each would double the cost.
    """
    blake2b, pack, from_bytes = hashlib.blake2b, _HASH_KEY.pack, int.from_bytes
    seed, miner_id = seed & _M64, miner_id & _M64
    pledge, reward = _amounts(sector_size)
    # Older sector numbers were activated earlier; all activations lie before the snapshot head.
    oldest, latest = head_height - 200 * PROVING_PERIOD, 150 * PROVING_PERIOD
    for n in numbers:
        d = blake2b(pack(seed, miner_id, n), digest_size=60).digest()
        cid = _CID_HEAD + (from_bytes(d[:52], "little") & _CID_MASK).to_bytes(52, "little").translate(_B32).decode()
        h = from_bytes(d[52:], "little")
        activation = max(0, oldest + min(n // 10, latest))
        jitter = 950 + h % 101  # +/- 5 %
        expiration = activation + SECTOR_LIFETIME + (h >> 8) % PROVING_PERIOD
        yield n, cid, activation, expiration, pledge * jitter // 1000, reward * jitter // 1000


def sector_values(number: int, seed: int, sector_size: int, head_height: int,
                  miner_id: int = 0) -> tuple[str, int, int, int, int]:
    """(sealed CID, activation, expiration, initial pledge, expected day reward) of sector ``number``."""
    return next(sector_rows((number,), seed, sector_size, head_height, miner_id))[1:]


def sector_info(number: int, seed: int, sector_size: int, head_height: int, miner_id: int = 0) -> SectorInfo:
    """Deterministic on-chain facts of sector ``number``, computed on demand."""
    cid, activation, expiration, pledge, day_reward = sector_values(number, seed, sector_size, head_height,
                                                                    miner_id)
    return SectorInfo(
        number=number,
        seal_proof=proof_types(sector_size).seal_proof,
        sealed_cid=cid,
        activation=activation,
        expiration=expiration,
        deal_weight=0,
        verified_deal_weight=0,
        initial_pledge=pledge,
        expected_day_reward=day_reward,
        expected_storage_pledge=day_reward * STORAGE_PLEDGE_DAYS,
        power_base_epoch=activation,
        replaced_day_reward=0,
        flags=0,
        daily_fee=0,
        raw_power=sector_size,
        qa_power=sector_size,
    )
