"""Harness overhead and readiness-detection latency on the simulated stack.

Overhead = RTO minus the time covered by phases up to the RTO moment (the harness's own gaps between
phases), in seconds and as % of RTO. Detection latency = time from a component starting to answer to
the wait policy noticing, measured against a real HTTP JSON-RPC server that comes up at a known moment.
Targets (issue 3): overhead < 1 s and < 2 % of RTO; detection ≤ 1 s.

Usage: .venv/bin/python benchmarks/overhead.py [--runs 3] [--sectors 64]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from spdrill.demo import make_demo_plan
from spdrill.journal import Outcome, Phase
from spdrill.lotus import ApiInfo, FullNodeClient
from spdrill.phases import waiting_time
from spdrill.waits import wait_for


def drill_overhead(sectors: int, workdir: Path) -> tuple[float, float, float]:
    plan = make_demo_plan(workdir, sectors=sectors, deadlines=4, reports=workdir / "reports")
    spdrill = str(Path(sys.executable).with_name("spdrill"))
    t0 = time.monotonic()
    p = subprocess.run([spdrill, "run", "--plan", str(plan)], capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"drill failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
    rec = json.loads((workdir / "reports" / "latest" / "drill.json").read_text())
    rto = float(rec["rto_seconds"])
    phases = [Phase(name=x["name"], branch=x["branch"], start=x["start"], end=min(x["end"], rto),
                    outcome=Outcome(x["outcome"])) for x in rec["phases"] if x["start"] < rto]
    return rto, rto - waiting_time(phases), wall


def detection_latency(trials: int) -> list[float]:
    ready_at: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length", 0))
            req = json.loads(self.rfile.read(length))
            if not ready_at or time.monotonic() < ready_at[-1]:
                self.send_response(503)
                self.end_headers()
                return
            body = json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": {
                "Version": "bench", "APIVersion": 131840, "BlockDelay": 30, "Agent": "bench"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = FullNodeClient(ApiInfo.parse(f"/ip4/127.0.0.1/tcp/{server.server_address[1]}/http"))
    out = []
    for i in range(trials):
        ready_at.append(time.monotonic() + 0.5 + (i % 7) * 0.037)  # ready at an arbitrary phase of the poll
        wait_for(lambda: (True, client.version().version), what="bench", deadline=10)
        out.append(time.monotonic() - ready_at[-1])
    server.shutdown()
    return out


def firewall_share(sectors: int) -> None:
    """The chain firewall's share of a drill's RTO: its start, plus the latency it adds to each call it passes."""
    import asyncio
    import re

    sys.path.insert(0, str(Path(__file__).parent))
    import firewall_overhead as fo

    from spdrill.firewall import ChainFirewall

    with tempfile.TemporaryDirectory(prefix="spdrill-bench-") as d:
        plan = make_demo_plan(Path(d), sectors=sectors, deadlines=4, reports=Path(d) / "reports")
        spdrill = str(Path(sys.executable).with_name("spdrill"))
        subprocess.run([spdrill, "run", "--plan", str(plan)], capture_output=True, text=True, timeout=600)
        rec = json.loads((Path(d) / "reports" / "latest" / "drill.json").read_text())
        proc, url, token = fo.start_daemon(Path(d))
        try:
            starts = []
            for _ in range(10):
                t0 = time.perf_counter()
                with ChainFirewall(url, token, {"f3worker"}):
                    starts.append(time.perf_counter() - t0)
            with ChainFirewall(url, token, {"f3worker"}) as fw:
                results = asyncio.run(fo.measure((url, token), (f"http://127.0.0.1:{fw.port}", fw.token), 300))
        finally:
            proc.terminate()
            proc.wait(10)
    found = re.search(r"forwarded (\d+) call", str(rec["facts"].get("chain_firewall", "")))
    calls = int(found.group(1)) if found else 0
    added = max(statistics.median(p) - statistics.median(dr) for dr, p in results.values()) / 1000
    start = statistics.median(starts)
    rto = float(rec["rto_seconds"])
    cost = start + calls * added
    print(f"chain firewall: start {1000 * start:.1f} ms (median of 10), {calls} calls passed in this drill, "
          f"+{1000 * added:.2f} ms each (worse transport) = {1000 * cost:.1f} ms = {100 * cost / rto:.2f} % of a "
          f"{rto:.2f} s RTO (the miner's calls run beside the critical path, so this is an upper bound)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sectors", type=int, default=64)
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()
    rows = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="spdrill-bench-") as d:
            rows.append(drill_overhead(args.sectors, Path(d)))
            rto, ovh, wall = rows[-1]
            print(f"run {i + 1}: RTO {rto:.2f} s, harness overhead {ovh:.3f} s ({100 * ovh / rto:.2f} % of RTO); "
                  f"whole `spdrill run` {wall:.2f} s (pytest start-up, teardown, reports)")
    med_rto = statistics.median(r for r, _, _ in rows)
    med_ovh = statistics.median(o for _, o, _ in rows)
    print(f"median: RTO {med_rto:.2f} s, overhead {med_ovh:.3f} s = {100 * med_ovh / med_rto:.2f} % of RTO "
          f"(target < 1 s and < 2 %)")
    firewall_share(args.sectors)
    lat = detection_latency(args.trials)
    print(f"readiness detection latency over {len(lat)} trials: median {statistics.median(lat):.3f} s, "
          f"max {max(lat):.3f} s (target ≤ 1 s)")


if __name__ == "__main__":
    main()
