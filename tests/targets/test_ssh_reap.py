"""`spdrill cleanup --plan` reaps, on the plan's ssh host, what a SIGKILLed harness left there, and only that.

Both drills run in `restore = "remote"` mode: the drill folder then carries no harness-side owner file, so the
harness-side reaper leaves it alone and whatever is reaped on the ssh host was reaped through SSH.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from spdrill.demo import make_demo_plan
from spdrill.plan import load_plan
from spdrill.targets.ssh import SshTarget

from .conftest import Sshd, drill_leftovers
from .systemd_host import SystemdHost, ssh_plan_file, systemd_host  # noqa: F401 - the fixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# A harness that stops mid-drill: the standby's daemon and worker run; it then waits to be killed.
HARNESS = """\
import signal, sys, time
from pathlib import Path
from spdrill.drill import Drill
from spdrill.plan import load_plan
from spdrill.targets.ssh import SshTarget

plan = load_plan(Path(sys.argv[1]))
drill = Drill(plan, target=SshTarget(plan.target.options, plan.standby))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
drill.start()
try:
    for name in ("restore", "import-chain", "start-daemon", "start-worker"):
        result = drill.stage(name)
        assert result.ok, f"{name}: {result.detail}"
    print(drill.id, flush=True)
    time.sleep(3600)
finally:
    drill.close()
"""

Leftovers = Callable[[str], list[str]]


@contextmanager
def harness(plan: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A harness process stopped mid-drill, and its drill id; its process group is ended afterwards."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    script = tmp_path / "harness.py"
    script.write_text(HARNESS)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen([sys.executable, str(script), str(plan)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        assert proc.stdout is not None
        drill_id = proc.stdout.readline().strip()
        if not drill_id:
            proc.wait(timeout=60)
            err = proc.stderr.read()[-2000:] if proc.stderr else ""
            pytest.fail(f"the harness stopped before the standby ran: {err}")
        yield proc, drill_id
    finally:
        if proc.poll() is None:
            proc.terminate()  # a live harness tears its drill down (SIGTERM → drill.close())
            proc.wait(timeout=120)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of the harness the test's cleanup did not end
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()


def _kill_mid_drill_then_cleanup(plan: Path, tmp_path: Path, leftovers: Leftovers) -> None:
    with harness(plan, tmp_path / "killed") as (killed, killed_id), \
            harness(plan, tmp_path / "alive") as (alive, alive_id):
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        before = leftovers(killed_id)
        assert before, "the killed drill left nothing behind: this test would prove nothing"
        alive_before = _long_lived(leftovers(alive_id))
        assert alive_before
        bin_dir = Path(sys.executable).parent
        p = subprocess.run([str(bin_dir / "spdrill"), "cleanup", "--plan", str(plan)], capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        assert f"(drill {killed_id})" in p.stdout, p.stdout
        assert leftovers(killed_id) == [], p.stdout
        # the running drill's standby is untouched: its folder, units and processes are all still there
        assert alive.poll() is None
        missing = set(alive_before) - set(_long_lived(leftovers(alive_id)))
        assert not missing, p.stdout
        assert alive_id not in p.stdout


def _long_lived(lines: list[str]) -> list[str]:
    """Units, folders and the standby's role processes; one-shot commands (`lotus auth …`) come and go."""
    roles = ("lotus daemon", "lotus-worker run", "lotus-miner run", "ssh -N")
    kept = []
    for line in lines:
        if line.startswith("pid "):
            try:
                line += " " + Path(f"/proc/{line.split()[1]}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
        if not line.startswith(("pid ", "process ")) or any(r in line for r in roles):
            kept.append(line)
    return kept


def _plan(tmp_path: Path, options: dict[str, Any]) -> Path:
    demo = tmp_path / "demo"
    make_demo_plan(demo, sectors=32, deadlines=2)
    return ssh_plan_file(demo, options)


def test_cleanup_reaps_a_killed_drill_on_the_ssh_host(sshd: Sshd, tmp_path: Path) -> None:
    workdir = tmp_path / "remote"
    plan = _plan(tmp_path, sshd.options(workdir=str(workdir), restore="remote"))

    _kill_mid_drill_then_cleanup(plan, tmp_path, _this_host(workdir))


def _this_host(workdir: Path) -> Leftovers:
    def leftovers(drill_id: str) -> list[str]:
        # the standby host is this host: the drill's marked processes (standby and ssh forwards), its folder
        folder = workdir / f"spdrill-{drill_id}"
        return drill_leftovers(drill_id) + ([f"folder {folder}"] if folder.exists() else [])

    return leftovers


def test_the_next_drill_on_the_host_sweeps_a_killed_one(sshd: Sshd, tmp_path: Path) -> None:
    workdir = tmp_path / "remote"
    plan = _plan(tmp_path, sshd.options(workdir=str(workdir), restore="remote"))
    leftovers = _this_host(workdir)
    with harness(plan, tmp_path / "killed") as (killed, killed_id):
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        assert leftovers(killed_id)
        target = SshTarget(load_plan(plan).target.options)
        target.open("20261126T000000Z-sweeps")
        try:
            assert any(f"(drill {killed_id})" in line for line in target.reaped), target.reaped
            assert leftovers(killed_id) == []
        finally:
            target.close()


def test_cleanup_reaps_a_killed_drills_units(systemd_host: SystemdHost, tmp_path: Path) -> None:  # noqa: F811
    workdir = tmp_path / "remote"
    plan = _plan(tmp_path, systemd_host.options(workdir=str(workdir), restore="remote"))
    def leftovers(drill_id: str) -> list[str]:
        # the systemd host's view, and this host's (the killed harness's ssh forwards carry the mark)
        return systemd_host.leftovers(drill_id, workdir) + drill_leftovers(drill_id)

    _kill_mid_drill_then_cleanup(plan, tmp_path, leftovers)
