"""A full simulated drill on the ssh target against a real sshd on this host; nothing may be left after it."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from spdrill.bringup import GRAPH
from spdrill.drill import Drill
from spdrill.targets.ssh import SshTarget

from .conftest import Sshd, demo_plan, drill_leftovers

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _ssh_processes(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line and "ps -eo" not in line]


def _gone(marker: str, wait: float = 5.0) -> bool:
    deadline = time.monotonic() + wait
    while _ssh_processes(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize(("backend", "restore"), [("ssh", "harness"), ("paramiko", "harness"), ("ssh", "remote")])
def test_full_drill_on_the_ssh_target(sshd: Sshd, tmp_path: Path, backend: str, restore: str) -> None:
    workdir = tmp_path / "remote"
    options = sshd.options(workdir=str(workdir), backend=backend, restore=restore)
    plan = demo_plan(tmp_path / "demo", "ssh", options, gpu=False)
    target = SshTarget(plan.target.options, plan.standby)
    drill = Drill(plan, target=target)
    if restore == "remote":  # every file of the drill folder is reached through SSH, none through this process
        assert not drill.bringup.standby.fs.local
    drill.start()
    try:
        results = {name: drill.stage(name) for name in GRAPH}
    finally:
        journal = drill.close()
    failed = {n: r.detail for n, r in results.items() if not r.ok}
    assert not failed, failed
    assert journal.target == "ssh"
    # the metadata backup is checked here in every mode; with restore = "remote" from a copy taken over SSH
    restored = results["restore"].facts
    assert restored["miner_backup_ok"] is True and restored["miner_backup_keys"], restored
    assert ("miner_backup_copied_from" in restored) == (restore == "remote")
    assert results["reconcile"].facts, "reconciliation ran"
    assert set(drill.logs) == {"daemon", "miner", "worker"}
    assert drill_leftovers(drill.id) == []
    assert not (workdir / f"spdrill-{drill.id}").exists()
    # ssh clients exit a moment after their connection is told to close: allow them a few seconds
    for marker in (f"spdrill-{drill.id}", "-N -o ExitOnForwardFailure", str(target._private)):
        assert _gone(marker), _ssh_processes(marker)  # forwards and testinfra's ControlMaster end with the drill


def test_a_corrupt_backup_on_the_standby_host_fails_the_drill(sshd: Sshd, tmp_path: Path) -> None:
    """restore = "remote": the backup never exists on this host, and its corruption is still found (exit 1)."""
    import sys

    from spdrill.demo import make_demo_plan

    from .systemd_host import ssh_plan_file

    demo = tmp_path / "demo"
    make_demo_plan(demo, sectors=32, deadlines=2)
    bindir = Path(sys.executable).parent
    subprocess.run([str(bindir / "lotus-sim"), "fault", str(demo / "fixture"), "corrupt-backup"], check=True,
                   capture_output=True, timeout=120)
    plan = ssh_plan_file(demo, sshd.options(workdir=str(tmp_path / "remote"), backend="ssh", restore="remote"))
    run = subprocess.run([str(bindir / "spdrill"), "run", "--plan", str(plan)], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr
    record = json.loads((demo / "reports" / "latest" / "drill.json").read_text())
    failed = {c["name"]: c["message"] for c in record["checks"] if not c["passed"]}
    assert list(failed) == ["test_miner_backup_valid"], failed
    assert "SHA-256 trailer does not match" in failed["test_miner_backup_valid"]
