"""Transient systemd units for the ssh target's roles (`start = "systemd"`): the shell commands, not the transport.

Each role runs as `spdrill-<drill id>-<role>.service` made by `systemd-run --collect`, so a failed unit does
not linger in `systemctl --failed`. `--collect` also makes systemd forget the unit, and its ExecMainStatus,
the moment it ends: the exit status is therefore written by the unit's own ExecStopPost into
`pids/<role>.exit` in the drill folder, as the nohup mode's wrapper does.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from spdrill.targets.limits import LOTUS_WORKER_NOFILE

UNIT_PREFIX = "spdrill-"
JOURNAL_LINES = 50
# States in which the unit's process is (or may still be) running; ExecStopPost runs in "deactivating".
_LIVE = ("active", "activating", "deactivating", "reloading", "refreshing")

# ExecStopPost, as systemd reads it (`$$` is a literal `$` for the shell): a signal death becomes 128+N, as
# a shell reports it, so both start modes give the same codes (dash's `kill -l` cannot map names to numbers).
_SIGNALS = "HUP) n=1;; INT) n=2;; QUIT) n=3;; ABRT) n=6;; BUS) n=7;; KILL) n=9;; SEGV) n=11;; PIPE) n=13;; TERM) n=15;;"
_STATUS_SCRIPT = ("case $$EXIT_CODE in exited) s=$$EXIT_STATUS;; *) case $$EXIT_STATUS in " + _SIGNALS +
                  " *) n=0;; esac; s=$$((128 + n));; esac; echo $$s > {path}")


def unit_name(drill_id: str, role: str) -> str:
    """The unit of one role: the drill id in the name lets `spdrill cleanup` find a killed drill's units."""
    return f"{UNIT_PREFIX}{drill_id}-{role}"


def unit_glob(drill_id: str) -> str:
    return f"{UNIT_PREFIX}{drill_id}-*"


def start_command(*, unit: str, root: Path, role: str, env_file: Path, argv: Sequence[str],
                  stop_grace_s: int) -> str:
    """`systemd-run` for one role: logs appended to the drill folder, env from a 0600 file, bounded stop.

    The caller removes an old `pids/<role>.exit` first (a restarted role must not read its last status).
    """
    log = root / "logs" / f"{role}.log"
    status = root / "pids" / f"{role}.exit"
    post = _STATUS_SCRIPT.format(path=shlex.quote(str(status)))
    props = [f"--property=WorkingDirectory={root}", f"--property=StandardOutput=append:{log}",
             f"--property=StandardError=append:{log}", f"--property=EnvironmentFile={env_file}",
             # systemd's default stop timeout is 90 s, longer than the harness waits for `systemctl stop`.
             f"--property=TimeoutStopSec={stop_grace_s}",
             # lotus-worker exits below 100 000 open files (Lotus cli/worker/worker.go:309-318); systemd's
             # usual soft limit is 1024. Soft and hard both: a unit of the system manager may raise the hard one.
             f"--property=LimitNOFILE={LOTUS_WORKER_NOFILE}",
             f"--property=ExecStopPost=/bin/sh -c {_systemd_quote(post)}",
             "--collect", "--quiet", f"--unit={unit}"]
    return shlex.join(["systemd-run", *props, *argv])


def _systemd_quote(text: str) -> str:
    """One double-quoted word in systemd's command-line syntax."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exit_probe_command(root: Path, role: str, unit: str) -> str:
    """Prints the role's exit status, or `unit <state>` while it has none.

    The state is read before the status file: a unit seen ended has run its ExecStopPost already, so a
    missing file then means it ended without one (it was never started, or its host lost the file).
    """
    status = shlex.quote(str(root / "pids" / f"{role}.exit"))
    return (f"st=$(systemctl show -p ActiveState --value {shlex.quote(unit)} 2>/dev/null); "
            f"if [ -s {status} ]; then cat {status}; else echo \"unit ${{st:-unknown}}\"; fi")


def parse_exit_probe(stdout: str) -> int | None:
    """None while the unit runs; its status when it ended; -1 when it ended without leaving one."""
    word = stdout.strip()
    if word.lstrip("-").isdigit():
        return int(word)
    if word.startswith("unit ") and word.removeprefix("unit ") in _LIVE:
        return None
    if not word:
        return None  # no answer is not a death: the next poll asks again
    return -1


def stop_command(units: Sequence[str], stop_grace_s: int) -> str:
    """Stop the units (systemd sends SIGTERM, then SIGKILL after TimeoutStopSec) and drop failed ones."""
    names = shlex.join(units)
    return (f"timeout {stop_grace_s + 15} systemctl stop {names}; "
            f"systemctl reset-failed {names} 2>/dev/null; true")


def journal_command(unit: str) -> str:
    """systemd's own lines about the unit (start failures, exit statuses) that never reach the log file."""
    return f"journalctl -q --no-pager -o short-iso -u {shlex.quote(unit)} 2>/dev/null | tail -n {JOURNAL_LINES}"


def reap_units_command(drill_id: str) -> str:
    """Stop and forget every unit of one drill; prints `unit <name>` for each one found."""
    pattern = shlex.quote(unit_glob(drill_id))
    return ("command -v systemctl >/dev/null 2>&1 || exit 0; "
            f"for u in $(systemctl list-units --all --plain --no-legend {pattern} 2>/dev/null | "
            "awk '{print $1}'); do echo \"unit $u\"; done; "
            f"timeout 60 systemctl stop {pattern} 2>/dev/null; systemctl reset-failed {pattern} 2>/dev/null; true")
