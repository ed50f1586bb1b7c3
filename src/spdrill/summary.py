"""The end-of-drill summary people read: verdict, RTO with its critical path, RPO, each check."""

from __future__ import annotations

from pathlib import Path

from spdrill.duration import format_duration
from spdrill.evidence.record import measured_rto, verdict
from spdrill.journal import Journal
from spdrill.phases import critical_path


def render_summary(journal: Journal, reports: Path | None = None) -> str:
    """Plain text; a pure function of the journal."""
    measured = measured_rto(journal)
    ok = verdict(journal) == "pass"
    lines = ["", "=" * 72]
    banner = "  [SIMULATED: the standby was the lotus-sim stand-in, not real Lotus]" if journal.simulated else ""
    lines.append(f"spdrill drill {journal.drill_id}  {'PASS' if ok else 'FAIL'}{banner}")
    lines.append(f"plan {journal.plan_name!r}  actor {journal.actor}  target {journal.target}")
    if journal.facts.get("mode") == "failover":
        cid = journal.facts.get("failover_change_peer_id_cid")
        lines.append("FAILOVER MODE: not a drill. lotus-miner init restore ran"
                     + (f" and pushed ChangePeerID {cid} from the worker address" if cid else
                        " (no ChangePeerID message CID was recorded: see the init-restore phase)"))
    if journal.could_not_run is not None:
        lines.append(f"COULD NOT RUN: {journal.could_not_run}")
        lines.append("     nothing was proven; every check that needed it is SKIP (not run). Fix the cause above "
                     "and drill again (exit 3)")
    if journal.interrupted:
        lines.append("INTERRUPTED: the drill was stopped before every check ran; this is not a pass")
    obj = journal.objectives
    if measured is None:
        lines.append(f"RTO  not reached (objective {format_duration(obj['rto_seconds'])})")
    else:
        path = " > ".join(f"{p.name} {format_duration(p.duration)}" for p in critical_path(journal.phases,
                                                                                           until=measured))
        lines.append(f"RTO  {format_duration(measured)} (objective {format_duration(obj['rto_seconds'])})")
        lines.append(f"     critical path: {path}")
    for rp in journal.restore_points:
        lines.append(f"RPO  {format_duration(rp.age_seconds)} (objective {format_duration(obj['rpo_seconds'])})"
                     f"  restore point {rp.name}")
    restore = next((p for p in journal.phases if p.name == "restore"), None)
    if restore is not None:
        f = restore.facts
        if "chain_snapshot_age_seconds" in f:
            lines.append(f"     chain snapshot {f.get('chain_snapshot')} at height {f.get('chain_snapshot_height')}, "
                         f"{format_duration(float(f['chain_snapshot_age_seconds'] or 0))} old")
        if "miner_backup" in f:
            state = (f"valid, {f.get('miner_backup_keys')} keys" if f.get("miner_backup_ok")
                     else f"INVALID ({f.get('miner_backup_detail')})")
            lines.append(f"     metadata backup {f.get('miner_backup')} {state}, "
                         f"{format_duration(float(f.get('miner_backup_age_seconds') or 0))} old")
    lines.append("checks:")
    for c in journal.checks:
        mark = "PASS" if c.passed else "FAIL"
        lines.append(f"  {mark}  {c.title}" + ("" if c.passed else f"\n        {c.message}"))
    for entry in journal.skipped:
        lines.append(f"  SKIP  {entry}")
    if "fil_at_risk_at_rto" in journal.facts:
        lines.append(f"FIL at risk at the measured RTO: {journal.facts['fil_at_risk_at_rto']} FIL per day of outage "
                     "(sectors that would be faulted x expected day reward x 3.51; terminated after 42 days)")
    if "fence" in journal.facts:
        lines.append(f"fence: {journal.facts['fence']}")
    if journal.facts.get("mode") == "failover" and "failover_next_step" in journal.facts:
        lines.append(f"next step: {journal.facts['failover_next_step']}")
    if reports is not None:
        lines.append(f"reports: {reports}")
    lines.append("=" * 72)
    return "\n".join(lines)
