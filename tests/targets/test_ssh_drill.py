"""A full simulated drill on the ssh target against a real sshd on this host; nothing may be left after it."""

from __future__ import annotations

import subprocess
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


@pytest.mark.parametrize("backend", ["ssh", "paramiko"])
def test_full_drill_on_the_ssh_target(sshd: Sshd, tmp_path: Path, backend: str) -> None:
    workdir = tmp_path / "remote"
    plan = demo_plan(tmp_path / "demo", "ssh", sshd.options(workdir=str(workdir), backend=backend), gpu=False)
    target = SshTarget(plan.target.options, bindir=plan.standby.bindir)
    drill = Drill(plan, target=target)
    drill.start()
    try:
        results = {name: drill.stage(name) for name in GRAPH}
    finally:
        journal = drill.close()
    failed = {n: r.detail for n, r in results.items() if not r.ok}
    assert not failed, failed
    assert journal.target == "ssh"
    assert set(drill.logs) == {"daemon", "miner", "worker"}
    assert drill_leftovers(drill.id) == []
    assert not (workdir / f"spdrill-{drill.id}").exists()
    assert _ssh_processes(f"spdrill-{drill.id}") == [] and _ssh_processes("-N -o ExitOnForwardFailure") == []
    assert _ssh_processes(str(target._private)) == []  # testinfra's ControlMaster ended with the drill
