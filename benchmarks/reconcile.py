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
Exit codes: 0 every target met; 1 a target missed (wall, client CPU, an RSS, a bitfield rate); 2 bad input
(--fixture not a `lotus-sim make-fixture` folder, --sectors below 1); 3 cannot run (the stand-in does not
start or fails a call).
"""

from __future__ import annotations

import argparse
import atexit
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

from spdrill.errors import DrillError
from spdrill.firewall import ChainFirewall
from spdrill.lotus import ApiInfo, Bitfield, FullNodeClient, MinerClient
from spdrill.lotus.bitfield import decode_json, decode_rle, encode_rle
from spdrill.reconcile_probe import reconcile

LOTUS_SIM = str(Path(sys.executable).with_name("lotus-sim"))
TARGET_SECONDS, TARGET_RSS_MB, TARGET_BITS_PER_S = 5.0, 1024.0, 10_000_000
EXIT_MISSED, EXIT_INPUT, EXIT_CANNOT_RUN = 1, 2, 3
_PROG = "benchmarks/reconcile.py"


class Stop(Exception):
    """Ends the benchmark with a message and an exit code (2 input, 3 cannot run)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _check_fixture(fixture: Path) -> tuple[str, Path]:
    """The miner actor and the snapshot of a make-fixture folder; Stop(2) names what is wrong."""
    info_file = fixture / "fixture.json"
    try:
        info = json.loads(info_file.read_text())
        actor, snapshot = info["miner"], fixture / info["snapshot"]["path"]
    except OSError as exc:
        raise Stop(EXIT_INPUT, f"--fixture {fixture}: cannot read {info_file} ({exc.strerror}); expected a folder "
                   "written by `lotus-sim make-fixture`, or leave --fixture out to write one") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise Stop(EXIT_INPUT, f"--fixture {fixture}: {info_file} has no valid miner or snapshot.path ({exc!r}); "
                   "regenerate it with `lotus-sim make-fixture`") from None
    missing = [p for p in (snapshot, fixture / "restore-point" / "lotus", fixture / "restore-point" / "lotus-miner")
               if not p.exists()]
    if not isinstance(actor, str) or missing:
        raise Stop(EXIT_INPUT, f"--fixture {fixture}: expected the miner actor and {', '.join(map(str, missing))}"
                   "; regenerate the fixture with `lotus-sim make-fixture`")
    return actor, snapshot


def _run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    except (OSError, subprocess.CalledProcessError) as exc:
        tail = (getattr(exc, "stderr", None) or str(exc)).strip().splitlines()[-1:]
        raise Stop(EXIT_CANNOT_RUN, f"`{' '.join(cmd[:3])}` failed: {' '.join(tail)}") from None


def _api(repo: Path, proc: subprocess.Popen[bytes], timeout: float = 120) -> ApiInfo:
    deadline = time.monotonic() + timeout
    while not (repo / "api").exists():
        if proc.poll() is not None:
            raise Stop(EXIT_CANNOT_RUN, f"the stand-in for {repo.name} exited ({proc.returncode}) before it "
                       "wrote its api file; run it by hand to see why")
        if time.monotonic() > deadline:
            raise Stop(EXIT_CANNOT_RUN, f"{repo}: no api file after {timeout:.0f}s")
        time.sleep(0.1)
    return ApiInfo.parse(f"{(repo / 'token').read_text().strip()}:{(repo / 'api').read_text().strip()}")


def _fixture(args: argparse.Namespace, scratch: Path) -> Path:
    if args.fixture:
        return Path(args.fixture)
    target = scratch / "fixture"
    print(f"writing a {args.sectors}-sector fixture (lotus-sim make-fixture)...", flush=True)
    start = time.perf_counter()
    _run([LOTUS_SIM, "make-fixture", str(target), "--sectors", str(args.sectors), "--deadlines", "48",
          "--sector-size", "32GiB"])
    print(f"  fixture written in {time.perf_counter() - start:.0f}s")
    return target


