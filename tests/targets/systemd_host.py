"""A real systemd host for the ssh target's `start = "systemd"`: a container with /sbin/init as PID 1 and sshd.

The image is built on the project's debootstrap base and cached by a digest of its Dockerfile. The container
sees this repository's `src` (read-only) and the pytest base folder (read-write) at the same paths as this
host, so the stand-in's launchers run there and the drill folder is shared (`restore = "harness"`). It is
reached over ssh on a published 127.0.0.1 port with a test client key and a pinned host key, is labelled,
and is removed after the session.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import Engine, unavailable

LABEL = "spdrill.test"
LABEL_VALUE = "systemd-host"
REPO = "spdrill-systemd-host"
DIGEST_LABEL = "spdrill.dockerfile-digest"
SRC = Path(__file__).resolve().parents[2] / "src"

DOCKERFILE = """\
FROM {base}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd systemd-sysv \\
    openssh-server python3 python3-cryptography python3-zstandard iproute2 procps \\
 && rm -rf /var/lib/apt/lists/* \\
 && systemctl enable ssh \\
 && systemctl mask getty@.service console-getty.service systemd-logind.service systemd-udevd.service \\
    systemd-udev-trigger.service \\
 && rm -f /etc/ssh/ssh_host_*key*
ENV container=docker
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
"""


@dataclass(frozen=True)
class SystemdHost:
    """The running systemd container and what a client needs to reach it."""

    container: Any
    port: int
    ssh_config: Path
    bindir: str
    alias: str = "systemd-host"

    def options(self, **extra: Any) -> dict[str, Any]:
        """[target.ssh] options reaching this host through its ssh_config alias, units started by systemd."""
        return {"host": self.alias, "ssh_config": str(self.ssh_config), "bindir": self.bindir,
                "start": "systemd", **extra}

    def sh(self, command: str) -> str:
        """Run a shell command in the host (docker exec), for assertions that must not use the target."""
        code, out = self.container.exec_run(["sh", "-c", command])
        text = out.decode(errors="replace")
        assert code == 0, f"{command!r} exited {code}: {text[-500:]}"
        return str(text)

    def leftovers(self, drill_id: str, workdir: Path) -> list[str]:
        """Units, marked processes and the drill folder of one drill, as this host itself sees them."""
        units = self.sh(f"systemctl list-units --all --plain --no-legend 'spdrill-{drill_id}-*' | "
                        "awk '{print \"unit \" $1}'")
        procs = self.sh(f"for f in $(grep -lxz 'SPDRILL_DRILL={drill_id}' /proc/[0-9]*/environ 2>/dev/null); do "
                        "p=${f#/proc/}; p=${p%/environ}; echo \"process $p $(tr '\\0' ' ' < /proc/$p/cmdline)\"; "
                        "done; true")
        folder = self.sh(f"ls -d {workdir}/spdrill-{drill_id} 2>/dev/null | sed 's/^/folder /'; true")
        return [line for line in (units + procs + folder).splitlines() if line.strip()]


def _image(client: Any) -> str:
    import docker.errors

    from spdrill.image import BASE_TAG, build_base

    text = DOCKERFILE.format(base=BASE_TAG)
    digest = hashlib.sha256(text.encode()).hexdigest()
    tag = f"{REPO}:{digest[:12]}"
    try:
        if client.images.get(tag).labels.get(DIGEST_LABEL) == digest:
            return tag
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.get(BASE_TAG)
    except docker.errors.ImageNotFound:
        build_base(client, log=lambda _line: None)
    ctx = io.BytesIO()
    with tarfile.open(fileobj=ctx, mode="w") as tar:
        data = text.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    ctx.seek(0)
    started = time.monotonic()
    try:
        client.images.build(fileobj=ctx, custom_context=True, tag=tag, labels={DIGEST_LABEL: digest, LABEL: "1"},
                            rm=True, forcerm=True, pull=False)
    except docker.errors.BuildError as exc:
        unavailable(f"cannot build the systemd host image (apt inside docker build): {exc.msg}")
    print(f"systemd host image {tag} built in {time.monotonic() - started:.0f}s")
    return tag


