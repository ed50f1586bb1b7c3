"""Benchmark RLE+ decoding: prints bits decoded per second for a run-heavy and a dense alternating field.

Run: .venv/bin/python benchmarks/bitfield.py [--bits N]. The target is >= 10 million bits/s.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from spdrill.lotus.bitfield import Bitfield, decode_json, decode_rle, encode_rle

TARGET_BITS_PER_S = 10_000_000


def _run_heavy(bits: int) -> Bitfield:
    """Long runs (1..5000 bits) of alternating value, like sector ranges of a big partition."""
    rng = random.Random(1)
    runs: list[int] = [0]
    total = 0
    while total < bits:
        length = min(rng.randint(1, 5000), bits - total)
        runs.append(length)
        total += length
    if len(runs) % 2:
        runs.append(1)
    return Bitfield(runs)


def _alternating(bits: int) -> Bitfield:
    """Every other bit set: the worst case, one run per bit."""
    return Bitfield([1] * bits)


def _best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    """Measure and print; exit 1 when a case decodes slower than the target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bits", type=int, default=10_000_000, help="bits per bitfield")
    args = parser.parse_args()
    ok = True
    for name, field in (("run-heavy", _run_heavy(args.bits)), ("alternating", _alternating(args.bits))):
        span = sum(field.runs())
        data = encode_rle(field)
        runs = field.runs()
        assert decode_rle(data) == field
        for what, fn in (
            ("decode RLE+ bytes", lambda d=data: decode_rle(d)),
            ("decode JSON runs", lambda r=runs: decode_json(r)),
            ("RLE+ bytes -> sorted list", lambda d=data: decode_rle(d).to_list()),
        ):
            seconds = _best_of(fn)
            rate = span / seconds
            print(
                f"{name:12s} {what:26s} {span:>12,d} bits {len(data):>10,d} B "
                f"{seconds * 1000:9.1f} ms {rate / 1e6:8.1f} Mbit/s"
            )
            if what.startswith("decode RLE+") and rate < TARGET_BITS_PER_S:
                ok = False
    print("target >= 10 Mbit/s decoding RLE+:", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