def _proc_figures(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = Path(f"/proc/{pid}/status").read_text()
    hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return cpu, int(hwm.split()[1]) / 1024


def _start(fixture: Path, snapshot: Path, work: Path, cold: bool,
           procs: list[subprocess.Popen[bytes]]) -> tuple[FullNodeClient, MinerClient]:
    """Start the daemon and miner (appended to ``procs`` at once, so that they are stopped whatever fails)."""
    bindir = Path(_run([LOTUS_SIM, "bindir"]).stdout.strip())
    for repo in ("lotus", "lotus-miner"):
        shutil.copytree(fixture / "restore-point" / repo, work / repo)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOTUS_", "FULLNODE_", "MINER_"))}
    env.update(LOTUS_PATH=str(work / "lotus"), LOTUS_MINER_PATH=str(work / "lotus-miner"))
    start = time.perf_counter()
    _run([str(bindir / "lotus"), "daemon", "--import-snapshot", str(snapshot), "--halt-after-import"], env=env)
    print(f"import (the stand-in encodes StateMinerSectors here): {time.perf_counter() - start:.1f}s")
    if cold:
        shutil.rmtree(work / "lotus" / "datastore" / "sim-sectors", ignore_errors=True)
    procs.append(subprocess.Popen([str(bindir / "lotus"), "daemon", "--api", "0"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    daemon = _api(work / "lotus", procs[0])
    full = FullNodeClient(daemon, timeout=600)
    # lotus-miner starts only if its full node has the worker key (PreflightChecks,
    # node/modules/storageminer.go:187-215): it reaches the daemon through the chain firewall, as in a drill.
    actor = json.loads((fixture / "fixture.json").read_text())["miner"]
    worker_key = str(full.rpc.call("StateAccountKey", full.state_miner_info(actor).worker, []))
    firewall = ChainFirewall(daemon.http_url("v1"), daemon.token or "", [worker_key])
    firewall.start()
    atexit.register(firewall.stop)
    env["FULLNODE_API_INFO"] = firewall.api_info("127.0.0.1")
    procs.append(subprocess.Popen([str(bindir / "lotus-miner"), "run", "--miner-api", "0", "--nosync"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return full, MinerClient(_api(work / "lotus-miner", procs[1]), timeout=600)


def _server_baseline(full: FullNodeClient, actor: str, runs: list[int]) -> tuple[float, int]:
    """Seconds and bytes for the stand-in to stream StateMinerSectors to a client that discards it."""
    start, size = time.perf_counter(), 0
    with full.rpc.stream("StateMinerSectors", actor, runs, []) as chunks:
        for chunk in chunks:
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


def _measure(args: argparse.Namespace, scratch: Path) -> bool:
    """Run reconciliation once against the stand-in and print the figures; True when every target is met."""
    target = args.target_seconds
    fixture = _fixture(args, scratch)
    actor, snapshot = _check_fixture(fixture)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        full, miner = _start(fixture, snapshot, scratch / "work", args.cold_cache, procs)
        full.state_miner_proving_deadline(actor)  # waits for the daemon to load its chain state
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        before = [_proc_figures(p.pid)[0] for p in procs]
        cpu0, start = time.process_time(), time.perf_counter()
        report = reconcile(full, miner, actor, provable_bad={})
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        stand_in = [_proc_figures(p.pid) for p in procs]
        print(f"reconcile: {report.summary()}")
        print(f"  wall {wall:.2f}s (target < {target:.0f}s: {_verdict(wall < target)})")
        print(f"  client CPU {cpu:.2f}s (target < {target:.0f}s: "
              f"{_verdict(cpu < target)}); {report.on_chain / max(cpu, 1e-9):,.0f} sectors per CPU-second")
        print(f"  peak RSS {rss:.0f} MB (before: {rss0:.0f} MB; target < {TARGET_RSS_MB:.0f} MB: "
              f"{_verdict(rss < TARGET_RSS_MB)})")
        ok = wall < target and cpu < target and rss < TARGET_RSS_MB
        for name, (cpu1, peak), cpu_start in zip(("lotus daemon", "lotus-miner"), stand_in, before, strict=True):
            print(f"  stand-in {name}: CPU {cpu1 - cpu_start:.2f}s during reconcile, peak RSS {peak:.0f} MB "
                  f"(target < {TARGET_RSS_MB:.0f} MB: {_verdict(peak < TARGET_RSS_MB)})")
            ok &= peak < TARGET_RSS_MB
        print(f"  machine load (1, 5, 15 min): {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
        if args.server_baseline:
            runs = [0, report.on_chain] if report.on_chain else [0]
            seconds, size = _server_baseline(full, actor, runs)
            print(f"  stand-in alone: StateMinerSectors streamed {size / 1e6:.0f} MB in {seconds:.1f}s "
                  f"({report.on_chain / seconds:,.0f} sectors/s)")
    except DrillError as exc:
        raise Stop(EXIT_CANNOT_RUN, f"reconciliation against the stand-in failed: {exc}") from None
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    return ok


def main() -> int:
    """Measure, print the figures; exit 1 when a target is missed, 2 on bad input, 3 when it cannot run."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixture", help="an existing `lotus-sim make-fixture` folder to reuse")
    parser.add_argument("--sectors", type=int, default=1_000_000, help="sectors of a fixture written here")
    parser.add_argument("--server-baseline", action="store_true", help="also time the stand-in alone")
    parser.add_argument("--target-seconds", type=float, default=TARGET_SECONDS,
                        help=f"wall and client-CPU target (default {TARGET_SECONDS:.0f}, as issue #6 sets)")
    parser.add_argument("--cold-cache", action="store_true",
                        help="start the daemon without its encoded sector file (it encodes meanwhile)")
    args = parser.parse_args()
    if args.target_seconds < 0:
        print(f"{_PROG}: --target-seconds {args.target_seconds}: expected 0 or more seconds", file=sys.stderr)
        return EXIT_INPUT
    if args.sectors < 1:
        print(f"{_PROG}: --sectors {args.sectors}: expected a count of 1 or more", file=sys.stderr)
        return EXIT_INPUT
    try:
        with tempfile.TemporaryDirectory(prefix="spdrill-bench-reconcile-") as tmp:
            ok = _measure(args, Path(tmp))
    except Stop as stop:
        print(f"{_PROG}: {stop}", file=sys.stderr)
        return stop.code
    for name, rate in _bitfields(args.sectors).items():
        ok &= rate >= TARGET_BITS_PER_S
        verdict = _verdict(rate >= TARGET_BITS_PER_S)
        print(f"bitfield decode, {name}: {rate / 1e6:,.1f} million bits/s ({verdict})")
    return 0 if ok else EXIT_MISSED


if __name__ == "__main__":
    raise SystemExit(main())