def _files(host_key: Path, client_pub: str) -> bytes:
    """A tar of the host key and the authorized client key, put into the container before it boots."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data, mode in (("etc/ssh/ssh_host_ed25519_key", host_key.read_bytes(), 0o600),
                                 ("etc/ssh/ssh_host_ed25519_key.pub", host_key.with_suffix(".pub").read_bytes(),
                                  0o644),
                                 ("root/.ssh/authorized_keys", client_pub.encode() + b"\n", 0o600)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "spdrill-test", "-f", str(path)],
                   check=True, capture_output=True)
    return path.with_suffix(".pub").read_text().strip()


def _wait(container: Any, what: str, command: list[str], limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while True:
        code, out = container.exec_run(command)
        if code == 0:
            return
        if time.monotonic() > deadline:
            unavailable(f"the systemd host never got {what}: {out.decode(errors='replace')[-300:]}")
        time.sleep(0.5)


@pytest.fixture(scope="session")
def systemd_host(docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SystemdHost]:
    """A booted systemd container with sshd on a published 127.0.0.1 port; removed after the session."""
    client = docker_engine.client
    tag = _image(client)
    d = tmp_path_factory.mktemp("systemd-host")
    base = tmp_path_factory.getbasetemp()
    host_pub = _keygen(d / "host_key")
    client_pub = _keygen(d / "client_key")
    # systemd needs CAP_SYS_ADMIN (mounts), writable cgroups and a tmpfs /run; --privileged is refused here.
    container = client.containers.create(
        tag, detach=True, labels={LABEL: LABEL_VALUE}, cap_add=["SYS_ADMIN"], security_opt=["seccomp=unconfined"],
        cgroupns="host", tmpfs={"/run": "", "/run/lock": ""}, ports={"22/tcp": ("127.0.0.1", None)},
        volumes={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
                 str(SRC): {"bind": str(SRC), "mode": "ro"}, str(base): {"bind": str(base), "mode": "rw"}})
    try:
        container.put_archive("/", _files(d / "host_key", client_pub))
        container.start()
        booted = "systemctl is-system-running | grep -qxE 'running|degraded'"
        _wait(container, "a running systemd", ["sh", "-c", booted])
        _wait(container, "sshd", ["systemctl", "is-active", "-q", "ssh"])
        container.reload()
        port = int(container.ports["22/tcp"][0]["HostPort"])
        (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub}\n")
        (d / "ssh_config").write_text(
            f"Host systemd-host\n  HostName 127.0.0.1\n  Port {port}\n  User root\n"
            f"  IdentityFile {d / 'client_key'}\n  UserKnownHostsFile {d / 'known_hosts'}\n  IdentitiesOnly yes\n")
        code, out = container.exec_run(["python3", "-m", "lotus_sim.cli", "bindir"],
                                       environment={"PYTHONPATH": str(SRC), "XDG_CACHE_HOME": "/opt/lotus-sim"})
        if code != 0:
            unavailable(f"the stand-in's launchers cannot be made in the systemd host: {out.decode()[-300:]}")
        yield SystemdHost(container, port, d / "ssh_config", out.decode().strip())
    finally:
        container.remove(force=True, v=True)


def ssh_plan_file(demo: Path, options: dict[str, Any]) -> Path:
    """The demo plan file (make_demo_plan) with its local target replaced by `[target.ssh]` options."""
    import json
    import re

    plan = demo / "plan.toml"
    table = "".join(f"{k} = {json.dumps(v)}\n" for k, v in options.items())  # TOML accepts JSON strings/bools
    text = re.sub(r"(?ms)^\[target\]\n.*?(?=^\[standby\])", f'[target]\nkind = "ssh"\n\n[target.ssh]\n{table}\n',
                  plan.read_text())
    plan.write_text(text)
    return plan
