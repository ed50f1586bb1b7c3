"""The `spdrill` command: run drills, check plans and backups, clean up after killed drills."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from spdrill import __version__
from spdrill.errors import DrillError, UsageError
from spdrill.evidence import cli as evidence_cli

if TYPE_CHECKING:
    from spdrill.settings import Options

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANNOT_RUN = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2 on usage errors; keep that, keep it short
        self.print_usage(sys.stderr)
        print(f"spdrill: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="spdrill", description="Restore drills for Filecoin storage providers: bring up a standby "
                "Lotus daemon, lotus-miner and WindowPoSt worker from a restore point, measure RTO and RPO, "
                "and leave evidence.")
    p.add_argument("--version", action="version", version=f"spdrill {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a drill (the built-in simulated demo when no plan is given)",
                         description="Run the drills in drills/ against a standby restored from the plan's "
                         "restore point. Exit 0 every check passed, 1 a check failed, 2 usage or plan error, "
                         "3 the drill could not run.")
    run.add_argument("--plan", type=Path, help="drill plan (TOML); default: $SPDRILL_PLAN or the simulated demo")
    run.add_argument("--target", choices=["local", "attach", "docker", "ssh"], help="override the plan's target")
    run.add_argument("--reports", type=Path, help="folder for reports (default: the plan's [reports] dir)")
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="only run drills matching EXPR (pytest -k)")
    run.add_argument("--candidate", metavar="bin=DIR|image=REF",
                     help="pre-change validation: drill the plan's Lotus, then this candidate (new binaries, or a "
                     "new image on the docker target), from the same restore point, and compare")
    run.add_argument("--drills", type=Path, help="folder of drills (default: the drills shipped with spdrill)")
    run.add_argument("--failover", action="store_true",
                     help="FAILOVER, not a drill: make the standby's miner repo with `lotus-miner init restore`, "
                     "which pushes an on-chain ChangePeerID from the worker address (lotus #7014); stop the live "
                     "miner first. Needs --confirm-failover ACTOR; never settable in a plan")
    run.add_argument("--confirm-failover", metavar="ACTOR",
                     help="the plan's [drill] actor typed again, confirming --failover")
    evidence_cli.add_run_options(run)

    plan = sub.add_parser("plan", help="print an example plan or check one")
    psub = plan.add_subparsers(dest="plan_command", required=True, parser_class=_Parser)
    psub.add_parser("example", help="print a commented plan for real Lotus (filecoin/lotus-all-in-one)")
    chk = psub.add_parser("check", help="validate a plan; exit 0 valid, 2 invalid")
    chk.add_argument("file", type=Path)

    cb = sub.add_parser("check-backup", help="verify a lotus-miner metadata backup offline; exit 0 valid, 1 invalid")
    cb.add_argument("file", type=Path)

    cl = sub.add_parser("cleanup", help="remove what killed drills left (clones, workspaces, processes)")
    cl.add_argument("--drill", help="only this drill id")
    cl.add_argument("--workdir", type=Path, default=Path("/var/tmp/spdrill"), help="local target work folder")
    cl.add_argument("--plan", type=Path, help="also look where this plan's sources make workspaces")

    img = sub.add_parser("image", help="container images for the docker target")
    isub = img.add_subparsers(dest="image_command", required=True, parser_class=_Parser)
    isub.add_parser("build-sim", help="build the simulator image from a debootstrap base (no registry needed)")

    sn = sub.add_parser("snapshots", help="list the plan's restore points and mark the one a drill would use")
    sn.add_argument("--plan", type=Path, required=True)

    evidence_cli.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["image", "build-sim"]:  # its own options and --help live in spdrill.image
        from spdrill import image

        return image.main(argv[2:])
    args = build_parser().parse_args(argv)
    rc = evidence_cli.dispatch(args)
    if rc is not None:
        return rc
    try:
        if args.command == "run":
            from spdrill.runner import run_drill

            return run_drill(run_options(args), keyword=args.keyword, drills=args.drills)
        if args.command == "plan":
            return _plan(args)
        if args.command == "check-backup":
            return _check_backup(args.file)
        if args.command == "cleanup":  # this host, then each kind of target (Target.reap), in one place
            from spdrill.reaper import cleanup

            for line in cleanup(drill_id=args.drill, workdir=args.workdir, plan_path=args.plan):
                print(line)
            return EXIT_OK
        if args.command == "snapshots":
            from spdrill.snapshots_cli import list_snapshots

            return list_snapshots(args.plan)
    except DrillError as exc:
        print(f"spdrill: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("spdrill: interrupted", file=sys.stderr)
        return EXIT_CANNOT_RUN
    return EXIT_USAGE


def run_options(args: argparse.Namespace) -> Options:
    """What `spdrill run`'s command line asked for, as spdrill.settings resolves it."""
    from spdrill.settings import RUN_SPELLING, Options

    return Options(plan=args.plan, target=args.target, reports=args.reports, sign_key=args.sign,
                   metrics=args.metrics, history=args.history, webhook=args.webhook, candidate=args.candidate,
                   failover=args.failover, confirm_failover=args.confirm_failover, spelling=RUN_SPELLING)


def _plan(args: argparse.Namespace) -> int:
    if args.plan_command == "example":
        sys.stdout.write(resources.files("spdrill").joinpath("data/plan-example.toml").read_text())
        return EXIT_OK
    from spdrill.planload import load_validated

    plan = load_validated(args.file)
    print(f"{args.file}: valid plan {plan.name!r} for {plan.actor} on the {plan.target.kind} target "
          f"({len(plan.restore.sources)} restore source(s); RTO {args_dur(plan.objectives.rto)}, "
          f"RPO {args_dur(plan.objectives.rpo)})")
    return EXIT_OK


def args_dur(seconds: float) -> str:
    from spdrill.duration import format_duration

    return format_duration(seconds)


def _check_backup(path: Path) -> int:
    from spdrill.lotus.backup import check_backup

    if not path.is_file():
        raise UsageError(f"{path}: no such file; pass a lotus-miner backup file (lotus-miner backup FILE)")
    result = check_backup(path)
    if result.ok and result.info is not None:
        i = result.info
        print(f"{path}: valid lotus-miner metadata backup: {i.keys} keys, {i.size} bytes, sha256 trailer ok"
              + (f", miner {i.miner_address}" if i.miner_address else ""))
        return EXIT_OK
    print(f"{path}: INVALID: {result.reason}", file=sys.stderr)
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
