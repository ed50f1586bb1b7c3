"""The ssh target's `start = "systemd"` against a real systemd (PID 1 in a container): full drill, failed units."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from spdrill.bringup import GRAPH
from spdrill.drill import Drill
from spdrill.targets.ssh import SshTarget
from spdrill.targets.ssh import units as sshunits

from .conftest import demo_plan
from .systemd_host import SystemdHost, ssh_plan_file, systemd_host  # noqa: F401 - the fixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_full_drill_with_transient_units(systemd_host: SystemdHost, tmp_path: Path) -> None:  # noqa: F811
    workdir = tmp_path / "remote"
    plan = demo_plan(tmp_path / "demo", "ssh", systemd_host.options(workdir=str(workdir)), gpu=False)
    target = SshTarget(plan.target.options, plan.standby)
    drill = Drill(plan, target=target)
    drill.start()
    try:
        results = {name: drill.stage(name) for name in GRAPH}
        running = systemd_host.sh(f"systemctl list-units --plain --no-legend {sshunits.unit_glob(drill.id)!r}")
    finally:
        journal = drill.close()
    failed = {n: r.detail for n, r in results.items() if not r.ok}
    assert not failed, failed
    assert journal.target == "ssh"
    # the roles really ran as units named after the drill, and systemd's own lines reached the evidence
    for role in ("daemon", "miner", "worker"):
        assert f"spdrill-{drill.id}-{role}.service" in running
        assert f"--- systemd journal of spdrill-{drill.id}-{role} ---" in drill.logs[role]
    assert systemd_host.leftovers(drill.id, workdir) == []


def _broken_bindir(tmp_path: Path, good: str) -> Path:
    """The stand-in's programs, but a lotus-miner whose interpreter does not exist (systemd: 203/EXEC)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("lotus", "lotus-worker"):
        (bindir / name).symlink_to(Path(good) / name)
    miner = bindir / "lotus-miner"
    miner.write_text("#!/nonexistent/interpreter\n")
    miner.chmod(miner.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bindir


def test_a_unit_failing_at_start_names_its_role_and_fails_the_drill(systemd_host: SystemdHost,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    from spdrill.demo import make_demo_plan

    workdir = tmp_path / "remote"
    demo = tmp_path / "demo"
    make_demo_plan(demo, sectors=32, deadlines=2)
    bindir = _broken_bindir(tmp_path, systemd_host.bindir)
    plan = ssh_plan_file(demo, systemd_host.options(workdir=str(workdir), bindir=str(bindir)))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    p = subprocess.run([str(Path(sys.executable).parent / "spdrill"), "run", "--plan", str(plan), "--reports",
                        str(tmp_path / "reports")], capture_output=True, text=True, env=env, timeout=900)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out[-3000:]
    assert "the miner process exited with code 203" in out, out[-3000:]
    listed = systemd_host.sh(f"ls {workdir}; true")
    assert "spdrill-" not in listed
    assert systemd_host.sh("systemctl list-units --all --plain --no-legend 'spdrill-*'; true").strip() == ""


def test_a_role_ignoring_sigterm_is_killed_after_the_grace(systemd_host: SystemdHost,  # noqa: F811
                                                           tmp_path: Path) -> None:
    # systemd's own stop timeout (90 s) is longer than the harness waits for `systemctl stop`: without the
    # unit's TimeoutStopSec the unit would still be stopping, with its process, when the drill ends.
    target = SshTarget(systemd_host.options(workdir=str(tmp_path / "remote")))
    drill_id = "20261126T000000Z-stubborn"
    target.open(drill_id)
    try:
        target.spawn("daemon", ["sh", "-c", "trap '' TERM; echo up; exec sleep 1000"], env={}, port=0)
        assert target.exit_code("daemon") is None
        target.stop_processes()
        assert target.exit_code("daemon") == 128 + 9  # SIGKILLed by systemd after TimeoutStopSec
        assert systemd_host.sh(f"systemctl list-units --all --plain --no-legend 'spdrill-{drill_id}-*'") == ""
    finally:
        target.close()
    assert systemd_host.leftovers(drill_id, tmp_path / "remote") == []
