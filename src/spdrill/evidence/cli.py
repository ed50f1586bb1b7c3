"""`spdrill keygen | verify | history | schedule`, and the evidence options of `spdrill run`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from spdrill.duration import format_duration
from spdrill.errors import DrillError, UsageError
from spdrill.plan import Plan

COMMANDS = ("keygen", "verify", "history", "schedule")
DEFAULT_HISTORY = Path("reports/history.sqlite")


def register(subparsers: Any) -> None:
    """Add the evidence subcommands to `spdrill`'s subparsers."""
    kg = subparsers.add_parser("keygen", help="create an ed25519 key pair for signing evidence bundles",
                               description="Write DIR/drill-signing.key (PEM, mode 0600) and "
                               "DIR/drill-signing.pub.")
    kg.add_argument("--out", type=Path, required=True, metavar="DIR")

    ve = subparsers.add_parser("verify", help="verify a signed evidence bundle; exit 0 valid, 1 tampered or "
                               "wrong key",
                               description="Recompute every member's SHA-256, check the manifest's ed25519 "
                               "signature, and name each member that fails. Exit 0 valid, 1 tampered "
                               "or signed with another key, 2 unreadable key or missing file.")
    ve.add_argument("bundle", type=Path)
    ve.add_argument("--pubkey", type=Path, required=True, metavar="PUB",
                    help="drill-signing.pub (PEM or OpenSSH)")
    ve.add_argument("--json", action="store_true", help="print the result as JSON")

    hi = subparsers.add_parser("history", help="list earlier drills: date, restore point, RTO, RPO, verdict")
    hi.add_argument("--db", type=Path, default=None, help=f"history file (default $SPDRILL_HISTORY or "
                    f"{DEFAULT_HISTORY})")
    hi.add_argument("--limit", type=int, default=20, metavar="N")
    hi.add_argument("--plan", dest="plan_name", metavar="NAME", help="only drills of this plan name")

    sc = subparsers.add_parser("schedule", help="print a systemd service+timer, a crontab line or a "
                               "Kubernetes CronJob that runs the drill")
    mode = sc.add_mutually_exclusive_group(required=True)
    for flag in ("--systemd", "--cron", "--kubernetes"):
        mode.add_argument(flag, dest="mode", action="store_const", const=flag[2:])
    sc.add_argument("--plan", type=Path, required=True)
    sc.add_argument("--reports", type=Path, help="reports folder (default: the plan's [reports] dir)")
    sc.add_argument("--name", default="spdrill", help="unit / CronJob name (default spdrill)")
    sc.add_argument("--on-calendar", default="Sun *-*-* 03:00:00",
                    help="systemd OnCalendar= (default weekly)")
    sc.add_argument("--schedule", dest="cron_expr", default="0 3 * * 0", help="crontab/CronJob schedule")
    sc.add_argument("--image", default="spdrill:0.1.0", help="container image for --kubernetes")
    sc.add_argument("--spdrill", default="spdrill", help="path of the spdrill command on the drill host")
    _evidence_options(sc)


def _evidence_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sign", type=Path, metavar="KEY", help="sign the evidence bundle with this private key")
    p.add_argument("--metrics", type=Path, metavar="FILE", help="write Prometheus metrics here (*.prom)")
    p.add_argument("--history", type=Path, metavar="DB", help="keep the drill in this SQLite history")


def add_run_options(run_parser: argparse.ArgumentParser) -> None:
    """Add --sign, --metrics, --webhook and --history to `spdrill run`."""
    _evidence_options(run_parser)
    run_parser.add_argument("--webhook", metavar="URL", help="POST a JSON summary here when the drill ends "
                            "(default $SPDRILL_WEBHOOK; the URL is treated as a secret)")


