"""``lotus-sim``: make-fixture, fault (file faults on a fixture) and bindir (the stand-in programs' folder)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from lotus_sim import policy
from lotus_sim.clock import parse_duration
from lotus_sim.filefaults import FAULTS, apply_fault
from lotus_sim.fixture import FixtureSpec, make_fixture, parse_multisig

USAGE_ERROR = 2


class UsageError(Exception):
    """Bad arguments: printed as ``lotus-sim: error: …`` with exit status 2."""


def _fault_help() -> str:
    lines = ["file faults (NAME or NAME=ARG):"]
    for fault in FAULTS.values():
        shown = f"{fault.name}[={fault.arg}]" if fault.arg else fault.name
        lines.append(f"  {shown:<26} {fault.help}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lotus-sim", description="Lotus stand-in tools (simulated, not Lotus).")
    sub = parser.add_subparsers(dest="command", metavar="{make-fixture,fault,bindir}")
    raw = argparse.RawDescriptionHelpFormatter
    make = sub.add_parser("make-fixture", help="write a restore point for drills", epilog=_fault_help(),
                          formatter_class=raw)  # fmt: skip
    make.add_argument("dir", type=Path, help="new or empty folder to write")
    make.add_argument("--sectors", type=int, default=64, help="live sectors on chain (default 64)")
    make.add_argument("--deadlines", type=int, default=4, help="deadlines the sectors spread over (1-48)")
    make.add_argument("--snapshot-age", default="2h", help="age of the chain snapshot head (default 2h)")
    make.add_argument("--backup-age", default="3h", help="age of the metadata backup (default 3h)")
    make.add_argument("--sectors-after-backup", type=int, default=0,
                      help="newest sectors on chain but not in the backup")  # fmt: skip
    make.add_argument("--seed", type=int, default=1, help="seed of every random choice (default 1)")
    make.add_argument("--miner", default="f01000", help="miner actor ID address (f0… mainnet, t0… testnet)")
    make.add_argument("--sector-size", default="2KiB", help=f"one of {', '.join(policy.SIZE_NAMES)}")
    make.add_argument("--storage-paths", type=int, default=2, help="storage paths the sectors spread over")
    make.add_argument("--now", type=float, default=None, help="unix time taken as now (default: the clock)")
    make.add_argument("--block-delay", type=int, default=30, help="seconds per epoch (default 30, mainnet)")
    make.add_argument("--genesis", type=int, default=1598306400, help="genesis unix time (default mainnet's)")
    make.add_argument("--no-sector-files", action="store_true",
                      help="write no sealed/cache files (for huge benchmark worlds)")  # fmt: skip
    make.add_argument("--owner-multisig", default="", metavar="M-of-N",
                      help="the owner is an M-of-N multisig whose signers are account keys (e.g. 2-of-3)")
    make.add_argument("--fault", action="append", default=[], metavar="NAME[=ARG]", help="apply a file fault")
    fault = sub.add_parser("fault", help="apply a file fault to a fixture", epilog=_fault_help(),
                           formatter_class=raw)  # fmt: skip
    fault.add_argument("dir", type=Path, help="folder written by make-fixture")
    fault.add_argument("name", metavar="NAME[=ARG]", help="the fault")
    fault.add_argument("arg", nargs="?", help="the fault's argument (same as NAME=ARG)")
    sub.add_parser("bindir", help="print the folder holding the lotus, lotus-miner, lotus-worker programs",
                   add_help=False)  # fmt: skip
    return parser


def _spec(args: argparse.Namespace) -> FixtureSpec:
    try:
        size = policy.parse_size(args.sector_size)
        snapshot_age, backup_age = parse_duration(args.snapshot_age), parse_duration(args.backup_age)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    checks = [
        (args.sectors >= 1, f"--sectors {args.sectors}: expected at least 1"),
        (1 <= args.deadlines <= 48, f"--deadlines {args.deadlines}: expected 1 to 48"),
        (0 <= args.sectors_after_backup <= args.sectors,
         f"--sectors-after-backup {args.sectors_after_backup}: expected 0 to --sectors ({args.sectors})"),
        (args.storage_paths >= 1, f"--storage-paths {args.storage_paths}: expected at least 1"),
        (args.block_delay >= 1, f"--block-delay {args.block_delay}: expected at least 1 second"),
    ]  # fmt: skip
    for ok, message in checks:
        if not ok:
            raise UsageError(message)
    if args.owner_multisig:
        try:
            parse_multisig(args.owner_multisig)
        except ValueError as exc:
            raise UsageError(f"--owner-multisig: {exc}") from exc
    for name in args.fault:
        if name.partition("=")[0] not in FAULTS:
            raise UsageError(f"--fault {name}: unknown fault; expected one of: {', '.join(FAULTS)}")
    return FixtureSpec(
        sectors=args.sectors, deadlines=args.deadlines, snapshot_age=snapshot_age, backup_age=backup_age,
        sectors_after_backup=args.sectors_after_backup, seed=args.seed, miner=args.miner, sector_size=size,
        storage_paths=args.storage_paths, now=args.now, block_delay=args.block_delay, genesis=args.genesis,
        faults=tuple(args.fault), sector_files=not args.no_sector_files, owner_multisig=args.owner_multisig,
    )  # fmt: skip


def _make(args: argparse.Namespace) -> int:
    spec = _spec(args)
    try:
        info = make_fixture(args.dir, spec)
        for name in spec.faults:
            apply_fault(args.dir, name)
    except (ValueError, FileExistsError) as exc:
        raise UsageError(str(exc)) from exc
    snap = info["snapshot"]
    assert isinstance(snap, dict)
    print(f"fixture written to {args.dir.resolve()} (simulated)")
    print(f"miner {info['miner']}: {spec.sectors} sectors of {policy.size_name(spec.sector_size)}")
    print(f"chain snapshot {snap['path']} at height {snap['height']}")
    for name in spec.faults:
        print(f"fault applied: {name}")
    return 0


def _fault(args: argparse.Namespace) -> int:
    spec = args.name if args.arg is None else f"{args.name}={args.arg}"
    try:
        detail = apply_fault(args.dir, spec)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(f"fault applied: {spec.partition('=')[0]} {detail}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``lotus-sim``; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["bindir"]:
        # bindir is its own program (lotus_sim.bindir); imported only when asked for.
        bindir = importlib.import_module("lotus_sim.bindir")
        return int(bindir.main(args_list[1:]))
    parser = _parser()
    args = parser.parse_args(args_list)
    try:
        if args.command == "make-fixture":
            return _make(args)
        if args.command == "fault":
            return _fault(args)
    except UsageError as exc:
        parser.exit(USAGE_ERROR, f"lotus-sim: error: {exc}\n")
    except OSError as exc:
        print(f"lotus-sim: error: {exc}", file=sys.stderr)
        return 1
    parser.print_help(sys.stderr)
    return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
