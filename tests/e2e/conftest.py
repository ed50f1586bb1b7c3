"""End-to-end drills of the simulated stack on the local target, run through the `spdrill` command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spdrill.demo import make_demo_plan
from spdrill.reaper import drill_processes

SPDRILL = str(Path(sys.executable).with_name("spdrill"))


@dataclass
class DrillRun:
    """What one `spdrill run` produced."""

    rc: int
    stdout: str
    stderr: str
    reports: Path

    @property
    def record(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.reports / "latest" / "drill.json").read_text())
        return loaded

    def check(self, name: str) -> dict:  # type: ignore[type-arg]
        return next(c for c in self.record["checks"] if c["name"] == name)

    def failed(self) -> set[str]:
        return {c["name"] for c in self.record["checks"] if not c["passed"]}


@dataclass
class SimDrill:
    """A simulated restore point and its plan, ready to be broken and drilled."""

    workdir: Path
    plan: Path

    @property
    def restore_point(self) -> Path:
        return self.workdir / "fixture" / "restore-point"

    def edit_plan(self, old: str, new: str) -> None:
        text = self.plan.read_text()
        assert old in text, old
        self.plan.write_text(text.replace(old, new, 1))

    def run(self, *args: str, timeout: float = 240) -> DrillRun:
        reports = self.workdir / "reports"
        p = subprocess.run([SPDRILL, "run", "--plan", str(self.plan), *args], capture_output=True, text=True,
                           timeout=timeout)
        return DrillRun(p.returncode, p.stdout, p.stderr, reports)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([SPDRILL, "run", "--plan", str(self.plan), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)


@pytest.fixture
def sim_drill(tmp_path: Path) -> Iterator[Callable[..., SimDrill]]:
    """Factory: a fresh simulated restore point + plan (env knobs for the stand-in go to [standby.env])."""

    def make(env: dict[str, str] | None = None, fixture_args: tuple[str, ...] = (), sectors: int = 32,
             deadlines: int = 3) -> SimDrill:
        plan = make_demo_plan(tmp_path, sectors=sectors, deadlines=deadlines, env=env,
                              extra_fixture_args=fixture_args, reports=tmp_path / "reports")
        return SimDrill(tmp_path, plan)

    yield make
    leftovers = {pid: d for pid, d in drill_processes().items() if str(tmp_path) in _cwd(pid)}
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    assert not leftovers, f"processes left behind by the drill: {leftovers}"
    run = tmp_path / "run"
    assert not run.exists() or not any(run.iterdir()), f"drill folders left behind: {list(run.iterdir())}"


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 60) -> str:
    """Read the drill's output until a line contains `needle`."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} not seen; output:\n{''.join(seen)}")
