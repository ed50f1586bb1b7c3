"""The wheel holds everything `spdrill run` needs (STYLE lesson 16): built, installed into a fresh venv, and drilled
from a folder outside the checkout, with the built-in demo, with a plan, and with plain `pytest --pyargs`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
OUTSIDE_THE_WHEEL = ("fixtures/", "drills/", "conftest.py", "tests/")


@dataclass(frozen=True)
class Installed:
    """spdrill installed from its wheel into a fresh venv, and a folder to run it from."""

    wheel: Path
    bin: Path
    cwd: Path
    env: dict[str, str]

    def run(self, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / argv[0]), *argv[1:]], cwd=self.cwd, env=self.env, capture_output=True,
                              text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    top = tmp_path_factory.mktemp("wheel")
    # Build from a copy, so the checkout (which other work shares) gets no build/ or egg-info folder.
    source = top / "source"
    source.mkdir()
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    _ok(subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(top / "dist"), str(source)],
                       capture_output=True, text=True, timeout=300))
    wheel = next((top / "dist").glob("spdrill-*.whl"))
    venv = top / "venv"
    # A fresh venv; this environment's pip installs into it (--python), which skips bootstrapping a pip there.
    _ok(subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], capture_output=True, text=True,
                       timeout=120))
    _ok(subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                        "--no-compile", str(wheel)], capture_output=True, text=True, timeout=300))
    cwd = top / "elsewhere"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SPDRILL_", "PYTEST_", "VIRTUAL_ENV", "PYTHON")) and k != "PATH"}
    env["PATH"] = os.pathsep.join((str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"))
    env["XDG_CACHE_HOME"] = str(top / "cache")  # lotus-sim's launchers for this venv's Python, not in ~/.cache
    yield Installed(wheel=wheel, bin=venv / "bin", cwd=cwd, env=env)


def _ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"{' '.join(map(str, done.args))}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def _record(reports: Path) -> dict:  # type: ignore[type-arg]
    record: dict = json.loads((reports / "latest" / "drill.json").read_text())  # type: ignore[type-arg]
    assert record["verdict"] == "pass" and record["simulated"] is True
    assert record["checks"] and all(c["passed"] for c in record["checks"])
    return record


def test_the_wheel_carries_the_drills_and_fixtures_only_inside_the_package(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert "spdrill/drills/test_chain.py" in names and "spdrill/fixtures/standby.py" in names
    assert "spdrill/py.typed" in names and "lotus_sim/cli.py" in names
    assert not [n for n in names if n.startswith(OUTSIDE_THE_WHEEL)]
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(installed.wheel).read(entry_points).decode()
    assert "spdrill = spdrill.pytest_plugin" in text and "lotus-sim = lotus_sim.cli:main" in text


def test_installed_spdrill_runs_the_demo_and_a_plan_from_elsewhere(installed: Installed) -> None:
    where = installed.run("python", "-c", "import spdrill.drills, spdrill.fixtures; print(spdrill.drills.__file__)")
    _ok(where)
    assert where.stdout.startswith(str(installed.bin.parent)), where.stdout  # the venv's copy, not the checkout's

    demo = installed.run("spdrill", "run")
    _ok(demo)
    assert "SIMULATED" in demo.stdout and "PASS" in demo.stdout
    record = _record(installed.cwd / "reports")
    assert (installed.cwd / "reports" / "latest" / "junit-pytest.xml").is_file()

    made = installed.run("python", "-c", "from pathlib import Path; from spdrill.demo import make_demo_plan; "
                         "print(make_demo_plan(Path('demo').resolve(), sectors=8, deadlines=1, "
                         "reports=Path('plan-reports').resolve()))")
    _ok(made)
    plan = Path(made.stdout.strip())
    by_plan = installed.run("spdrill", "run", "--plan", str(plan))
    _ok(by_plan)
    assert _record(installed.cwd / "plan-reports")["plan"]["name"] == record["plan"]["name"]

    by_pytest = installed.run("pytest", "--pyargs", "spdrill.drills", "-q", "-p", "no:cacheprovider", "--plan",
                              str(plan), "--drill-reports", "pytest-reports")
    _ok(by_pytest)
    assert {c["name"] for c in _record(installed.cwd / "pytest-reports")["checks"]} == {
        c["name"] for c in record["checks"]}
