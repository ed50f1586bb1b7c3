"""Benchmark reconciliation of a 1,000,000-sector miner served by the stand-in, and bitfield decoding.

Run: .venv/bin/python benchmarks/reconcile.py [--fixture DIR] [--sectors N] [--server-baseline] [--cold-cache]

Without --fixture it writes one with `lotus-sim make-fixture` (1M sectors: about 5 minutes, 2M small files);
give --fixture to reuse one. It starts the stand-in's `lotus daemon` and `lotus-miner` on a workspace copy of
the repos, then times `spdrill.reconcile_probe.reconcile` (the verdict of CheckProvable handed in, as the
bring-up does) and prints wall time, the CPU time of spdrill and of the stand-in's processes (the split),
and the peak RSS of each. Targets: < 5 s and < 1 GB RSS; bitfield decoding >= 10 million bits/s.
The stand-in encodes StateMinerSectors once per world, at `lotus daemon --import-snapshot` (its time is
printed as the import time); --cold-cache deletes that file before the daemon starts, so the daemon encodes
in the background while reconciliation runs (the worst case). --server-baseline also times the stand-in
alone streaming the same StateMinerSectors answer to a client that discards it.
Exit 1 when a target that spdrill controls (client CPU, RSS, bitfield rate) is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from spdrill.lotus import ApiInfo, Bitfield, FullNodeClient, MinerClient
from spdrill.lotus.bitfield import decode_json, decode_rle, encode_rle
from spdrill.reconcile_probe import reconcile

LOTUS_SIM = str(Path(sys.executable).with_name("lotus-sim"))
TARGET_SECONDS, TARGET_RSS_MB, TARGET_BITS_PER_S = 5.0, 1024.0, 10_000_000


def _api(repo: Path, timeout: float = 120) -> ApiInfo:
    deadline = time.monotonic() + timeout
    while not (repo / "api").exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{repo}: no api file after {timeout:.0f}s")
        time.sleep(0.1)
    return ApiInfo.parse(f"{(repo / 'token').read_text().strip()}:{(repo / 'api').read_text().strip()}")


def _fixture(args: argparse.Namespace, scratch: Path) -> Path:
    if args.fixture:
        return Path(args.fixture)
    target = scratch / "fixture"
    print(f"writing a {args.sectors}-sector fixture (lotus-sim make-fixture)...", flush=True)
    start = time.perf_counter()
    subprocess.run([LOTUS_SIM, "make-fixture", str(target), "--sectors", str(args.sectors),
                    "--deadlines", "48", "--sector-size", "32GiB"], check=True, stdout=subprocess.DEVNULL)
    print(f"  fixture written in {time.perf_counter() - start:.0f}s")
    return target


def _proc_figures(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = Path(f"/proc/{pid}/status").read_text()
    hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return cpu, int(hwm.split()[1]) / 1024


def _start(fixture: Path, work: Path,
           cold: bool) -> tuple[list[subprocess.Popen[bytes]], FullNodeClient, MinerClient]:
    info = json.loads((fixture / "fixture.json").read_text())
    found = subprocess.run([LOTUS_SIM, "bindir"], check=True, capture_output=True, text=True)
    bindir = Path(found.stdout.strip())
    for repo in ("lotus", "lotus-miner"):
        shutil.copytree(fixture / "restore-point" / repo, work / repo)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOTUS_", "FULLNODE_", "MINER_"))}
    env.update(LOTUS_PATH=str(work / "lotus"), LOTUS_MINER_PATH=str(work / "lotus-miner"))
    snapshot = fixture / info["snapshot"]["path"]
    start = time.perf_counter()
    subprocess.run([str(bindir / "lotus"), "daemon", "--import-snapshot", str(snapshot),
                    "--halt-after-import"], env=env, check=True, capture_output=True)
    print(f"import (the stand-in encodes StateMinerSectors here): {time.perf_counter() - start:.1f}s")
    if cold:
        shutil.rmtree(work / "lotus" / "datastore" / "sim-sectors", ignore_errors=True)
    procs = [subprocess.Popen([str(bindir / "lotus"), "daemon", "--api", "0"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    _api(work / "lotus")
    procs.append(subprocess.Popen([str(bindir / "lotus-miner"), "run", "--miner-api", "0", "--nosync"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    full = FullNodeClient(_api(work / "lotus"), timeout=600)
    return procs, full, MinerClient(_api(work / "lotus-miner"), timeout=600)


def _server_baseline(full: FullNodeClient, actor: str, runs: list[int]) -> tuple[float, int]:
    """Seconds and bytes for the stand-in to stream StateMinerSectors to a client that discards it."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "Filecoin.StateMinerSectors",
                       "params": [actor, runs, []]})
    start, size = time.perf_counter(), 0
    with full.rpc._client.stream("POST", full.rpc.url, content=body) as response:
        for chunk in response.iter_bytes(1 << 20):
            size += len(chunk)
    return time.perf_counter() - start, size


