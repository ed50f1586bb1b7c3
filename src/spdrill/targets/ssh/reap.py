"""Reap what killed drills left on an ssh target's host: drill folders, marked processes, transient units.

A drill folder there holds `.spdrill-remote`: the drill id, then the owning harness as `host:pid`. A drill
is stale when that harness is gone (checked here, so only from the harness host that ran it; another host's
harness is never presumed dead) or when its id is asked for. Only stale drills' processes (those carrying
SPDRILL_DRILL=<id>) and units (`spdrill-<id>-*`) are touched, so drills still running are left alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
from typing import Any

from spdrill.reaper import drill_processes
from spdrill.snapshots.cleanup import owner_alive
from spdrill.targets.local import MARK_ENV
from spdrill.targets.ssh import conn as sshconn
from spdrill.targets.ssh import units as sshunits

MARK_FILE = ".spdrill-remote"
_ID = re.compile(r"^[A-Za-z0-9_.-]+$")  # drill ids are made of these; anything else is not ours to reap


def _list_command(workdir: str) -> str:
    """Prints `folder<TAB>id<TAB>owner` for each drill folder under the work folder."""
    return (f"for f in {shlex.quote(workdir)}/spdrill-*/{MARK_FILE}; do [ -f \"$f\" ] || continue; "
            "printf '%s\\t%s\\t%s\\n' \"$(dirname \"$f\")\" \"$(sed -n 1p \"$f\")\" \"$(sed -n 2p \"$f\")\"; done")


def _reap_command(workdir: str, drill_id: str) -> str:
    """Kill the drill's marked processes, stop its units, remove its folder; prints one line per thing."""
    mark = shlex.quote(f"{MARK_ENV}={drill_id}")
    folder = shlex.quote(f"{workdir}/spdrill-{drill_id}")
    return (sshunits.reap_units_command(drill_id) + "; "
            "for e in /proc/[0-9]*/environ; do "
            f"if tr '\\0' '\\n' < \"$e\" 2>/dev/null | grep -qxF {mark}; then "
            "p=${e#/proc/}; p=${p%/environ}; kill -KILL \"$p\" 2>/dev/null && echo \"process $p\"; fi; done; "
            f"if [ -e {folder} ]; then rm -rf {folder} && echo \"drill folder {folder}\"; fi; true")


def sweep(conn: Any, opts: sshconn.SshOptions, *, drill_id: str | None) -> list[str]:
    """Reap one drill (by id), or every drill whose harness is gone, over an open connection."""
    where = opts.where()
    listed = sshconn.run(conn, _list_command(opts.workdir), timeout=60, where=where).stdout
    stale: set[str] = set()
    for line in listed.splitlines():
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        _folder, did, owner = parts
        if did == drill_id or (drill_id is None and owner and not owner_alive(owner)):
            stale.add(did)
    if drill_id is not None:
        stale.add(drill_id)
    removed: list[str] = []
    for did in sorted(d for d in stale if _ID.match(d)):
        res = sshconn.run(conn, _reap_command(opts.workdir, did), timeout=120, where=where)
        removed += [f"{where}: {line} (drill {did})" for line in res.stdout.splitlines() if line.strip()]
    # The killed harness's `ssh -N -L` forwards, on this host, carry the same mark.
    for pid, did in drill_processes().items():
        if did in stale:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                removed.append(f"process {pid} (drill {did})")
    return removed + sshconn.reap_control_dirs()
