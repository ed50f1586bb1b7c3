"""`lotus-worker run` refuses to start below a soft RLIMIT_NOFILE of 100000, and only checks.

Models lotus cli/worker/worker.go:309-318 (ulimit.GetLimit vs buildconstants.MinerFDLimit,
build/buildconstants/limits.go:5) and cmd/lotus-worker/main.go:21-24 (the error is logged with
`log.Warnf("%+v", err)` and main returns, so the process exits 0 without serving).
"""

from __future__ import annotations

import resource
import subprocess
import time
from pathlib import Path

import pytest

from lotus_sim.worker import MINER_FD_LIMIT, fd_limit_refusal
from tests.sim.simproc import make_stand


def _soft() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def test_lotus_threshold() -> None:
    assert MINER_FD_LIMIT == 100_000


def test_refusal_names_want_and_current() -> None:
    soft = _soft()
    refusal = fd_limit_refusal(soft + 1)
    assert refusal is not None
    assert f"soft file descriptor limit (ulimit -n) too low, want {soft + 1}, current {soft}" in refusal
    assert "\tWARN\tmain\t" in refusal
    assert fd_limit_refusal(soft) is None and fd_limit_refusal(0) is None


def test_worker_below_the_limit_logs_and_exits_without_serving(tmp_path: Path) -> None:
    soft = _soft()
    stand = make_stand(tmp_path, sectors=4, deadlines=1)
    assert stand.import_snapshot().returncode == 0
    stand.start_daemon()
    try:
        stand.start_miner("--nosync")
        # The real threshold when this host's limit is below it, else one just above the soft limit.
        want = str(MINER_FD_LIMIT if soft < MINER_FD_LIMIT else soft + 1)
        proc = stand.start_worker(env={"LOTUS_SIM_WORKER_FD_MIN": want}, wait_api=False)
        assert proc.popen.wait(20) == 0
        assert f"too low, want {want}, current {soft}" in proc.output()
        assert not (stand.worker_repo / "api").exists()
        assert len(stand.miner().call("WorkerStats")) == 1  # only the miner's own local worker
    finally:
        stand.stop_all()


def test_worker_with_a_raised_soft_limit_starts(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < MINER_FD_LIMIT:
        pytest.skip(f"hard RLIMIT_NOFILE here is {hard} < {MINER_FD_LIMIT}: no process can meet Lotus's check")
    stand = make_stand(tmp_path, sectors=4, deadlines=1)
    assert stand.import_snapshot().returncode == 0
    stand.start_daemon()
    try:
        stand.start_miner("--nosync")

        def raise_limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (MINER_FD_LIMIT, hard))

        env = {**stand.env, "LOTUS_SIM_WORKER_FD_MIN": str(MINER_FD_LIMIT)}
        token = (stand.miner_repo / "token").read_text().strip()
        env["MINER_API_INFO"] = f"{token}:{(stand.miner_repo / 'api').read_text().strip()}"
        popen = subprocess.Popen([str(stand.bindir / "lotus-worker"), "run", "--windowpost", "--listen",
                                  "127.0.0.1:0"], env=env, preexec_fn=raise_limit,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                if (stand.worker_repo / "api").exists():
                    break
                assert popen.poll() is None
                time.sleep(0.05)
            assert (stand.worker_repo / "api").exists()
        finally:
            popen.terminate()
            popen.wait(10)
    finally:
        stand.stop_all()
