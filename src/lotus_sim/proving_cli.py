"""`lotus-miner proving info|deadlines|check|compute window-post`, printed as Lotus prints them."""

from __future__ import annotations

import json
import time
from typing import Any

from lotus_sim.bitfield import decode_runs, encode_runs
from lotus_sim.repo import CliError
from lotus_sim.rpcclient import RpcClient

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add the `proving` command tree to lotus-miner's parser."""
    p = sub.add_parser("proving").add_subparsers(dest="proving_cmd", required=True)
    p.add_parser("info")
    p.add_parser("deadlines").add_argument("--all", "-a", action="store_true")
    c = p.add_parser("check")
    c.add_argument("--only-bad", action="store_true")
    c.add_argument("--slow", action="store_true")
    c.add_argument("--storage-id")
    c.add_argument("--faulty", action="store_true")
    c.add_argument("deadline", type=int)
    compute = p.add_parser("compute").add_subparsers(dest="compute_cmd", required=True)
    for name in ("windowed-post", "window-post"):
        compute.add_parser(name).add_argument("deadline", type=int)


def _deadline(value: int) -> int:
    if not 0 <= value < 48:
        raise CliError(f"deadline index {value} out of range: expected 0..47")
    return value


def _info(miner: RpcClient, full: RpcClient) -> None:
    addr = miner.call("ActorAddress")
    d = full.call("StateMinerProvingDeadline", addr, [])
    faults = len(list(decode_runs(full.call("StateMinerFaults", addr, []))))
    recovering = len(list(decode_runs(full.call("StateMinerRecoveries", addr, []))))
    parts = full.call("StateMinerPartitions", addr, d["Index"], [])
    in_deadline = sum(len(list(decode_runs(p["AllSectors"]))) for p in parts)
    period = d["WPoStProvingPeriod"]
    print(f"Miner: {addr}")
    print(f"Current Epoch:           {d['CurrentEpoch']}")
    print(f"Proving Period Boundary: {d['PeriodStart'] % period}")
    print(f"Proving Period Start:    {d['PeriodStart']}")
    print(f"Next Period Start:       {d['PeriodStart'] + period}")
    print()
    print(f"Faults:      {faults}")
    print(f"Recovering:  {recovering}")
    print()
    print(f"Deadline Index:       {d['Index']}")
    print(f"Deadline Sectors:     {in_deadline}")
    print(f"Deadline Open:        {d['Open']}")
    print(f"Deadline Close:       {d['Close']}")
    print(f"Deadline Challenge:   {d['Challenge']}")
    print(f"Deadline FaultCutoff: {d['FaultCutoff']}")


def _deadlines(miner: RpcClient, full: RpcClient, show_all: bool) -> None:
    addr = miner.call("ActorAddress")
    deadlines = full.call("StateMinerDeadlines", addr, [])
    print(f"Miner: {addr}")
    print("deadline  partitions  sectors (faults)  proven partitions")
    for index, dl in enumerate(deadlines):
        parts = full.call("StateMinerPartitions", addr, index, [])
        if not parts and not show_all:
            continue
        sectors = sum(len(list(decode_runs(p["AllSectors"]))) for p in parts)
        faults = sum(len(list(decode_runs(p["FaultySectors"]))) for p in parts)
        proven = len(list(decode_runs(dl["PostSubmissions"])))
        print(f"{index:<9} {len(parts):<11} {sectors} ({faults}){'':<10} {proven}")


def _check(miner: RpcClient, full: RpcClient, args: Any) -> int:
    addr = miner.call("ActorAddress")
    mi = full.call("StateMinerInfo", addr, [])
    parts = full.call("StateMinerPartitions", addr, _deadline(args.deadline), [])
    rows: list[tuple[int, int, str]] = []
    for index, part in enumerate(parts):
        numbers = list(decode_runs(part["FaultySectors" if args.faulty else "LiveSectors"]))
        if not numbers:
            continue
        infos = full.call("StateMinerSectors", addr, encode_runs(numbers), [])
        refs = [{"ID": {"Miner": int(addr[2:]), "Number": s["SectorNumber"]}, "ProofType": s["SealProof"]}
                for s in infos]
        bad = miner.call("CheckProvable", mi["WindowPoStProofType"], refs)
        for n in numbers:
            reason = bad.get(str(n))
            if reason is not None or not args.only_bad:
                rows.append((index, n, "good" if reason is None else f"bad ({reason})"))
    print("deadline  partition  sector  status")
    for index, n, status in rows:
        print(f"{args.deadline:<9} {index:<10} {n:<7} {status}")
    return 0


def run(args: Any, miner: RpcClient, full: RpcClient) -> int:
    """Run one proving subcommand."""
    if args.proving_cmd == "info":
        _info(miner, full)
        return 0
    if args.proving_cmd == "deadlines":
        _deadlines(miner, full, args.all)
        return 0
    if args.proving_cmd == "check":
        return _check(miner, full, args)
    deadline = _deadline(args.deadline)
    started = time.monotonic()
    result = miner.call("ComputeWindowPoSt", deadline, [])
    print(f"Took {time.monotonic() - started:.3f}s")
    print(json.dumps(result, indent=4))
    return 0


