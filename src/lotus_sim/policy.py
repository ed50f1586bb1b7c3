"""Chain policy the stand-in follows: registered proofs, partition sizes, deadlines and sector economics."""

from __future__ import annotations

import base64
import functools
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
_STORAGE_PLEDGE_DAYS = 20


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


def _mix(seed: int, number: int) -> int:
    # splitmix64: a cheap, well-spread per-sector hash, so a million sectors need no stored facts.
    z = (seed * 0x9E3779B97F4A7C15 + number + 1) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


_COMMR_PREFIX = b"\x01" + uvarint(0xF102) + uvarint(0xB401) + b"\x20"


def sealed_cid(seed: int, miner_id: int, number: int) -> str:
    """CommR as a CIDv1 string: codec fil-commitment-sealed, multihash poseidon-bls12_381-a2-fc1."""
    base = _mix(seed ^ (miner_id << 20), number)
    words = [_mix(base, k) for k in range(4)]
    digest = b"".join(w.to_bytes(8, "little") for w in words)
    raw = _COMMR_PREFIX + digest[:31] + bytes([digest[31] & 0x3F])  # a field element: top two bits clear
    return "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")


def sector_info(number: int, seed: int, sector_size: int, head_height: int, miner_id: int = 0) -> SectorInfo:
    """Deterministic on-chain facts of sector ``number``, computed on demand."""
    h = _mix(seed, number)
    # Older sector numbers were activated earlier; all activations lie before the snapshot head.
    activation = max(0, head_height - 200 * PROVING_PERIOD + min(number // 10, 150 * PROVING_PERIOD))
    jitter = 950 + h % 101  # +/- 5 %
    scale = sector_size / (32 * GiB)
    day_reward = int(_DAY_REWARD_32G * scale) * jitter // 1000
    return SectorInfo(
        number=number,
        seal_proof=proof_types(sector_size).seal_proof,
        sealed_cid=sealed_cid(seed, miner_id, number),
        activation=activation,
        expiration=activation + SECTOR_LIFETIME + (h >> 8) % PROVING_PERIOD,
        deal_weight=0,
        verified_deal_weight=0,
        initial_pledge=int(_PLEDGE_32G * scale) * jitter // 1000,
        expected_day_reward=day_reward,
        expected_storage_pledge=day_reward * _STORAGE_PLEDGE_DAYS,
        power_base_epoch=activation,
        replaced_day_reward=0,
        flags=0,
        daily_fee=0,
        raw_power=sector_size,
        qa_power=sector_size,
    )
