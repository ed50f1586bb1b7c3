"""The `ssh` target: the standby's roles on a GPU host reached over SSH (pytest-testinfra, ssh or paramiko).

Roles start as `setsid sh -c '…; echo $? > pids/<role>.exit'` with pid files in the drill folder (or as
transient systemd units, `start = "systemd"`). The harness reaches the remote APIs through SSH local port
forwards (`api = "forward"`, the default: the standby keeps listening on 127.0.0.1 there) or at the host's
own address (`api = "direct"`, when the plan opens the ports). With `restore = "harness"` (the default) the
restore runs in the harness, so the drill folder must be one both machines see at the same path (this host,
or shared storage). With `restore = "remote"` the restore-point sources (that host's ZFS or btrfs snapshots,
or its backup folders) run their commands on the standby host and the drill's file work goes through SSH
too: nothing of the workspace ever exists on the harness host.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import shlex
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spdrill.errors import CannotRunError, DrillError, TargetError
from spdrill.plan import StandbySpec
from spdrill.targets import limits
from spdrill.targets.base import CommandResult, Host, HostResult, ReapScope, Target
from spdrill.targets.local import MARK_ENV
from spdrill.targets.ssh import conn as sshconn
from spdrill.targets.ssh import units as sshunits
from spdrill.targets.ssh.conn import SshRunner
from spdrill.targets.ssh.forward import ParamikoForward, ParamikoReverse, SshForward
from spdrill.workfs import LocalFS, RunnerFS, WorkFS

# Variables that would point a standby at the live miner: unset before any standby command runs.
_SCRUB = r"LOTUS_[A-Za-z0-9_]*\|FULLNODE_API_INFO\|MINER_API_INFO\|WORKER_API_INFO\|STORAGE_API_INFO"
STOP_GRACE_S = 10
ALIVE_TTL_S = 1.0


class SshTarget(Target):
    """Runs the standby's roles on one remote host; every command is bounded by a timeout."""

    kind = "ssh"

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> None:
        sshconn.parse_options(options)

    @classmethod
    def reaps(cls, scope: ReapScope) -> bool:
        return scope.plan is not None  # the host to sweep is the plan's

    @classmethod
    def reap(cls, scope: ReapScope) -> list[str]:
        """The plan's ssh host: folders, marked processes and units of killed drills; [] for other targets."""
        plan = scope.plan
        if plan is None or plan.target.kind != cls.kind:
            return []
        from spdrill.targets.ssh.reap import sweep

        opts = sshconn.parse_options(plan.target.options)
        try:
            conn, private = sshconn.connect(opts)
        except CannotRunError as exc:
            return [f"ssh {opts.where()}: skipped ({exc})"]
        try:
            return sweep(conn, opts, drill_id=scope.drill_id)
        except CannotRunError as exc:
            return [f"ssh {opts.where()}: skipped ({exc})"]
        finally:
            with contextlib.suppress(DrillError, OSError):
                sshconn.disconnect(conn, opts, private)

    def __init__(self, options: Mapping[str, Any], standby: StandbySpec | None = None) -> None:
        super().__init__(options, standby)
        self.opts = sshconn.parse_options(options)
        self.bindir = self.opts.bindir or self.standby.bindir or ""
        self.conn: Any = None
        self._private: Path | None = None
        self.root: Path | None = None
        self.drill_id = ""
        self._roles: set[str] = set()
        self._forwards: dict[int, SshForward | ParamikoForward | ParamikoReverse] = {}
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._handed: set[int] = set()
        self._alive_at: dict[str, float] = {}
        self._exited: dict[str, int] = {}
        self.reaped: list[str] = []

    def _sh(self, command: str, *, timeout: float | None = None) -> HostResult:
        assert self.conn is not None, "open() first"
        limit = timeout or self.opts.command_timeout
        return sshconn.run(self.conn, command, timeout=limit, where=self.opts.where())

    # -- lifecycle ---------------------------------------------------------------------------------------
    def open(self, drill_id: str) -> Path:
        from spdrill.reaper import write_owner

        self.conn, self._private = sshconn.connect(self.opts, drill_id)
        self.drill_id = drill_id
        hello = self._sh("echo spdrill-ok", timeout=self.opts.connect_timeout + 5)
        if "spdrill-ok" not in hello.stdout:
            raise CannotRunError(f"{self.opts.where()}: a test command gave no answer (exit {hello.rc}): "
                                 f"{hello.stderr.strip()[-200:]}")
        from spdrill.snapshots.cleanup import owner_tag
        from spdrill.targets.ssh.reap import sweep

        # Leftovers of drills whose harness (on this host) was killed: their units would hold ports.
        self.reaped = sweep(self.conn, self.opts, drill_id=None)
        root = Path(self.opts.workdir) / f"spdrill-{drill_id}"
        # The mark holds the drill id and the owning harness, so `spdrill cleanup` can tell a killed drill.
        mark = f"{drill_id}\n{owner_tag()}\n"
        made = self._sh(f"mkdir -p {shlex.quote(str(root))}/logs {shlex.quote(str(root))}/pids && "
                        f"printf %s {shlex.quote(mark)} > {shlex.quote(str(root))}/.spdrill-remote")
        if made.rc != 0:
            raise TargetError(f"{self.opts.where()}: cannot create {root}: {made.stderr.strip()[-200:]}; set "
                              "[target.ssh] workdir to a writable folder there")
        self.root = root
        if self.opts.restore == "remote":
            return root  # the owner mark is the .spdrill-remote file written above, on the standby host
        marker = root / ".spdrill-remote"
        if not marker.is_file() or marker.read_text().split("\n")[0] != drill_id:
            raise CannotRunError(f"{root} on {self.opts.host} is not visible here at the same path; the "
                                 "restore runs in the harness, so [target.ssh] workdir must be a folder both "
                                 "hosts share (or run the harness on the standby host)")
        write_owner(root, drill_id)
        return root

    def close(self) -> None:
        if self.conn is None:
            return
        try:
            self.stop_processes()
            if self.root is not None:
                self._sh(f"rm -rf {shlex.quote(str(self.root))}", timeout=120)
        except CannotRunError:
            pass  # the host went away; `spdrill cleanup` on it reaps the rest
        finally:
            for fwd in self._forwards.values():
                fwd.close()
            self._forwards.clear()
            if self.root is not None and self.root.exists():
                shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
            self._close_connection()

    def _close_connection(self) -> None:
        sshconn.disconnect(self.conn, self.opts, self._private)
        self.conn = None

    # -- addresses (paths, listen and peer addresses are the host's own, as on this one) ----------------------
    def endpoint(self, role: str, port: int) -> tuple[str, int]:
        if self.opts.api == "direct":
            return self.opts.host, port
        with self._lock:
            if port not in self._forwards:
                if self.opts.backend == "paramiko":
                    transport = self.conn.backend.client.get_transport()
                    self._forwards[port] = ParamikoForward(transport, port)
                else:
                    self._forwards[port] = SshForward(self.opts, port, drill_id=self.drill_id)
            return "127.0.0.1", self._forwards[port].local_port

    def expose_harness(self, port: int) -> tuple[str, int]:
        """Make a listener of the harness reachable by the roles: the standby host's 127.0.0.1:P, over SSH -R."""
        remote = self.free_port()
        if self.opts.backend == "paramiko":
            fwd: SshForward | ParamikoForward | ParamikoReverse = ParamikoReverse(
                self.conn.backend.client.get_transport(), remote, port)
        else:
            fwd = SshForward(self.opts, remote, drill_id=self.drill_id, local_port=port,
                             ready=lambda: self._remote_listening(remote))
        with self._lock:
            self._forwards[-remote] = fwd  # negative: a reverse forward, never an API port
        return "127.0.0.1", remote

    def _remote_listening(self, port: int) -> bool:
        out = self._sh(f"ss -Htln 'sport = :{port}'", timeout=30).stdout
        return f":{port}" in out

    def free_port(self) -> int:
        used = self._sh("ss -Htan | awk '{print $4}'", timeout=30).stdout
        taken = {int(a.rsplit(":", 1)[-1]) for a in used.split() if a.rsplit(":", 1)[-1].isdigit()}
        # Below the usual ephemeral range (32768+), so an outgoing connection cannot take it meanwhile.
        with self._lock:
            choices = [p for p in range(20000, 32768) if p not in taken and p not in self._handed]
            port = random.choice(choices)
            self._handed.add(port)  # two roles asking before either listens must not get the same port
        return port

    # -- commands and roles ------------------------------------------------------------------------------
    def _env_file(self, env: Mapping[str, str], name: str, *, export: bool = True) -> Path:
        """Write the standby env of one command to a 0600 file in the (shared) drill folder."""
        assert self.root is not None
        # A file, not the command line: tokens in argv would show in `ps` on both hosts.
        path = self.root / "pids" / f"{name}.env"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            word = "export " if export else ""
            values = {MARK_ENV: self.drill_id, **env}
            f.write("".join(f"{word}{k}={shlex.quote(v)}\n" for k, v in values.items()))
        return path

    def _prelude(self, env: Mapping[str, str], name: str) -> str:
        """Shell lines that enter the drill folder, drop inherited Lotus variables, load the standby env."""
        assert self.root is not None
        self._env_file(env, name)
        lines = [f"cd {shlex.quote(str(self.root))}",
                 f"for v in $(env | sed -n 's/^\\({_SCRUB}\\)=.*/\\1/p'); do unset \"$v\"; done"]
        if self.bindir:
            lines.append(f"export PATH={shlex.quote(self.bindir)}:$PATH")
        lines.append(f". ./pids/{name}.env")
        return "; ".join(lines)

    def run(self, argv: Sequence[str], *, env: Mapping[str, str], timeout: float) -> CommandResult:
        name = f"run-{next(self._seq)}"
        command = f"{self._prelude(env, name)}; rm -f pids/{name}.env; exec {shlex.join(argv)}"
        res = sshconn.run(self.conn, command, timeout=timeout, where=self.opts.where())
        if res.rc == sshconn.TIMEOUT_RC:
            raise TargetError(f"{' '.join(argv[:2])}: no answer within {timeout:.0f}s")
        return CommandResult(tuple(argv), int(res.rc), res.stdout, res.stderr)

    def spawn(self, role: str, argv: Sequence[str], *, env: Mapping[str, str], port: int) -> None:
        log, pid, status = f"logs/{role}.log", f"pids/{role}.pid", f"pids/{role}.exit"
        if self.opts.start == "systemd":
            assert self.root is not None
            # systemd-run resolves the program with its own PATH, not the unit's: put the bindir on it.
            path = f"PATH={shlex.quote(self.bindir)}:$PATH " if self.bindir else ""
            command = (f"rm -f {shlex.quote(str(self.root / status))}; "
                       f"{path}{self._systemd_command(role, argv, env)}")
        else:
            inner = f"{shlex.join(argv)}; echo $? > {status}"
            # lotus-worker only checks its open-files limit (Lotus cli/worker/worker.go:309-318): raise it here.
            command = (f"{self._prelude(env, role)}; {limits.nofile_shell(role, log)}; rm -f {status}; "
                       f"setsid sh -c {shlex.quote(inner)} "
                       f">> {log} 2>&1 < /dev/null & echo $! > {pid}")
        res = self._sh(command, timeout=60)
        if res.rc != 0:
            raise TargetError(f"cannot start the {role} on {self.opts.host} (exit {res.rc}): "
                              f"{res.stderr.strip()[-300:]}")
        with self._lock:
            self._roles.add(role)
            self._exited.pop(role, None)
            self._alive_at.pop(role, None)

    def _unit(self, role: str) -> str:
        return sshunits.unit_name(self.drill_id, role)

    def _systemd_command(self, role: str, argv: Sequence[str], env: Mapping[str, str]) -> str:
        """A transient unit per role (systemd-run): the host's service manager owns and logs the process."""
        assert self.root is not None
        path = ":".join(p for p in (self.bindir, "/usr/local/bin:/usr/bin:/bin") if p)
        env_file = self._env_file({"PATH": path, **env}, f"{role}-unit", export=False)
        return sshunits.start_command(unit=self._unit(role), root=self.root, role=role, env_file=env_file,
                                      argv=argv, stop_grace_s=STOP_GRACE_S)

    def exit_code(self, role: str) -> int | None:
        # Probes ask before every poll; one round trip per ALIVE_TTL_S is enough to notice a death.
        with self._lock:
            if role in self._exited:
                return self._exited[role]
            if time.monotonic() - self._alive_at.get(role, -ALIVE_TTL_S) < ALIVE_TTL_S:
                return None
        code = self._exit_code(role)
        with self._lock:
            if code is None:
                self._alive_at[role] = time.monotonic()
            else:
                self._exited[role] = code
        return code

    def _exit_code(self, role: str) -> int | None:
        if self.opts.start == "systemd":
            assert self.root is not None
            res = self._sh(sshunits.exit_probe_command(self.root, role, self._unit(role)), timeout=30)
            return sshunits.parse_exit_probe(res.stdout)
        # A killed role whose parent never reaps it stays a zombie that `kill -0` still finds: ask ps.
        res = self._sh(f"cd {shlex.quote(str(self.root))} && if [ -f pids/{role}.exit ]; then "
                       f"cat pids/{role}.exit; else p=$(cat pids/{role}.pid); "
                       "st=$(ps -o stat= -p $p 2>/dev/null || { kill -0 $p 2>/dev/null && echo R; }); "
                       'case "$st" in ""|Z*) echo gone;; *) echo running;; esac; fi', timeout=30)
        word = res.stdout.strip()
        if word == "running" or (not word and res.rc != 0):
            return None
        return int(word) if word.lstrip("-").isdigit() else -1

    def host(self) -> Host:
        """The testinfra Host of the connection: checks run on the standby host."""
        if self.conn is None:
            raise TargetError(f"the ssh target is not connected to {self.opts.where()} yet; host checks run "
                              "once the drill has opened it")
        host: Host = self.conn
        return host

    def runner(self) -> SshRunner:
        """A snapshots CommandRunner on the standby host (for restore-point sources that live there)."""
        assert self.conn is not None, "open() first"
        return SshRunner(self.conn, self.opts.where())

    def workfs(self) -> WorkFS:
        """The drill folder's files: through SSH in `restore = "remote"` mode, else on this host."""
        if self.opts.restore == "remote":
            return RunnerFS(_OpenRunner(self), self.opts.where(), timeout=self.opts.command_timeout)
        return LocalFS()

    def source_runner(self) -> SshRunner | None:
        """Restore-point sources run on the standby host in `restore = "remote"` mode."""
        return self.runner() if self.opts.restore == "remote" else None

    def logs(self) -> dict[str, str]:
        if self.conn is None or self.root is None:
            return {}
        out = {}
        for role in sorted(self._roles):
            res = self._sh(f"tail -c 2000000 {shlex.quote(str(self.root))}/logs/{role}.log", timeout=60)
            out[role] = res.stdout
            if self.opts.start == "systemd":
                journal = self._sh(sshunits.journal_command(self._unit(role)), timeout=60).stdout
                if journal.strip():
                    out[role] += f"\n--- systemd journal of {self._unit(role)} ---\n{journal}"
        return out

    def stop_processes(self) -> None:
        """SIGTERM each role's process group, SIGKILL what is left after the grace period."""
        with self._lock:
            self._alive_at.clear()  # what ran a moment ago is being stopped now
        if self.conn is None or self.root is None or not self._roles:
            return
        if self.opts.start == "systemd":
            units = [self._unit(r) for r in sorted(self._roles)]
            self._sh(sshunits.stop_command(units, STOP_GRACE_S), timeout=STOP_GRACE_S + 30)
            return
        script = (f"cd {shlex.quote(str(self.root))}; pids=$(cat pids/*.pid 2>/dev/null | tr '\\n' ' '); "
                  "for p in $pids; do kill -TERM -$p 2>/dev/null; done; i=0; "
                  f"while [ $i -lt {STOP_GRACE_S * 5} ]; do "
                  # live (non-zombie) members of the roles' process groups; unreaped zombies do not count
                  "alive=$(ps -eo pgid=,stat= 2>/dev/null | awk -v l=\" $pids \" "
                  "'index(l, \" \" $1 \" \") && $2 !~ /^Z/' | wc -l); "
                  "[ \"$alive\" = 0 ] && break; sleep 0.2; i=$((i+1)); done; "
                  "for p in $pids; do kill -KILL -$p 2>/dev/null; done; true")
        self._sh(script, timeout=STOP_GRACE_S + 30)


class _OpenRunner:
    """The target's runner, looked up at each call: the file system is handed out before the target opens."""

    def __init__(self, target: SshTarget) -> None:
        self.target = target

    def run(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
        return self.target.runner().run(argv, timeout=timeout)
