"""Figures for the simulated daemon: time to first RPC answer, and RSS/latency serving a huge miner.

Run: .venv/bin/python benchmarks/sim_daemon.py [--sectors 1000000] [--starts 5]
Prints one line per figure; exits 1 when a target (1 s to answer, 500 MB RSS) is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from lotus_sim.bindir import ensure_bindir
from lotus_sim.clock import Clock
from lotus_sim.fixture import assign_deadlines
from lotus_sim.policy import proof_types
from lotus_sim.rpcclient import CallError, RpcClient, parse_api_info
from lotus_sim.world import Account, Head, World

RSS_LIMIT_MB = 500
ANSWER_LIMIT_S = 1.0


def _world(sectors: int) -> World:
    clock = Clock()
    height = clock.epoch_at(time.time() - 3600)
    accounts = [Account(f"f0{1001 + i}", f"f1{'a' * 39}", "secp256k1") for i in range(3)]
    return World(
        miner="f01000",
        owner=accounts[0],
        worker=accounts[1],
        controls=(accounts[2],),
        peer_id="12D3KooWBenchmark",
        sector_size=32 << 30,
        head=Head(height, clock.timestamp_of(height)),
        deadlines=assign_deadlines(sectors, 48, proof_types(32 << 30).partition_sectors),
    )


def _rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _count_sectors(client: RpcClient) -> tuple[int, int]:
    """Read the whole StateMinerSectors answer as it streams, counting sectors without parsing it."""
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "Filecoin.StateMinerSectors", "params": ["f01000", None, []]}
    ).encode()
    request = urllib.request.Request(
        client.url, data=body, headers={"Authorization": f"Bearer {client.token}"}
    )
    count, size, tail = 0, 0, b""
    marker = b'{"SectorNumber":'
    with urllib.request.urlopen(request, timeout=900) as response:
        while chunk := response.read(1 << 20):
            window = tail + chunk
            count += window.count(marker)
            tail = window[-(len(marker) - 1) :]
            size += len(chunk)
    return count, size


def _start(bindir: Path, env: dict[str, str], repo: Path) -> tuple[subprocess.Popen[bytes], RpcClient, float]:
    (repo / "api").unlink(missing_ok=True)
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(bindir / "lotus"), "daemon", "--api", "0", "--bootstrap=false"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not (repo / "api").exists():
        if proc.poll() is not None:
            raise SystemExit(f"daemon exited with {proc.returncode}")
        time.sleep(0.002)
    info = parse_api_info(f"{(repo / 'token').read_text()}:{(repo / 'api').read_text()}")
    client = RpcClient(info.url("v1"), info.token, timeout=600)
    while True:
        try:
            client.call("Version")
            return proc, client, time.monotonic() - started
        except CallError:
            time.sleep(0.002)


def main() -> int:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sectors", type=int, default=1_000_000)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        bindir = ensure_bindir(base / "cache")
        repo = base / "lotus"
        env = {**os.environ, "LOTUS_PATH": str(repo)}
        snapshot = base / "snapshot.car.zst"
        t0 = time.monotonic()
        _world(args.sectors).write_car(snapshot)
        print(
            f"snapshot with {args.sectors:,} sectors written in {time.monotonic() - t0:.2f} s "
            f"({snapshot.stat().st_size:,} bytes)"
        )
        subprocess.run(
            [str(bindir / "lotus"), "daemon", "--import-snapshot", str(snapshot), "--halt-after-import"],
            env=env,
            check=True,
            capture_output=True,
        )
        answers = []
        for _ in range(args.starts):
            proc, client, took = _start(bindir, env, repo)
            answers.append(took)
            proc.terminate()
            proc.wait(10)
        print(
            f"first RPC answer after start: median {statistics.median(answers):.3f} s, "
            f"max {max(answers):.3f} s over {args.starts} starts (target < {ANSWER_LIMIT_S} s)"
        )
        ok &= statistics.median(answers) < ANSWER_LIMIT_S
        proc, client, _ = _start(bindir, env, repo)
        try:
            t0 = time.monotonic()
            client.call("StateMinerInfo", "f01000", [])  # waits for the world to load
            took = time.monotonic() - t0
            print(f"world of {args.sectors:,} sectors loaded (first state call) in {took:.2f} s")
            t0 = time.monotonic()
            total = sum(len(client.call("StateMinerPartitions", "f01000", dl, [])) for dl in range(48))
            took = time.monotonic() - t0
            print(f"StateMinerPartitions over all 48 deadlines ({total:,} partitions): {took:.2f} s")
            t0 = time.monotonic()
            count, size = _count_sectors(client)
            took = time.monotonic() - t0
            print(f"StateMinerSectors (all {count:,} sectors, {size / 1e6:.0f} MB of JSON): {took:.2f} s")
            rss, peak = _rss_mb(proc.pid)
            print(f"daemon RSS after streaming every sector: {rss:.0f} MB")
            t0 = time.monotonic()
            client.call("StateMinerSectors", "f01000", [0, 2349], [])
            print(f"StateMinerSectors for one partition (2,349 sectors): {time.monotonic() - t0:.3f} s")
            rss, peak = _rss_mb(proc.pid)
            print(f"daemon RSS now {rss:.0f} MB, peak {peak:.0f} MB (target < {RSS_LIMIT_MB} MB)")
            ok &= peak < RSS_LIMIT_MB
        finally:
            proc.terminate()
            proc.wait(10)
    print(json.dumps({"ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
