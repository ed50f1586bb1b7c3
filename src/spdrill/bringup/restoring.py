"""The restore stage: the workspace from the newest restore point, made safe to start (DESIGN rules 1, 2, 2b)."""

from __future__ import annotations

import dataclasses

from spdrill import fence, isolation
from spdrill.bringup.apis import describe_restore_files, fetch_backup
from spdrill.bringup.context import Standby
from spdrill.findings import RestoreFinding
from spdrill.journal import PhaseNote, RestorePointRecord
from spdrill.restore import find_parts, remap_storage, restore


def restore_stage(sb: Standby, note: PhaseNote) -> RestoreFinding:
    """Clone the restore point into the drill folder, find the repos, fence and isolate them."""
    root = sb.target.open(sb.journal.drill_id)
    sb.root = root
    started = sb.journal.clock.wall()
    restored = restore(sb.plan.restore, drill_id=sb.journal.drill_id, root=root, at=started,
                       runner=sb.target.source_runner(), fs=sb.fs)
    sb.restored = restored
    for mount, rp in restored.points:
        age = (started - rp.created).total_seconds()
        sb.journal.add_restore_point(RestorePointRecord(
            role=mount, kind=rp.kind, name=rp.name, created=rp.created, age_seconds=age,
            facts={"protected": rp.protected}))
    found = RestoreFinding(snapshot_set_consistent=restored.consistent, retention=tuple(restored.retention),
                           snapshot_set_detail=None if restored.consistent else restored.consistency_detail)
    note.finding = found
    parts = find_parts(restored.view, sb.plan.restore.layout, sb.fs)
    sb.parts = parts
    for repo in (parts.daemon_repo, parts.miner_repo):
        # A repo copied from production carries the live node's `api` file: never let anything dial it.
        sb.fs.unlink(repo / "api")
    if sb.plan.restore.layout.storage_remap:
        moved = remap_storage(parts.miner_repo, parts.root, sb.fs)
        found = dataclasses.replace(found, storage_paths_remapped=len(moved))
    fence.write_winning_post_fence(parts.miner_repo / "config.toml", sb.fs)
    # DESIGN rule 2b: nothing the standby holds or announces may be valid or visible on production.
    isolated = [isolation.isolate_repo(repo, sb.fs, libp2p=libp2p)[0]
                for repo, libp2p in ((parts.daemon_repo, True), (parts.miner_repo, False))]
    sb.journal.fact("isolation", "; ".join(i.summary() for i in isolated))
    note.finding = found
    if sb.fs.local:
        sb.backup_copy = parts.miner_backup
        found = describe_restore_files(parts, started, found)
    elif parts.miner_backup is not None:  # the chain snapshot stays there (far too big); the backup is copied
        sb.backup_copy, found = fetch_backup(sb.fs, parts.miner_backup, sb.scratch(), found)
        if sb.backup_copy is not None:
            found = describe_restore_files(dataclasses.replace(parts, miner_backup=sb.backup_copy,
                                                               chain_snapshot=None), started, found)
    note.finding = found
    sb.target.publish_workspace()  # a copy the engine keeps (a Docker volume) is part of the restore phase
    names = ", ".join(rp.name for _, rp in restored.points)
    return dataclasses.replace(found, detail=f"workspace from {names}")
