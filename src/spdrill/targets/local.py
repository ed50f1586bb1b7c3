"""The `local` target: standby processes on this host, in a drill-private folder, on free ports."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spdrill.errors import PlanError, TargetError
from spdrill.plan import StandbySpec
from spdrill.targets import limits
from spdrill.targets.base import CommandResult, Target

_log = logging.getLogger("spdrill.targets.local")

# Variables that would point a standby at the live miner or a real repo: never inherited from the operator.
_SCRUB_PREFIXES = ("LOTUS_", "FULLNODE_API_INFO", "MINER_API_INFO", "WORKER_API_INFO", "STORAGE_API_INFO")
MARK_ENV = "SPDRILL_DRILL"
STOP_GRACE_S = 10.0


def standby_env(extra: Mapping[str, str], *, drill_id: str, bindir: str | None) -> dict[str, str]:
    """The environment of a standby process: the operator's, minus anything Lotus, plus the drill's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
    if bindir:
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env[MARK_ENV] = drill_id
    env.update(extra)
    return env


class LocalTarget(Target):
    """Runs the standby's roles as child processes of the harness, each in its own process group."""

    kind = "local"
    OPTIONS = frozenset({"workdir"})

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> None:
        super().validate(options)
        for key, value in options.items():
            if not isinstance(value, str) or not value.startswith("/"):
                raise PlanError(f"expected an absolute folder, found {value!r}", field=f"target.local.{key}")

    def __init__(self, options: Mapping[str, Any], standby: StandbySpec | None = None) -> None:
        super().__init__(options, standby)
        self.workdir = Path(str(options.get("workdir", os.environ.get("SPDRILL_WORKDIR", "/var/tmp/spdrill"))))
        self.bindir = self.standby.bindir
        self.root: Path | None = None
        self.reaped: list[str] = []
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def open(self, drill_id: str) -> Path:
        from spdrill.reaper import NOTHING, reap

        # A drill killed with SIGKILL leaves its standby running: reap those (their harness is gone) first.
        self.reaped = [r for r in reap(workdir=self.workdir) if r != NOTHING]
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            root = self.workdir / f"spdrill-{drill_id}"
            (root / "logs").mkdir(parents=True)
        except OSError as exc:
            raise TargetError(f"cannot create the drill folder under {self.workdir}: {exc.strerror}; "
                              "set [target.local] workdir to a writable folder") from None
        from spdrill.reaper import write_owner

        write_owner(root, drill_id)
        self.root = root
        return root

    def _env(self, env: Mapping[str, str]) -> dict[str, str]:
        assert self.root is not None
        return standby_env(env, drill_id=self.root.name.removeprefix("spdrill-"), bindir=self.bindir)

    def run(self, argv: Sequence[str], *, env: Mapping[str, str], timeout: float) -> CommandResult:
        try:
            p = subprocess.run(list(argv), env=self._env(env), capture_output=True, timeout=timeout,
                               cwd=self.root, start_new_session=True)
        except FileNotFoundError:
            raise TargetError(f"{argv[0]}: program not found on this host; install Lotus or set "
                              "[standby] bindir to the folder holding lotus, lotus-miner and lotus-worker") from None
        except subprocess.TimeoutExpired:
            raise TargetError(f"{argv[0]} {argv[1] if len(argv) > 1 else ''}: no answer within "
                              f"{timeout:.0f}s") from None
        return CommandResult(tuple(argv), p.returncode, p.stdout.decode(errors="replace"),
                             p.stderr.decode(errors="replace"))

    def spawn(self, role: str, argv: Sequence[str], *, env: Mapping[str, str], port: int) -> None:
        assert self.root is not None, "open() first"
        # lotus-worker exits when its soft open-files limit is below 100 000 (Lotus cli/worker/worker.go:309-318).
        # Raised here in the harness, which every role inherits, not in a preexec_fn: roles are spawned from
        # the bring-up's threads, where a preexec_fn may deadlock the child (Python's subprocess docs).
        soft, hard = limits.raise_own_nofile()
        log = open(self.root / "logs" / f"{role}.log", "ab")  # noqa: SIM115 - owned by the child
        if role == "worker" and soft < limits.LOTUS_WORKER_NOFILE:
            note = limits.short_limit_note(soft, hard)
            _log.warning("%s", note)
            log.write(note.encode() + b"\n")
            log.flush()
        try:
            proc = subprocess.Popen(list(argv), env=self._env(env), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=self.root, start_new_session=True)
        except FileNotFoundError:
            raise TargetError(f"{argv[0]}: program not found on this host; install Lotus or set "
                              "[standby] bindir") from None
        finally:
            log.close()
        with self._lock:
            self._procs[role] = proc

    def exit_code(self, role: str) -> int | None:
        with self._lock:
            proc = self._procs.get(role)
        return None if proc is None else proc.poll()

    def free_port(self) -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def logs(self) -> dict[str, str]:
        if self.root is None:
            return {}
        return {p.stem: p.read_text(errors="replace") for p in sorted((self.root / "logs").glob("*.log"))}

    def stop_processes(self) -> None:
        """Stop every role: SIGTERM to its process group, then SIGKILL after a grace period."""
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=5)
            _signal_group(proc, signal.SIGKILL)  # stragglers the role left in its group
            _wait_group_gone(proc.pid)

    def close(self) -> None:
        self.stop_processes()
        if self.root is not None and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        self.root = None


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _wait_group_gone(pgid: int, timeout: float = 5.0) -> None:
    """Wait until no live process is left in a process group: a SIGKILLed one still runs for a moment."""
    deadline = time.monotonic() + timeout
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _group_alive(pgid: int) -> bool:
    """Whether a process other than a zombie is in the group (/proc/PID/stat: state and pgrp after the name)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False
