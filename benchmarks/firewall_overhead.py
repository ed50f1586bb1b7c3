"""Latency the chain firewall adds per JSON-RPC call, and its share of a drill's RTO.

Upstream is the project's Lotus stand-in daemon (`lotus daemon` from lotus_sim), started on a small
imported snapshot. Each round calls Filecoin.ChainHead once directly and once through the firewall,
over HTTP POST (keep-alive) and over one WebSocket each, alternating so drift hits both alike.
Share of RTO = calls per drill x added latency / RTO, with calls made one after another (an upper
bound: lotus-miner overlaps many of them).

Usage: .venv/bin/python benchmarks/firewall_overhead.py [--calls 2000] [--calls-per-drill 2000] [--rto 900]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from lotus_sim.bindir import ensure_bindir
from lotus_sim.clock import Clock
from lotus_sim.fixture import assign_deadlines
from lotus_sim.policy import proof_types
from lotus_sim.rpcclient import parse_api_info
from lotus_sim.world import Account, Head, World
from spdrill.firewall import ChainFirewall

HEAD = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "Filecoin.ChainHead", "params": []})


def start_daemon(base: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """Import a small snapshot and start the stand-in daemon; returns it, its base URL and token."""
    clock = Clock()
    height = clock.epoch_at(time.time() - 600)
    accounts = [Account(f"f0{1001 + i}", f"f1{'a' * 39}", "secp256k1") for i in range(3)]
    world = World(
        miner="f01000",
        owner=accounts[0],
        worker=accounts[1],
        controls=(accounts[2],),
        peer_id="12D3KooWFirewallBench",
        sector_size=32 << 30,
        head=Head(height, clock.timestamp_of(height)),
        deadlines=assign_deadlines(64, 48, proof_types(32 << 30).partition_sectors),
    )
    bindir = ensure_bindir(base / "cache")
    repo = base / "lotus"
    env = {**os.environ, "LOTUS_PATH": str(repo)}
    world.write_car(base / "snapshot.car.zst")
    lotus = str(bindir / "lotus")
    subprocess.run(
        [lotus, "daemon", "--import-snapshot", str(base / "snapshot.car.zst"), "--halt-after-import"],
        env=env,
        check=True,
        capture_output=True,
    )
    (repo / "api").unlink(missing_ok=True)
    proc = subprocess.Popen(
        [lotus, "daemon", "--api", "0", "--bootstrap=false"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (repo / "api").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the stand-in daemon did not start")
        time.sleep(0.01)
    info = parse_api_info(f"{(repo / 'token').read_text()}:{(repo / 'api').read_text()}")
    return proc, info.url("v1").removesuffix("/rpc/v1"), info.token


async def timed(call: Callable[[], Awaitable[None]]) -> float:
    t0 = time.perf_counter()
    await call()
    return (time.perf_counter() - t0) * 1000


async def measure(
    direct: tuple[str, str], proxied: tuple[str, str], calls: int
) -> dict[str, tuple[list[float], list[float]]]:
    """ms per call for (direct, through the firewall), per transport."""
    out: dict[str, tuple[list[float], list[float]]] = {"HTTP POST": ([], []), "WebSocket": ([], [])}
    async with aiohttp.ClientSession() as session:

        async def post(url: str, token: str) -> None:
            async with session.post(url + "/rpc/v1", data=HEAD, headers={"Authorization": f"Bearer {token}"}) as r:
                assert "result" in await r.json()

        sockets = [
            await session.ws_connect(u.replace("http", "ws", 1) + "/rpc/v1", headers={"Authorization": f"Bearer {t}"})
            for u, t in (direct, proxied)
        ]

        async def ws_call(n: int) -> None:
            await sockets[n].send_str(HEAD)
            assert "result" in json.loads((await sockets[n].receive()).data)

        for _ in range(50):  # warm up connections, both sides
            await post(*direct)
            await post(*proxied)
            await ws_call(0)
            await ws_call(1)
        for _ in range(calls):
            out["HTTP POST"][0].append(await timed(lambda: post(*direct)))
            out["HTTP POST"][1].append(await timed(lambda: post(*proxied)))
            out["WebSocket"][0].append(await timed(lambda: ws_call(0)))
            out["WebSocket"][1].append(await timed(lambda: ws_call(1)))
        for ws in sockets:
            await ws.close()
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per transport and path")
    parser.add_argument("--calls-per-drill", type=int, default=2000, help="miner->daemon calls during one drill")
    parser.add_argument("--rto", type=float, default=900.0, help="a typical drill RTO in seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, token = start_daemon(Path(tmp))
        try:
            with ChainFirewall(url, token, {"f3worker"}) as fw:
                through = (f"http://127.0.0.1:{fw.port}", fw.token)
                results = asyncio.run(measure((url, token), through, args.calls))
                print(fw.report().summary())
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"{args.calls} Filecoin.ChainHead calls per cell against the lotus_sim daemon")
    print(
        f"{'transport':<10} {'direct median':>14} {'p95':>7} {'firewall median':>16} {'p95':>7} "
        f"{'added':>8} {'share of RTO':>13}"
    )
    for transport, (direct, proxied) in results.items():
        added = statistics.median(proxied) - statistics.median(direct)
        share = args.calls_per_drill * added / 1000 / args.rto
        print(
            f"{transport:<10} {statistics.median(direct):>11.3f} ms {p95(direct):>7.3f} "
            f"{statistics.median(proxied):>13.3f} ms {p95(proxied):>7.3f} {added:>5.3f} ms {share:>12.4%}"
        )
    print(
        f"share of RTO = {args.calls_per_drill} calls x added ms / {args.rto:.0f} s RTO, calls taken one after another"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
