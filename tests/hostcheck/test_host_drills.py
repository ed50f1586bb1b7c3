"""drills/test_host.py run by pytest on the simulated demo: skipped when the plan turns a need off, failing
with the finding when the host lacks it (this machine has no GPU), passing with a complete parameter cache."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spdrill.hostcheck import load_manifest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _plan(tmp_path: Path, requirements: str, env: str = "") -> Path:
    from spdrill.demo import make_demo_plan

    venv_bin = str(Path(sys.executable).parent)
    if shutil.which("lotus-sim") is None and shutil.which("lotus-sim", path=venv_bin):
        os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    if shutil.which("lotus-sim") is None:
        pytest.skip("lotus-sim is not installed; run `pip install -e .`")
    plan = make_demo_plan(tmp_path / "demo", sectors=8, deadlines=1)
    text = plan.read_text().replace("[standby.env]\n", f"[standby.env]\n{env}\n")
    text = re.sub(r"(?ms)^\[standby\.requirements\]\n.*?(?=^\[|\Z)", "", text)  # ours replaces the demo's
    plan.write_text(text + f"\n[standby.requirements]\n{requirements}\n")
    return plan


def _run(plan: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "drills/test_host.py", "--plan", str(plan)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_host_drills_pass_or_skip_as_the_plan_says(tmp_path: Path) -> None:
    cache = tmp_path / "params"
    cache.mkdir()
    for f in load_manifest().needed_at_start(2048):  # what GetParams wants: every .vk, the SRS too
        (cache / f.name).write_bytes(b"p")
    plan = _plan(tmp_path, 'gpu = false\nsector_size = "2KiB"\nram = "64MiB"',
                 env=f'FIL_PROOFS_PARAMETER_CACHE = "{cache}"')
    run = _run(plan)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "2 passed, 4 skipped" in run.stdout
    assert run.stdout.count("[standby.requirements] gpu = false") == 4


def test_host_drills_fail_with_the_finding(tmp_path: Path) -> None:
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has nvidia-smi: the no-GPU findings need a host without it")
    plan = _plan(tmp_path, 'gpu_model = "H100"\nsector_size = "2KiB"\nram = "64TiB"',
                 env=f'FIL_PROOFS_PARAMETER_CACHE = "{tmp_path / "empty"}"')
    run = _run(plan)
    assert run.returncode == 1
    assert "6 failed" in run.stdout
    assert run.stdout.count("nvidia-smi is not installed on the standby host") >= 4
    assert "25 missing" in run.stdout and "lotus fetch-params 2KiB" in run.stdout  # 4 .params, 20 .vk, SRS
    assert "need 65536.0 GiB" in run.stdout
