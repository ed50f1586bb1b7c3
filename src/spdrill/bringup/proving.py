"""The proving side: the WindowPoSt worker, CheckProvable, the PoSt dry-run, and the reconciliation with the
chain that reads CheckProvable's findings."""

from __future__ import annotations

import dataclasses

from spdrill.bringup.apis import maddr, token_from_repo
from spdrill.bringup.context import Standby
from spdrill.bringup.graph import StageBoard
from spdrill.bringup.probes import StandbyProbe
from spdrill.findings import PoStFinding, ProvableFinding, ReconcileFinding, RoleStarted, WorkerFinding
from spdrill.journal import PhaseNote
from spdrill.lotus.miner import CHECK_PROVABLE_TIMEOUT_S
from spdrill.plan import CHALLENGE_WINDOW_S
from spdrill.waits import wait_for


def start_worker(sb: Standby, note: PhaseNote) -> RoleStarted:
    """Start `lotus-worker run --windowpost` in the drill folder, dialing the standby miner."""
    parts = sb.parts_()
    mport = sb.ep.ports.setdefault("miner", sb.plan.standby.ports.miner or sb.target.free_port())
    wport = sb.plan.standby.ports.worker or sb.target.free_port()
    sb.ep.ports["worker"] = wport
    phost, pport = sb.target.peer("miner", mport)
    miner_admin = token_from_repo(sb.fs, parts.miner_repo, "miner", phost, pport)
    assert sb.root is not None
    worker_repo = sb.root / "lotus-worker"  # in the drill folder, never beside a workspace
    sb.fs.mkdir(worker_repo)
    listen = f"{sb.target.listen_host('worker')}:{wport}"
    sb.spawn("worker", ["lotus-worker", "run", "--windowpost", "--listen", listen, *sb.plan.standby.worker_args],
             env=sb.env(LOTUS_WORKER_PATH=sb.target.path(worker_repo),
                        MINER_API_INFO=f"{miner_admin.token}:{maddr(phost, pport)}"), port=wport)
    return RoleStarted(detail=f"worker started, listening on port {wport}", port=wport)


def worker_connected(sb: Standby, note: PhaseNote) -> WorkerFinding:
    """Wait for a WindowPoSt worker (with a GPU unless the plan says otherwise) to connect to the miner."""
    probe = StandbyProbe(sb.target, "worker")
    client = sb.miner(sb.ep.miner_admin)
    need_gpu = sb.plan.standby.requirements.worker_gpu
    seen = wait_for(lambda: probe.windowpost_worker(client, note, need_gpu=need_gpu),
                    what="WindowPoSt worker", deadline=sb.plan.standby.timeouts.start)
    last = note.finding if isinstance(note.finding, WorkerFinding) else WorkerFinding()
    return dataclasses.replace(last, detail=seen)


def check_provable(sb: Standby, note: PhaseNote) -> ProvableFinding:
    """CheckProvable per partition with live sectors, each bounded by Lotus's PartitionCheckTimeout (20 m)."""
    timeout = max(CHECK_PROVABLE_TIMEOUT_S, sb.plan.standby.timeouts.post)
    return StandbyProbe(sb.target, "miner").check_provable(
        sb.fullnode(sb.ep.daemon_read), sb.miner(sb.ep.miner_admin), sb.plan.actor, timeout=timeout)


def post_dry_run(sb: Standby, note: PhaseNote) -> PoStFinding:
    """ComputeWindowPoSt for the next deadline with sectors, inside the challenge window minus the margin."""
    budget = CHALLENGE_WINDOW_S - sb.plan.objectives.post_margin
    note.finding = PoStFinding(budget_seconds=budget)
    return StandbyProbe(sb.target, "miner").post_dry_run(
        sb.fullnode(sb.ep.daemon_read), sb.miner(sb.ep.miner_admin, timeout=sb.plan.standby.timeouts.post),
        sb.plan.actor, budget, sb.journal.clock)


def reconcile(sb: Standby, board: StageBoard, note: PhaseNote) -> ReconcileFinding:
    """On-chain sectors per deadline against the restored miner and CheckProvable's findings."""
    from spdrill.reconcile_probe import backup_sectors
    from spdrill.reconcile_probe import reconcile as compare

    checked = board.wait("check-provable").finding
    bad = dict(checked.bad) if isinstance(checked, ProvableFinding) and checked.bad is not None else None
    backup = backup_sectors(sb.backup_copy) if sb.backup_copy is not None else None
    report = compare(sb.fullnode(sb.ep.daemon_read), sb.miner(sb.ep.miner_admin), sb.plan.actor,
                     provable_bad=bad, backup=backup)
    sb.journal.section("reconciliation", report.to_facts())
    return ReconcileFinding(detail=report.summary(), report=report)
