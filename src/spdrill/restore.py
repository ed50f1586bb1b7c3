"""Restore: pick the restore points, make the drill's workspace, and find the Lotus parts inside it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from spdrill.errors import InputError
from spdrill.plan import Layout, RestoreSpec
from spdrill.snapshots import RestorePoint, Workspace, load_source, retention_report, select_set
from spdrill.snapshots.retention import RetentionCheck
from spdrill.snapshots.runner import CommandRunner
from spdrill.workfs import LocalFS, WorkFS


@dataclass(frozen=True)
class RestoredParts:
    """Where the drill's workspace holds each part of the restore point."""

    root: Path
    daemon_repo: Path
    miner_repo: Path
    chain_snapshot: Path | None
    miner_backup: Path | None


@dataclass
class Restored:
    """The workspaces of one drill and the restore points they came from."""

    workspaces: list[Workspace]
    points: list[tuple[str, RestorePoint]]  # (mount, restore point)
    view: Path
    consistent: bool
    consistency_detail: str
    retention: tuple[RetentionCheck, ...] = ()  # one row per resilience fact per source

    def destroy(self) -> None:
        """Destroy every workspace (idempotent); the restore points are never touched."""
        errors = []
        for ws in reversed(self.workspaces):
            try:
                ws.destroy()
            except Exception as exc:  # keep destroying the others, then report
                errors.append(f"{ws.path}: {exc}")
        if errors:
            raise InputError("could not destroy every workspace: " + "; ".join(errors))


def restore(spec: RestoreSpec, *, drill_id: str, root: Path, at: datetime, runner: CommandRunner | None = None,
            fs: WorkFS | None = None) -> Restored:
    """Create the workspaces of the newest consistent snapshot set under `root` and a view that mounts them.

    `runner` and `fs` reach the host holding the restore points (this one when None).
    """
    fs = fs or LocalFS()
    sources = [load_source(s.table, where=s.where, runner=runner) for s in spec.sources]
    choice = select_set(sources, window=timedelta(seconds=spec.window), at=at)
    view = root / "workspace"
    workspaces: list[Workspace] = []
    points: list[tuple[str, RestorePoint]] = []
    missing = [m.source for m in choice.members if m.restore_point is None]
    if missing or not choice.members:
        raise InputError(f"no restore point found in {', '.join(missing) or 'the plan'}: nothing to restore; "
                         "check [[restore.source]] (path, dataset) and `spdrill snapshots --plan FILE`")
    chosen = [m.restore_point for m in choice.members if m.restore_point is not None]
    try:
        for i, (s, src, rp) in enumerate(zip(spec.sources, sources, chosen, strict=True)):
            ws = src.create_workspace(rp, drill_id, root / f"ws{i}")
            workspaces.append(ws)
            points.append((s.mount, rp))
            _mount(view, s.mount, ws.path, fs)
    except BaseException:
        for ws in reversed(workspaces):
            ws.destroy()
        raise
    retention = tuple(c for src in sources for c in retention_report(
                     src, src.restore_points(), min_count=spec.retention.min_count, now=at,
                     min_oldest_age=_td(spec.retention.min_history), max_oldest_age=_td(spec.retention.max_history),
                     require_protection=spec.retention.require_protection))
    return Restored(workspaces, points, view, choice.consistent, "; ".join(choice.problems()), retention)


def _td(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


def _mount(view: Path, mount: str, target: Path, fs: WorkFS) -> None:
    """Make `target` appear at `view/mount`: the view itself for ".", else a symlink inside it."""
    if mount in (".", ""):
        if fs.is_dir(view):
            raise InputError(f"two sources claim the workspace root ({view})")
        fs.symlink(view, target)
        return
    fs.mkdir(view)
    dest = fs.resolve(view) / mount
    fs.mkdir(dest.parent)
    # A parent dataset's clone holds an empty folder where its child dataset was mounted: make way for it.
    if (fs.is_dir(dest) and not fs.rmdir(dest)) or fs.is_file(dest):
        raise InputError(f"two sources claim {mount} in the workspace ({dest}); give each its own mount")
    fs.symlink(dest, target)


def find_parts(view: Path, layout: Layout, fs: WorkFS | None = None) -> RestoredParts:
    """Locate the daemon repo, miner repo, newest chain snapshot and newest metadata backup in the workspace."""
    fs = fs or LocalFS()
    root = fs.resolve(view)
    daemon, miner = root / layout.daemon_repo, root / layout.miner_repo
    for what, p in (("daemon repo (restore.layout.daemon_repo)", daemon),
                    ("miner repo (restore.layout.miner_repo)", miner)):
        if not fs.is_dir(p):
            raise InputError(f"the restore point has no {what} at {p}; fix [restore.layout] or the backup")
    return RestoredParts(root=root, daemon_repo=daemon, miner_repo=miner,
                         chain_snapshot=fs.newest(root, layout.chain_snapshot),
                         miner_backup=fs.newest(root, layout.miner_backup))


def remap_storage(miner_repo: Path, workspace_root: Path, fs: WorkFS | None = None) -> list[tuple[str, str]]:
    """Point the workspace copy's storage.json at the workspace's storage folders; return (old, new) pairs.

    Production paths (say /mnt/store-0 or the backup's own folder) do not exist on the standby; the
    workspace holds the same folder under the restore point. For each path, the longest tail of it that
    exists in the workspace and holds a sectorstore.json is taken.
    """
    fs = fs or LocalFS()
    f = miner_repo / "storage.json"
    if not fs.is_file(f):
        return []
    try:
        doc = json.loads(fs.read_text(f))
        paths = doc["StoragePaths"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{f}: not a Lotus storage.json ({{\"StoragePaths\": [{{\"Path\": …}}]}}): {exc}") from None
    changes = []
    for entry in paths:
        old = str(entry.get("Path", ""))
        new = _workspace_twin(Path(old), workspace_root, fs)
        if new is not None and str(new) != old:
            entry["Path"] = str(new)
            changes.append((old, str(new)))
    if changes:
        fs.write_text(f, json.dumps(doc, indent=2) + "\n")
    return changes


def _workspace_twin(path: Path, root: Path, fs: WorkFS) -> Path | None:
    parts: Sequence[str] = path.parts[1:] if path.is_absolute() else path.parts
    for i in range(len(parts)):
        candidate = root.joinpath(*parts[i:])
        if fs.is_file(candidate / "sectorstore.json"):
            return candidate
    return None