def apply_run_options(plan: Plan, args: argparse.Namespace) -> Plan:
    """The plan with the command line's evidence options over its [reports] table; checks the key loads.

    The same rules as every drill (spdrill.settings.with_evidence): --webhook, then $SPDRILL_WEBHOOK, then the plan.
    """
    from spdrill.settings import Options, with_evidence

    options = Options(sign_key=getattr(args, "sign", None), metrics=getattr(args, "metrics", None),
                      history=getattr(args, "history", None), webhook=getattr(args, "webhook", None))
    return with_evidence(plan, options, env=os.environ)


def dispatch(args: argparse.Namespace) -> int | None:
    """Run an evidence subcommand; None when `args.command` is not one of them."""
    if getattr(args, "command", None) not in COMMANDS:
        return None
    try:
        handler = {"keygen": _keygen, "verify": _verify, "history": _history, "schedule": _schedule}
        return handler[args.command](args)
    except DrillError as exc:
        print(f"spdrill: {exc}", file=sys.stderr)
        return exc.exit_code


def _keygen(args: argparse.Namespace) -> int:
    from spdrill.evidence.keys import key_id, keygen, load_public_key

    key, pub = keygen(args.out)
    print(f"wrote {key} (private, mode 0600: keep it on the drill host) and {pub} (give it to whoever "
          "verifies); "
          f"key id {key_id(load_public_key(pub))}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from spdrill.evidence.keys import load_public_key
    from spdrill.evidence.sign import verify_bundle

    v = verify_bundle(args.bundle, load_public_key(args.pubkey))
    rec = v.record or {}
    if args.json:
        print(json.dumps({"bundle": str(v.bundle), "valid": v.ok, "key_id": v.key_id,
                          "problems": [{"member": p.member, "message": p.message} for p in v.problems],
                          "drill_id": rec.get("drill_id"), "verdict": rec.get("verdict")}, indent=2))
    elif v.ok:
        rto = rec.get("rto_seconds")
        print(f"{v.bundle}: VALID: {len(v.members)} members, signature by key {v.key_id}\n"
              f"  drill {rec.get('drill_id')} of {rec.get('plan', {}).get('name')!r} ({rec.get('actor')}) "
              f"started {rec.get('started_at')}: {str(rec.get('verdict')).upper()}"
              + ("  [SIMULATED: lotus-sim, not real Lotus]" if rec.get("simulated") else "") + "\n"
              f"  restore point {', '.join(r['name'] for r in rec.get('restore_points', [])) or '-'}; RTO "
              f"{'not reached' if rto is None else format_duration(rto)}")
    else:
        print(f"{v.bundle}: INVALID", file=sys.stderr)
        for p in v.problems:
            print(f"  {p}", file=sys.stderr)
    return 0 if v.ok else 1


def _history(args: argparse.Namespace) -> int:
    from spdrill.evidence.history import History, format_rows

    if args.limit < 1:
        raise UsageError(f"--limit: expected a positive number of drills, found {args.limit}")
    db = args.db or Path(os.environ.get("SPDRILL_HISTORY", DEFAULT_HISTORY))
    if not db.is_file():
        raise UsageError(f"{db}: no drill history there; pass --db FILE (the --history of `spdrill run`)")
    print(format_rows(History(db).rows(limit=args.limit, plan_name=args.plan_name)))
    return 0


def _schedule(args: argparse.Namespace) -> int:
    from spdrill.evidence.schedule import Schedule, cron_line, kubernetes_cronjob, systemd_units
    from spdrill.planload import load_validated

    plan = load_validated(args.plan)
    s = Schedule(plan=args.plan, reports=args.reports or plan.reports, name=args.name,
                 on_calendar=args.on_calendar, cron=args.cron_expr, spdrill=args.spdrill, sign_key=args.sign,
                 metrics=args.metrics, history=args.history, image=args.image)
    render = {"systemd": systemd_units, "cron": cron_line, "kubernetes": kubernetes_cronjob}[args.mode]
    sys.stdout.write(render(s))
    return 0