def _bits_per_second(field: Bitfield) -> float:
    data, span = encode_rle(field), sum(field.runs())
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        decode_rle(data)
        best = min(best, time.perf_counter() - start)
    return span / best


def _bitfields(sectors: int) -> dict[str, float]:
    rng = random.Random(6)
    # A miner's sector numbers with 1% holes (terminated or never committed), a partition-sized slice,
    # and the worst case: every other sector.
    holey = Bitfield.from_iterable(n for n in range(sectors) if rng.random() > 0.01)
    alternating = Bitfield([1] * sectors)
    start = time.perf_counter()
    decode_json(holey.runs())
    json_rate = sum(holey.runs()) / (time.perf_counter() - start)
    return {"RLE+ 1% holes": _bits_per_second(holey),
            "RLE+ alternating (worst)": _bits_per_second(alternating), "JSON runs 1% holes": json_rate}


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def main() -> int:
    """Measure, print the figures, and exit 1 when a target spdrill controls is missed."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixture", help="an existing `lotus-sim make-fixture` folder to reuse")
    parser.add_argument("--sectors", type=int, default=1_000_000, help="sectors of a fixture written here")
    parser.add_argument("--server-baseline", action="store_true", help="also time the stand-in alone")
    parser.add_argument("--cold-cache", action="store_true",
                        help="start the daemon without its encoded sector file (it encodes meanwhile)")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="spdrill-bench-reconcile-") as tmp:
        scratch = Path(tmp)
        fixture = _fixture(args, scratch)
        actor = json.loads((fixture / "fixture.json").read_text())["miner"]
        procs, full, miner = _start(fixture, scratch / "work", args.cold_cache)
        try:
            full.state_miner_proving_deadline(actor)  # waits for the daemon to load its chain state
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            before = [_proc_figures(p.pid)[0] for p in procs]
            cpu0, start = time.process_time(), time.perf_counter()
            report = reconcile(full, miner, actor, provable_bad={})
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            stand_in = [_proc_figures(p.pid) for p in procs]
            print(f"reconcile: {report.summary()}")
            print(f"  wall {wall:.2f}s (target < {TARGET_SECONDS:.0f}s: {_verdict(wall < TARGET_SECONDS)})")
            print(f"  client CPU {cpu:.2f}s (target < {TARGET_SECONDS:.0f}s: "
                  f"{_verdict(cpu < TARGET_SECONDS)}); {report.on_chain / cpu:,.0f} sectors per CPU-second")
            print(f"  peak RSS {rss:.0f} MB (before: {rss0:.0f} MB; target < {TARGET_RSS_MB:.0f} MB: "
                  f"{_verdict(rss < TARGET_RSS_MB)})")
            for name, (cpu1, peak), cpu_start in zip(("lotus daemon", "lotus-miner"), stand_in, before, strict=True):
                print(f"  stand-in {name}: CPU {cpu1 - cpu_start:.2f}s during reconcile, peak RSS {peak:.0f} MB "
                      f"(target < {TARGET_RSS_MB:.0f} MB: {_verdict(peak < TARGET_RSS_MB)})")
            print(f"  machine load (1, 5, 15 min): {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
            ok &= cpu < TARGET_SECONDS and rss < TARGET_RSS_MB
            if args.server_baseline:
                runs = [0, report.on_chain] if report.on_chain else [0]
                seconds, size = _server_baseline(full, actor, runs)
                print(f"  stand-in alone: StateMinerSectors streamed {size / 1e6:.0f} MB in {seconds:.1f}s "
                      f"({report.on_chain / seconds:,.0f} sectors/s)")
        finally:
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(30)
    for name, rate in _bitfields(args.sectors).items():
        ok &= rate >= TARGET_BITS_PER_S
        verdict = _verdict(rate >= TARGET_BITS_PER_S)
        print(f"bitfield decode, {name}: {rate / 1e6:,.1f} million bits/s ({verdict})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
