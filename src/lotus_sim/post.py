"""Simulated WindowPoSt proving of one partition: read every sealed file, skip unreadable ones, take time."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterable
from pathlib import Path

from lotus_sim.sectorstore import check_sector

__all__ = ["PROOF_BYTES", "check_sectors", "proof_for", "prove_partition"]

PROOF_BYTES = 192  # a Groth16 proof's size, as in real WindowPoSt proofs


def check_sectors(paths: list[Path], miner_id: int, numbers: Iterable[int]) -> dict[int, str]:
    """The reason each unreadable sector cannot be proven (sectors that are fine are absent)."""
    bad = {}
    for n in numbers:
        reason = check_sector(paths, miner_id, n)
        if reason is not None:
            bad[n] = reason
    return bad


def proof_for(miner_id: int, numbers: list[int], skipped: list[int], randomness: str,
              vanilla: bytes = b"") -> str:
    """Base64 proof bytes of one partition: a function of what was proven and the vanilla proofs used."""
    seed = f"post:{miner_id}:{randomness}:{numbers[:1]}:{skipped}".encode() + hashlib.blake2b(vanilla).digest()
    return base64.b64encode((hashlib.blake2b(seed, digest_size=64).digest() * 3)[:PROOF_BYTES]).decode()


def prove_partition(
    paths: list[Path], miner_id: int, numbers: list[int], seconds: float, randomness: str
) -> tuple[list[int], str]:
    """Prove one partition: (skipped sector numbers, base64 proof bytes). Takes `seconds` like a GPU would."""
    started = time.monotonic()
    skipped = sorted(check_sectors(paths, miner_id, numbers))
    remaining = seconds - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
    seed = f"post:{miner_id}:{randomness}:{numbers[:1]}:{skipped}".encode()
    proof = (hashlib.blake2b(seed, digest_size=64).digest() * 3)[:PROOF_BYTES]
    return skipped, base64.b64encode(proof).decode()
