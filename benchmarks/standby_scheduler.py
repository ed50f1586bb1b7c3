"""The standby lotus-miner's own WindowPoSt scheduler: its effect on the measured dry-run and RTO.

Real lotus-miner runs its WdPoSt scheduler on a standby too (node/builder_miner.go:99,
node/modules/storageminer.go:294-302): each deadline it proves on the same worker, then tries to submit
(refused by spdrill's chain firewall). No configuration stops it and keeps ComputeWindowPoSt, which runs on
that scheduler (node/impl/storminer.go:72,451-463; `[Subsystems] DisableWindowPoSt` removes both). So spdrill
leaves it on and measures what it costs. The stand-in's knob LOTUS_SIM_WDPOST_SCHEDULER=false (not Lotus) gives
the comparison.

Usage: .venv/bin/python benchmarks/standby_scheduler.py [--runs 3] [--seconds-per-partition 0.5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from spdrill.demo import make_demo_plan


def drill(scheduler: bool, per_partition: str, workdir: Path) -> tuple[float, float, int]:
    """(RTO, post-dry-run seconds, pushes refused) of one drill whose chain crosses several proving windows."""
    env = {"LOTUS_SIM_SYNC_RATE": "30", "LOTUS_SIM_POST_SECONDS_PER_PARTITION": per_partition,
           "LOTUS_SIM_WDPOST_SCHEDULER": "true" if scheduler else "false"}
    plan = make_demo_plan(workdir, sectors=96, deadlines=48, env=env, reports=workdir / "reports")
    spdrill = str(Path(sys.executable).with_name("spdrill"))
    p = subprocess.run([spdrill, "run", "--plan", str(plan)], capture_output=True, text=True, timeout=900)
    rec = json.loads((workdir / "reports" / "latest" / "drill.json").read_text())
    if p.returncode != 0:
        raise SystemExit(f"drill failed (exit {p.returncode}):\n{p.stdout[-3000:]}")
    post = next(ph for ph in rec["phases"] if ph["name"] == "post-dry-run")
    return float(rec["rto_seconds"]), float(post["end"]) - float(post["start"]), int(
        rec["facts"].get("chain_firewall_refused") or 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds-per-partition", default="0.5")
    args = ap.parse_args()
    for scheduler in (False, True):
        rows = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="spdrill-bench-") as d:
                rows.append(drill(scheduler, args.seconds_per_partition, Path(d)))
        print(f"scheduler {'on ' if scheduler else 'off'}: RTO median {statistics.median(r[0] for r in rows):.2f} s, "
              f"post-dry-run median {statistics.median(r[1] for r in rows):.2f} s, pushes refused "
              f"{[r[2] for r in rows]} ({args.runs} runs, {args.seconds_per_partition} s per partition)")


if __name__ == "__main__":
    main()
