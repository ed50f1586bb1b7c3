"""Real parts for the target tests: an sshd on 127.0.0.1 with its own keys, a Docker engine, the sim image."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spdrill.errors import CannotRunError
from spdrill.plan import Plan, TargetSpec, load_plan


def unavailable(reason: str) -> None:
    """Skip with `reason`, but fail under CI=true, where every real part must be present."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and a real part is missing: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "spdrill-test", "-f", str(path)],
                   check=True, capture_output=True)
    return (path.with_suffix(".pub")).read_text().strip()


@dataclass(frozen=True)
class Sshd:
    """A running sshd and the files a client needs to reach it."""

    port: int
    user: str
    client_key: Path
    other_key: Path
    known_hosts: Path
    ssh_config: Path
    isolated_key: Path
    isolated_dir: Path
    alias: str = "standby"

    def options(self, **extra: Any) -> dict[str, Any]:
        """[target.ssh] options reaching this sshd through its ssh_config alias."""
        workdir = extra.pop("workdir")
        return {"host": self.alias, "ssh_config": str(self.ssh_config), "workdir": workdir, **extra}


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """sshd on 127.0.0.1, free port, own host key, one authorized client key, temp config; stopped after."""
    exe = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(exe).exists() or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        unavailable("sshd or ssh is not installed (Debian: openssh-server openssh-client)")
    d = tmp_path_factory.mktemp("sshd")
    d.chmod(0o755)
    host_pub = _keygen(d / "host_key")
    client_pub = _keygen(d / "client_key")
    _keygen(d / "other_key")
    isolated_pub = _keygen(d / "isolated_key")
    isolated = d / "isolated"
    isolated.mkdir()
    # Sessions of this key see an empty tmpfs over `isolated`: a host that does not share the drill folder.
    forced = (f"unshare -m sh -c 'mount -t tmpfs none {isolated} && "
              "exec sh -c \\\"$SSH_ORIGINAL_COMMAND\\\"'")
    (d / "authorized_keys").write_text(f"{client_pub}\ncommand=\"{forced}\" {isolated_pub}\n")
    (d / "authorized_keys").chmod(0o600)
    port = free_port()
    user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True,
                                                    text=True).stdout.strip()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n"
        "MaxStartups 100:30:200\nMaxSessions 100\n"
        "AcceptEnv none\n")
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    (d / "ssh_config").write_text(
        f"Host standby\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n"
        f"  IdentityFile {d / 'client_key'}\n"
        f"  UserKnownHostsFile {d / 'known_hosts'}\n  IdentitiesOnly yes\n")
    try:
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation folder sshd insists on
    except PermissionError:
        unavailable("/run/sshd is missing and only root may create it (sshd refuses to start without it)")
    proc = subprocess.Popen([exe, "-D", "-e", "-f", str(d / "sshd_config")], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            unavailable(f"sshd would not start: {proc.stderr.read().decode()[-300:] if proc.stderr else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    try:
        yield Sshd(port, user, d / "client_key", d / "other_key", d / "known_hosts", d / "ssh_config",
                   d / "isolated_key", isolated)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass(frozen=True)
class Engine:
    """A Docker engine answering on DOCKER_HOST (or the default socket)."""

    client: Any
    started: bool


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The Docker engine; started here (Debian docker.io's dockerd) when none answers, and stopped after."""
    import docker

    existing: Any = None
    try:
        existing = docker.from_env(timeout=120)
        existing.ping()
    except Exception:
        existing = None
    if existing is not None:
        yield Engine(existing, started=False)
        return
    if os.environ.get("DOCKER_HOST") or shutil.which("dockerd") is None or os.geteuid() != 0:
        unavailable("no Docker engine answers and this set-up cannot start one (needs root and Debian's "
                    "docker.io for dockerd)")
    d = tmp_path_factory.mktemp("dockerd")
    log = open(d / "dockerd.log", "wb")  # noqa: SIM115 - closed after dockerd stops
    proc = subprocess.Popen(["dockerd", "--pidfile", str(d / "dockerd.pid")], stdout=log, stderr=log)
    try:
        client: Any = None
        deadline = time.monotonic() + 60
        while client is None:
            try:  # from_env asks the engine for its API version: it fails until dockerd listens
                client = docker.from_env(timeout=120)
                client.ping()
            except Exception:
                client = None
                if proc.poll() is not None or time.monotonic() > deadline:
                    unavailable(f"dockerd would not start: {(d / 'dockerd.log').read_text()[-400:]}")
                time.sleep(0.5)
        yield Engine(client, started=True)
        client.close()
    finally:
        proc.terminate()  # stop what we started, whatever happened
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def sim_image(docker_engine: Engine) -> str:
    """The simulator image, built once per session (reused when its source digest matches)."""
    from spdrill.image import build_sim_image

    if shutil.which("debootstrap") is None:
        try:
            docker_engine.client.images.get("spdrill-base:bookworm")
        except Exception:
            unavailable("debootstrap is not installed (Debian: debootstrap) and no spdrill-base image exists")
    try:
        return build_sim_image(docker_engine.client, log=lambda _line: None)
    except CannotRunError as exc:  # no Debian mirror or no network for apt in the build
        unavailable(f"cannot build the simulator image: {exc}")
        raise


@pytest.fixture(scope="session")
def docker_tls(docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The test engine also reachable as DOCKER_HOST=tcp://127.0.0.1:<port> with TLS and client certificates."""
    from .docker_tls import tls_front

    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not where.startswith("unix://"):
        unavailable(f"the TLS front forwards to a unix socket; DOCKER_HOST is {where}")
    with tls_front(tmp_path_factory.mktemp("docker-tls"), where.removeprefix("unix://")) as front:
        if isinstance(front, str):
            unavailable(front)
        yield front


def demo_plan(tmp: Path, kind: str, options: dict[str, Any], **requirements: Any) -> Plan:
    """The simulated demo plan (lotus-sim restore point) with its target replaced."""
    from spdrill.demo import make_demo_plan

    venv_bin = str(Path(sys.executable).parent)
    if shutil.which("lotus-sim") is None and shutil.which("lotus-sim", path=venv_bin):
        # pytest was started as .venv/bin/pytest without the venv on PATH
        os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    if shutil.which("lotus-sim") is None:
        unavailable("lotus-sim is not installed; run `pip install -e .` in the repository")
    plan = load_plan(make_demo_plan(tmp, sectors=32, deadlines=2))
    req = dataclasses.replace(plan.standby.requirements, **requirements)
    return dataclasses.replace(plan, target=TargetSpec(kind, options),
                               standby=dataclasses.replace(plan.standby, requirements=req))


def drill_leftovers(drill_id: str) -> list[str]:
    """Processes of this host still carrying the drill's mark in their environment, and its ssh control folders."""
    from spdrill.reaper import drill_processes
    from spdrill.targets.ssh.conn import control_dirs

    return ([f"pid {pid}" for pid, did in drill_processes().items() if did == drill_id]
            + [f"ssh control folder {f}" for f, (did, _) in control_dirs().items() if did == drill_id])


def sim_listens_where_told() -> bool:
    """Whether the stand-in's daemon binds LOTUS_API_LISTENADDRESS (as real Lotus does without --api)."""
    import tempfile

    exe = shutil.which("lotus", path=_sim_bindir())
    if exe is None:
        return False
    port = free_port()
    with tempfile.TemporaryDirectory() as repo:
        env = {**os.environ, "LOTUS_PATH": repo, "LOTUS_API_LISTENADDRESS": f"/ip4/127.0.0.1/tcp/{port}/http"}
        proc = subprocess.Popen([exe, "daemon", "--bootstrap=false"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and proc.poll() is None:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        return True
                time.sleep(0.1)
            return False
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _sim_bindir() -> str:
    exe = shutil.which("lotus-sim") or shutil.which("lotus-sim", path=str(Path(sys.executable).parent))
    if exe is None:
        return ""
    return subprocess.run([exe, "bindir"], capture_output=True, text=True, timeout=60).stdout.strip()


def without_requirements(text: str) -> str:
    """Plan text minus any [standby.requirements] table (the caller appends its own)."""
    return re.sub(r"(?ms)^\[standby\.requirements\]\n.*?(?=^\[|\Z)", "", text)
