"""Marks on every workspace a drill creates, and the reaper that removes what a killed drill left.

Directory and btrfs workspaces live at `<root>/spdrill-<drill_id>-<kind>-<n>` beside a marker file
`<same>.marker.json`; the marker is written first, so a drill killed at any moment leaves a marker to find.
ZFS clones carry the user properties `spdrill:drill` and `spdrill:owner` instead (see zfs.py).
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from spdrill.errors import TargetError

from .runner import CommandRunner, LocalRunner, check

__all__ = ["cleanup", "claim_slot", "owner_tag", "owner_alive", "remove_marked"]

MARKER_SUFFIX = ".marker.json"
_SLOT = re.compile(r"spdrill-(?P<drill>[A-Za-z0-9][A-Za-z0-9_.-]*)-(?P<kind>directory|btrfs)-(?P<n>\d+)")
_TIMEOUT = 600.0


def owner_tag() -> str:
    """`host:pid` of this process, recorded so a reaper can tell a live drill from a killed one."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str) -> bool:
    """Whether the drill process named by `owner` may still run; unknown hosts count as alive."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another host's process cannot be checked from here: never reap it unasked
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_slot(runner: CommandRunner, root: Path, drill_id: str, kind: str, mode: str, rp_name: str) -> Path:
    """Write a marker for the next free `spdrill-<id>-<kind>-<n>` under root and return that path."""
    check(runner, ["mkdir", "-p", str(root)], timeout=30, what=f"create workspace root {root}")
    for n in range(10_000):
        path = root / f"spdrill-{drill_id}-{kind}-{n}"
        record = {
            "spdrill": 1,
            "drill_id": drill_id,
            "kind": kind,
            "mode": mode,
            "restore_point": rp_name,
            "owner": owner_tag(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        # noclobber makes the claim atomic: two drills racing for one slot cannot both win it.
        script = 'set -C; [ ! -e "$3" ] && printf "%s\\n" "$1" > "$2"'
        marker = f"{path}{MARKER_SUFFIX}"
        done = runner.run(["sh", "-c", script, "sh", json.dumps(record), marker, str(path)], timeout=30)
        if done.returncode == 0:
            return path
        exists = runner.run(["test", "-e", marker], timeout=30)
        if exists.returncode != 0 and runner.run(["test", "-e", str(path)], timeout=30).returncode != 0:
            raise TargetError(f"could not write marker {marker}: {done.stderr.strip() or 'unknown error'}")
    raise TargetError(f"no free workspace slot under {root} for drill {drill_id}: remove old ones")


def remove_marked(runner: CommandRunner, path: Path, mode: str) -> None:
    """Remove the workspace at `path` by how it was made, then its marker."""
    if mode == "overlay":
        merged = path / "merged"
        if runner.run(["mountpoint", "-q", str(merged)], timeout=30).returncode == 0:
            check(runner, ["umount", str(merged)], timeout=120, what=f"unmount overlay {merged}")
    if mode == "btrfs":
        if runner.run(["test", "-e", str(path)], timeout=30).returncode == 0:
            check(
                runner,
                ["btrfs", "subvolume", "delete", str(path)],
                timeout=_TIMEOUT,
                what=f"delete btrfs workspace {path}",
            )
    else:
        # --one-file-system: should an unmount have failed silently, never recurse into the source below.
        check(
            runner,
            ["rm", "-rf", "--one-file-system", str(path)],
            timeout=_TIMEOUT,
            what=f"remove workspace {path}",
        )
    check(runner, ["rm", "-f", f"{path}{MARKER_SUFFIX}"], timeout=30, what=f"remove marker of {path}")


def _reap_root(runner: CommandRunner, root: Path, drill_id: str | None) -> list[str]:
    listing = runner.run(["find", str(root), "-maxdepth", "1", "-name", f"spdrill-*{MARKER_SUFFIX}"], timeout=60)
    removed: list[str] = []
    for line in sorted(listing.stdout.splitlines()):
        marker = Path(line)
        # The workspace path comes from the marker's own name, never from its content: a tampered or
        # foreign marker cannot point the reaper at anything outside the spdrill-* convention.
        match = _SLOT.fullmatch(marker.name[: -len(MARKER_SUFFIX)])
        if match is None or (drill_id is not None and match["drill"] != drill_id):
            continue
        try:
            record = json.loads(runner.run(["cat", str(marker)], timeout=30).stdout or "{}")
        except json.JSONDecodeError:
            record = {}
        if drill_id is None and owner_alive(str(record.get("owner", ""))):
            continue
        mode = record.get("mode") if record.get("mode") in ("copy", "overlay", "btrfs") else "copy"
        if match["kind"] == "btrfs":
            mode = "btrfs"
        path = marker.with_name(marker.name[: -len(MARKER_SUFFIX)])
        remove_marked(runner, path, str(mode))
        removed.append(str(path))
    return removed


def cleanup(
    drill_id: str | None = None, *, runner: CommandRunner | None = None, roots: Sequence[Path] = ()
) -> list[str]:
    """Remove what drills left: one drill's workspaces, or (None) those whose drill process is gone."""
    from .zfs import reap_clones  # lazily, like the registry: no zfs import for a directory-only plan

    run = runner or LocalRunner()
    removed = reap_clones(run, drill_id)
    for root in roots:
        removed += _reap_root(run, Path(root), drill_id)
    return removed
