"""`lotus-sim bindir`: the launcher folder for the simulated lotus, lotus-miner and lotus-worker."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lotus_sim.bindir import PROGRAMS, ensure_bindir


def _bindir_cli(cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    return subprocess.run([sys.executable, "-m", "lotus_sim.cli", "bindir"], env=env, capture_output=True,
                          text=True, timeout=30, check=False)


def test_bindir_prints_a_folder_of_executable_launchers(tmp_path: Path) -> None:
    result = _bindir_cli(tmp_path)
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip())
    assert folder.parent == tmp_path / "lotus-sim" and folder.name.startswith("bin-")
    for name in PROGRAMS:
        launcher = folder / name
        assert os.access(launcher, os.X_OK)
        assert launcher.read_text().splitlines()[0] == f"#!{sys.executable}"


def test_bindir_is_stable_and_safe_to_race(tmp_path: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        folders = set(pool.map(lambda _: ensure_bindir(tmp_path), range(8)))
    assert len(folders) == 1
    assert ensure_bindir(tmp_path) in folders


def test_launchers_run_the_simulated_programs(tmp_path: Path) -> None:
    folder = ensure_bindir(tmp_path)
    env = {**os.environ, "LOTUS_PATH": str(tmp_path / "none"), "PATH": f"{folder}:{os.environ['PATH']}"}
    env.pop("FULLNODE_API_INFO", None)
    result = subprocess.run(["lotus", "version"], env=env, capture_output=True, text=True, timeout=30,
                            check=False)
    assert result.returncode == 1 and result.stderr.startswith("ERROR: could not get API info")
    helped = subprocess.run(["lotus-miner", "--help"], env=env, capture_output=True, text=True, timeout=30,
                            check=False)
    assert helped.returncode == 0 and "lotus-sim" in helped.stdout


def test_unwritable_cache_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = _bindir_cli(blocker)  # XDG_CACHE_HOME is a file: no folder can be made under it
    assert result.returncode == 1 and "XDG_CACHE_HOME" in result.stderr and "Traceback" not in result.stderr
