"""Benchmark the fixture generator and the world model: seconds for a 100,000-sector fixture, memory at 1M sectors.

Run: .venv/bin/python benchmarks/sim_fixture.py [--sectors N] [--dir PARENT] [--world-sectors M].
Targets (issue 2): a 100,000-sector fixture in under 20 s on a 2-core machine; the world of a
1,000,000-sector miner small enough for a daemon under 500 MB RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

from lotus_sim.fixture import FixtureSpec, make_fixture
from lotus_sim.world import World

TARGET_FIXTURE_S = 20.0


def bench_fixture(parent: Path, sectors: int) -> float:
    """Seconds (wall) to write a ``sectors``-sector 2KiB fixture under ``parent``; prints the split."""
    root = Path(tempfile.mkdtemp(dir=parent)) / "fx"
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        info = make_fixture(root, FixtureSpec(sectors=sectors, deadlines=48, seed=1, now=1_764_000_000))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        snap = info["snapshot"]
        assert isinstance(snap, dict)
        files = sum(len(names) for _, _, names in os.walk(root))
        ratio = wall / TARGET_FIXTURE_S * 100_000 / sectors
        print(f"make-fixture {sectors:,} sectors: {wall:.2f} s wall, {cpu:.2f} s CPU, {files:,} files "
              f"(target < {TARGET_FIXTURE_S:.0f} s per 100,000: ratio {ratio:.2f})")  # fmt: skip
        start = time.perf_counter()
        world = World.from_car(root / str(snap["path"]))
        print(f"read its snapshot back: {time.perf_counter() - start:.3f} s, {world.sector_count():,} sectors")
        return wall
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def bench_world(sectors: int) -> None:
    """Decode a ``sectors``-sector 32GiB world from its state block; prints time and memory."""
    from lotus_sim.fixture import assign_deadlines
    from lotus_sim.world import Account, Head

    acc = Account("f01001", "f3x", "bls")
    world = World("f01000", acc, acc, (), "12D3KooWx", 32 << 30, Head(5_000_000, 0),
                  assign_deadlines(sectors, 48, 2349), seed=1)  # fmt: skip
    state = world.to_state()
    del world
    tracemalloc.start()
    start = time.perf_counter()
    back = World.from_state(state, Head(5_000_000, 0))
    back.locate(sectors - 1)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    start = time.perf_counter()
    sample = [back.sector_info(n) for n in range(0, sectors, max(1, sectors // 10_000))]
    per_info = (time.perf_counter() - start) / len(sample)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"world of {sectors:,} sectors: decoded + indexed in {elapsed:.2f} s, {peak / 2**20:.1f} MiB traced"
          f" peak, process max RSS {rss:.0f} MiB; sector_info {per_info * 1e6:.1f} us each")  # fmt: skip


def main() -> None:
    """Parse arguments and run both benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sectors", type=int, default=100_000)
    parser.add_argument("--world-sectors", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}, folder: {args.dir}")
    bench_world(args.world_sectors)
    bench_fixture(args.dir, args.sectors)


if __name__ == "__main__":
    main()
