"""SSH connections for the ssh target: testinfra hosts (ssh or paramiko backend) with host-key checking on,
per-command timeouts, plain-words errors, and local port forwards to the standby's APIs."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spdrill.duration import parse_duration
from spdrill.errors import CannotRunError, PlanError
from spdrill.snapshots.runner import CommandResult
from spdrill.targets.base import HostResult

TIMEOUT_RC = 124  # coreutils `timeout`: the command ran past its limit


@dataclass(frozen=True)
class SshOptions:
    """The `[target.ssh]` table, validated."""

    host: str
    port: int = 0
    user: str = ""
    backend: str = "ssh"
    ssh_config: str = ""
    identity_file: str = ""
    known_hosts: str = ""
    host_key_checking: bool = True
    connect_timeout: float = 10.0
    command_timeout: float = 600.0
    workdir: str = "/var/tmp/spdrill"
    bindir: str = ""
    start: str = "nohup"
    api: str = "forward"
    restore: str = "harness"  # "remote": restore points and workspace live on the standby host

    def hostspec(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.backend}://{user}{self.host}{port}"

    def where(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.host}{':' + str(self.port) if self.port else ''}"


def _fail(key: str, message: str) -> PlanError:
    return PlanError(message, field=f"target.ssh.{key}")


def parse_options(options: Mapping[str, Any]) -> SshOptions:
    """Validate `[target.ssh]`; PlanError names `target.ssh.<key>`."""
    fields = SshOptions.__dataclass_fields__
    for key in options:
        if key not in fields:
            raise _fail(key, f"unknown key; expected one of: {', '.join(sorted(fields))}")
    if not isinstance(options.get("host"), str) or not options["host"]:
        raise _fail("host", "missing; expected the standby host's name or ssh_config alias")
    out: dict[str, Any] = {}
    for key, value in options.items():
        default = fields[key].default
        if key in ("connect_timeout", "command_timeout"):
            try:
                out[key] = parse_duration(str(value))
            except ValueError as exc:
                raise _fail(key, str(exc)) from None
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise _fail(key, f"expected true or false, found {value!r}")
            out[key] = value
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
                raise _fail(key, f"expected a TCP port 1-65535, found {value!r}")
            out[key] = value
        elif not isinstance(value, str):
            raise _fail(key, f"expected a string, found {value!r}")
        else:
            out[key] = value
    choices = {"backend": ("ssh", "paramiko"), "start": ("nohup", "systemd"), "api": ("forward", "direct"),
               "restore": ("harness", "remote")}
    for key, allowed in choices.items():
        if key in out and out[key] not in allowed:
            raise _fail(key, f"expected one of {', '.join(allowed)}, found {out[key]!r}")
    for key in ("workdir", "bindir"):
        if out.get(key) and not out[key].startswith("/"):
            raise _fail(key, f"expected an absolute folder on the standby host, found {out[key]!r}")
    return SshOptions(**out)


def explain(stderr: str, where: str) -> CannotRunError:
    """A CannotRunError in plain words for what the ssh client or paramiko said."""
    s = stderr.lower()
    if "host key verification failed" in s or "no matching host key" in s or "not found in known_hosts" in s \
            or "unknown host key" in s:
        return CannotRunError(f"{where}: the host key is not in known_hosts (host-key checking is on); check "
                              "the key's fingerprint and add it (ssh-keyscan >> known_hosts, or [target.ssh] "
                              "known_hosts)")
    if "identification has changed" in s or "badhostkey" in s or "does not match" in s:
        return CannotRunError(f"{where}: the host key CHANGED since it was recorded in known_hosts; this may "
                              "be an attack or a reinstalled host: verify it before removing the old key")
    if "permission denied" in s or "authentication failed" in s or "no authentication methods" in s:
        return CannotRunError(f"{where}: the host refused our key; check [target.ssh] identity_file and that "
                              "its public key is in the remote user's authorized_keys")
    if "could not resolve" in s or "name or service not known" in s or "temporary failure in name" in s:
        return CannotRunError(f"{where}: unknown host name; check [target.ssh] host and your ssh_config")
    last = stderr.strip().splitlines()[-1] if stderr.strip() else "no answer"
    return CannotRunError(f"{where}: unreachable ({last}); check the host is up, the port, and firewalls")


CONTROL_PREFIX = "spdrill-ssh-"
_OWNER = "owner"


def connect(opts: SshOptions, drill_id: str = "") -> tuple[Any, Path]:
    """A testinfra Host for the plan's ssh options, and a private folder for its control socket.

    The folder names its drill and harness process, so a reaper can remove it when a killed harness left it.
    """
    import testinfra

    from spdrill.snapshots.cleanup import owner_tag

    private = Path(tempfile.mkdtemp(prefix=CONTROL_PREFIX))
    (private / _OWNER).write_text(f"{drill_id}\n{owner_tag()}\n")
    if opts.backend == "paramiko":
        host = testinfra.get_host(opts.hostspec(), ssh_config=opts.ssh_config or None,
                                  ssh_identity_file=opts.identity_file or None,
                                  timeout=int(opts.connect_timeout))
        # testinfra's paramiko backend accepts unknown host keys with a warning: give it a checking client.
        try:
            host.backend.__dict__["client"] = _paramiko_client(opts)
        except CannotRunError:
            shutil.rmtree(private, ignore_errors=True)
            raise
        return host, private
    extra = ["-o BatchMode=yes", "-o ServerAliveInterval=5", "-o ServerAliveCountMax=3",
             f"-o StrictHostKeyChecking={'yes' if opts.host_key_checking else 'no'}"]
    if opts.known_hosts:
        extra.append(f"-o UserKnownHostsFile={shlex.quote(opts.known_hosts)}")
    host = testinfra.get_host(opts.hostspec(), ssh_config=opts.ssh_config or None,
                              ssh_identity_file=opts.identity_file or None, timeout=int(opts.connect_timeout),
                              ssh_extra_args=" ".join(extra), controlpath=str(private / "cm"),
                              controlpersist=60)
    return host, private


def disconnect(host: Any, opts: SshOptions, private: Path | None) -> None:
    """Close a connection made by `connect`, so no ssh process outlives the drill."""
    if opts.backend == "paramiko":
        host.backend.client.close()
    elif private is not None:
        # End the ControlMaster testinfra started.
        subprocess.run(["ssh", "-o", f"ControlPath={private / 'cm'}", "-O", "exit", opts.host],
                       capture_output=True, timeout=10, check=False)
    if private is not None:
        shutil.rmtree(private, ignore_errors=True)


def _paramiko_client(opts: SshOptions) -> Any:
    import paramiko

    cfg: dict[str, Any] = {"hostname": opts.host, "port": opts.port or 22, "username": opts.user or None,
                           "timeout": opts.connect_timeout, "banner_timeout": opts.connect_timeout,
                           "auth_timeout": opts.connect_timeout}
    config_file = opts.ssh_config or os.path.expanduser("~/.ssh/config")
    known = [opts.known_hosts] if opts.known_hosts else []
    if os.path.isfile(config_file):
        conf = paramiko.SSHConfig.from_path(config_file).lookup(opts.host)
        cfg["hostname"] = conf.get("hostname", opts.host)
        if "port" in conf and not opts.port:
            cfg["port"] = int(conf["port"])
        if "user" in conf and not opts.user:
            cfg["username"] = conf["user"]
        if "identityfile" in conf:
            cfg["key_filename"] = [os.path.expanduser(p) for p in conf["identityfile"]]
        if "userknownhostsfile" in conf and not known:
            known = [os.path.expanduser(p) for p in conf["userknownhostsfile"].split()]
    if opts.identity_file:
        cfg["key_filename"] = opts.identity_file
        cfg["look_for_keys"] = False
    client = paramiko.SSHClient()
    if opts.host_key_checking:
        client.load_system_host_keys()
        for path in known:
            if os.path.isfile(path):
                client.load_host_keys(path)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
    else:
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(**cfg)
    except paramiko.BadHostKeyException:
        raise explain("identification has changed", opts.where()) from None
    except paramiko.AuthenticationException:
        raise explain("permission denied", opts.where()) from None
    except paramiko.SSHException as exc:
        raise explain(str(exc), opts.where()) from None
    except OSError as exc:
        raise explain(str(exc) or exc.__class__.__name__, opts.where()) from None
    return client


def run(host: Any, command: str, *, timeout: float, where: str) -> HostResult:
    """Run a shell command on the host under coreutils `timeout`; CannotRunError for transport failures."""
    wrapped = f"timeout -k 5 {max(1, int(timeout))} sh -c {shlex.quote(command)}"
    try:
        result: HostResult = host.run(wrapped)
        return result
    except RuntimeError as exc:  # testinfra's ssh backend: exit 255 is the ssh client's own failure
        out = exc.args[0] if exc.args else None
        raise explain(getattr(out, "stderr", str(exc)), where) from None
    except CannotRunError:
        raise
    except Exception as exc:  # paramiko transport errors
        raise explain(f"{exc.__class__.__name__}: {exc}", where) from None


class SshRunner:
    """Runs an argv on the standby host (CommandRunner protocol): 127 when the program is missing, 124 on timeout."""

    def __init__(self, conn: Any, where: str) -> None:
        self.conn = conn
        self.where = where

    def run(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
        args = tuple(argv)
        res = run(self.conn, shlex.join(args), timeout=timeout, where=self.where)
        return CommandResult(args, int(res.rc), res.stdout, res.stderr)


def control_dirs() -> dict[Path, tuple[str, str]]:
    """This host's ssh control folders: folder → (drill id, owning harness `host:pid`)."""
    found: dict[Path, tuple[str, str]] = {}
    for folder in Path(tempfile.gettempdir()).glob(CONTROL_PREFIX + "*"):
        try:
            lines = (folder / _OWNER).read_text().splitlines()
        except OSError:
            continue  # not one of ours, or being made right now
        found[folder] = (lines[0] if lines else "", lines[1] if len(lines) > 1 else "")
    return found


def reap_control_dirs() -> list[str]:
    """End the ControlMaster of, and remove, every control folder whose harness process is gone."""
    from spdrill.snapshots.cleanup import owner_alive

    removed = []
    for folder, (drill_id, owner) in sorted(control_dirs().items()):
        if not owner or owner_alive(owner):
            continue
        if (folder / "cm").exists():  # the master may still run (ControlPersist): ask it to exit
            subprocess.run(["ssh", "-o", f"ControlPath={folder / 'cm'}", "-O", "exit", "spdrill-reap"],
                           capture_output=True, timeout=10, check=False)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(f"ssh control folder {folder}" + (f" (drill {drill_id})" if drill_id else ""))
    return removed
