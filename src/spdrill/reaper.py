"""Reap what killed drills left: `cleanup` asks every kind of target, `reap` does this host's share.

This host: standby processes (marked with the drill id), workspaces (clones, snapshots), drill folders, ssh
control folders. Elsewhere, each target class reaps its own (`Target.reap`): the Docker engine's labelled
containers, networks and volumes; the plan's ssh host's folders, processes and units.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from spdrill.errors import DrillError
from spdrill.snapshots import cleanup as cleanup_workspaces
from spdrill.snapshots.cleanup import owner_alive, owner_tag
from spdrill.targets.local import MARK_ENV

if TYPE_CHECKING:
    from spdrill.plan import Plan

OWNER_FILE = ".spdrill-drill"
NOTHING = "nothing to clean up"
DEFAULT_WORKDIR = Path("/var/tmp/spdrill")


def cleanup(*, drill_id: str | None = None, workdir: Path = DEFAULT_WORKDIR,
            plan_path: Path | None = None) -> list[str]:
    """`spdrill cleanup`: this host's leftovers, then each kind of target's (`Target.reap`), one line per thing.

    One drill's, or (None) those of every drill whose harness is gone. With a plan, its work folder and
    workspace roots replace `workdir`, and its ssh host is swept too. A target whose place cannot be looked at
    says so in a `<kind>: skipped (why)` line and the others go on; an error on this host ends the cleanup.
    """
    from spdrill.planload import load_validated
    from spdrill.targets import ReapScope, target_classes

    plan = load_validated(plan_path) if plan_path is not None else None
    roots: list[Path] = []
    if plan is not None:
        workdir, roots = _roots(plan)
    scope = ReapScope(drill_id=drill_id, workdir=workdir, extra_roots=tuple(roots), plan=plan)
    lines = reap(drill_id=drill_id, workdir=workdir, extra_roots=roots)
    for cls in target_classes():
        if not cls.reaps(scope):
            continue
        try:
            found = cls.reap(scope)
        except DrillError as exc:  # e.g. no engine here: nothing of ours can be running in one
            lines.append(f"{cls.kind}: skipped ({exc})")
            continue
        lines = [ln for ln in lines if ln != NOTHING] + found
    return lines or [NOTHING]


def write_owner(folder: Path, drill_id: str) -> None:
    """Mark a drill folder with its id and the harness process that owns it."""
    (folder / OWNER_FILE).write_text(f"{drill_id}\n{owner_tag()}\n")


def _folder_owner(folder: Path) -> tuple[str, str]:
    try:
        lines = (folder / OWNER_FILE).read_text().splitlines()
    except OSError:
        return folder.name.removeprefix("spdrill-"), ""
    return (lines[0] if lines else ""), (lines[1] if len(lines) > 1 else "")


def drill_processes() -> dict[int, str]:
    """pid → drill id of every process carrying the drill mark in its environment."""
    found: dict[int, str] = {}
    marker = (MARK_ENV + "=").encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        for var in env.split(b"\0"):
            if var.startswith(marker):
                found[int(entry.name)] = var[len(marker):].decode(errors="replace")
    return found


def reap(*, drill_id: str | None = None, workdir: Path = DEFAULT_WORKDIR,
         extra_roots: Sequence[Path] = ()) -> list[str]:
    """Remove one drill's leftovers on this host, or (None) those of every drill whose harness process is gone.

    `extra_roots` are folders where sources make workspaces outside the drill folder (a btrfs source's
    `workspace_root`); ZFS clones are found by their `spdrill:drill` property wherever they are.
    """
    removed: list[str] = []
    stale: set[str] = set()
    folders = sorted(workdir.glob("spdrill-*")) if workdir.is_dir() else []
    for folder in folders:
        did, owner = _folder_owner(folder)
        if (drill_id is not None and did == drill_id) or (drill_id is None and not owner_alive(owner)):
            stale.add(did)
    if drill_id is not None:
        stale.add(drill_id)
    for pid, did in drill_processes().items():
        if did in stale:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    continue
            removed.append(f"process {pid} (drill {did})")
    for did in sorted(stale):
        roots = sorted((workdir / f"spdrill-{did}").glob("ws*")) + list(extra_roots)
        removed += [f"workspace {p}" for p in cleanup_workspaces(did, roots=roots)]
        folder = workdir / f"spdrill-{did}"
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(f"drill folder {folder}")
    if drill_id is None:
        # Clones and workspaces whose drill folder is already gone: found by their marks and dead owners.
        removed += [f"workspace {p}" for p in cleanup_workspaces(None, roots=list(extra_roots))]
    from spdrill.targets.ssh.conn import reap_control_dirs

    removed += reap_control_dirs()  # a killed harness's ssh control folders (ssh target) on this host
    return removed or [NOTHING]


def _roots(plan: Plan) -> tuple[Path, list[Path]]:
    workdir = Path(str(plan.target.options.get("workdir", DEFAULT_WORKDIR)))
    roots = [Path(str(s.table["workspace_root"])) for s in plan.restore.sources if "workspace_root" in s.table]
    return workdir, roots
