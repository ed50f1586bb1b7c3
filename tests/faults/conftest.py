"""Shared parts of the fault matrix: a small simulated drill, the leftover sweep, and the real-part fixtures.

The zfs-fuse pool and the sshd/dockerd fixtures live in tests/snapshots and tests/targets; a conftest's
fixtures are visible only below its folder, so the ones the matrix needs are imported here by name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spdrill.demo import make_demo_plan
from spdrill.reaper import drill_processes
from tests.e2e.conftest import SPDRILL, DrillRun, SimDrill, wait_for_line
from tests.snapshots.conftest import unavailable, zfs_daemon
from tests.targets.conftest import Sshd, docker_engine, sim_image, sshd

__all__ = [
    "SPDRILL",
    "DrillRun",
    "SimDrill",
    "Sshd",
    "docker_engine",
    "leftovers",
    "sim_image",
    "small_drill",
    "sshd",
    "tree_digest",
    "unavailable",
    "wait_for_line",
    "zfs_daemon",
]

# Tight deadlines: a fault must fail fast, and a healthy 8-sector stand-in is ready within a few seconds.
TIMEOUTS = 'start = "20s"\nimport_chain = "30s"\nsync = "30s"\npost = "30s"\n'


def tree_digest(root: Path) -> str:
    """Every path, mode, size, mtime (ns) and byte under root: a restore point must keep all of them."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest.update(f"{path.relative_to(root)}|{st.st_mode}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def _labelled_containers() -> list[str]:
    """Containers and networks labelled spdrill.drill on the engine, if one answers (none can exist else)."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
    except Exception:
        return []
    try:
        found = client.containers.list(all=True, filters={"label": "spdrill.drill"})
        nets = client.networks.list(filters={"label": "spdrill.drill"})
        return [f"container {c.name}" for c in found] + [f"network {n.name}" for n in nets]
    finally:
        client.close()


def _zfs_clones() -> list[str]:
    if shutil.which("zfs") is None:
        return []
    done = subprocess.run(
        ["zfs", "get", "-H", "-s", "local", "-o", "name", "spdrill:drill"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return [f"zfs clone {name}" for name in done.stdout.split()] if done.returncode == 0 else []


def leftovers(root: Path, drill_ids: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """What a drill under `root` could leave: processes, drill folders, containers, clones, mounts, loops."""
    found = [
        f"process {pid} (drill {did})"
        for pid, did in drill_processes().items()
        if did in drill_ids or str(root) in _cwd(pid)
    ]
    run = root / "run"
    if run.exists():
        found += [f"drill folder {p}" for p in run.iterdir()]
    found += _labelled_containers() + _zfs_clones()
    with open("/proc/mounts") as mounts:
        found += [f"mount {line.split()[1]}" for line in mounts if str(root) in line.split()[1]]
    if shutil.which("losetup"):
        loops = subprocess.run(
            ["losetup", "-a"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
        found += [f"loop device {line}" for line in loops.splitlines() if str(root) in line]
    return found


@pytest.fixture
def small_drill(tmp_path: Path) -> Iterator[Callable[..., SimDrill]]:
    """Factory: an 8-sector, 1-deadline simulated restore point and a plan with tight timeouts.

    Afterwards nothing may remain; a leftover process is killed so one failure does not spill into the next.
    """

    def make(env: dict[str, str] | None = None, fixture_args: tuple[str, ...] = ()) -> SimDrill:
        plan = make_demo_plan(
            tmp_path,
            sectors=8,
            deadlines=1,
            env=env,
            extra_fixture_args=fixture_args,
            reports=tmp_path / "reports",
        )
        text = plan.read_text()
        start = text.index("[standby.timeouts]\n") + len("[standby.timeouts]\n")
        end = text.index("\n[", start) + 1
        plan.write_text(text[:start] + TIMEOUTS + text[end:])
        return SimDrill(tmp_path, plan)

    yield make
    stray = {pid for pid in drill_processes() if str(tmp_path) in _cwd(pid)}
    for pid in stray:
        os.kill(pid, signal.SIGKILL)
    assert not stray, f"processes left behind by the drill: {stray}"
