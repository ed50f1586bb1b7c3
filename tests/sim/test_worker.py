"""The simulated `lotus-worker`: registration with the miner, proving for it, info, tokens, reconnection."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lotus_sim.rpcclient import CallError
from tests.sim.simproc import Stand, make_stand


@pytest.fixture
def stand(tmp_path: Path) -> Iterator[Stand]:
    s = make_stand(tmp_path, sectors=24, deadlines=3)
    assert s.import_snapshot().returncode == 0
    s.start_daemon()
    s.start_miner("--nosync")
    try:
        yield s
    finally:
        s.stop_all()


def _post_workers(stand: Stand) -> dict[str, dict[str, object]]:
    stats = stand.miner().call("WorkerStats")
    return {k: v for k, v in stats.items() if "post/v0/windowproof" in (v["Tasks"] or [])}


def test_worker_registers_with_the_miner(stand: Stand) -> None:
    assert _post_workers(stand) == {}
    stand.start_worker()
    workers = _post_workers(stand)
    assert len(workers) == 1
    (session, entry), = workers.items()
    assert entry["Info"]["Resources"]["GPUs"] == ["NVIDIA H100 80GB HBM3"]  # type: ignore[index]
    assert stand.worker().call("Session") == session
    assert stand.worker().call("Version") == 67328


def test_proofs_are_computed_on_the_worker(stand: Stand) -> None:
    # The miner's own prover would be instant; the worker is told to take 0.4 s per partition.
    stand.start_worker(env={"LOTUS_SIM_POST_SECONDS_PER_PARTITION": "0.4"})
    started = time.monotonic()
    result = stand.miner().call("ComputeWindowPoSt", 0, [])
    assert time.monotonic() - started >= 0.4 * len(result[0]["Partitions"]) * 0.9
    started = time.monotonic()
    stand.procs[-1].stop()  # worker gone: the miner falls back to its builtin prover
    stand.miner().call("ComputeWindowPoSt", 0, [])
    assert time.monotonic() - started < 1.2  # the worker would need 0.4 s per partition
    assert _post_workers(stand) == {}


def test_worker_needs_miner_api_info(stand: Stand, tmp_path: Path) -> None:
    result = stand.run("lotus-worker", "run", "--windowpost", "--listen", "127.0.0.1:0",
                       env={"LOTUS_MINER_PATH": str(tmp_path / "none")}, timeout=20)
    assert result.returncode == 1 and "MINER_API_INFO" in result.stderr


def test_worker_without_windowpost_is_refused(stand: Stand) -> None:
    result = stand.run("lotus-worker", "run", "--listen", "127.0.0.1:0", timeout=20)
    assert result.returncode == 1 and "--windowpost" in result.stderr


def test_worker_info_cli(stand: Stand) -> None:
    stand.start_worker()
    result = stand.run("lotus-worker", "info")
    assert result.returncode == 0, result.stderr
    assert "Worker version:  1.7.0" in result.stdout and "Task types: WDP" in result.stdout
    assert "GPUs: [NVIDIA H100 80GB HBM3]" in result.stdout


def test_worker_checks_tokens_with_the_miner(stand: Stand) -> None:
    stand.start_worker()
    read = stand.run("lotus-miner", "auth", "create-token", "--perm", "read").stdout.strip()
    with pytest.raises(CallError, match=r"missing permission to invoke 'Info' \(need 'admin'\)"):
        stand.worker(token=read).call("Info")
    with pytest.raises(CallError) as info:
        stand.worker(token="bad.token.here").call("Info")
    assert info.value.status == 401
    foreign = stand.run("lotus", "auth", "create-token", "--perm", "admin").stdout.strip()
    with pytest.raises(CallError) as info:
        stand.worker(token=foreign).call("Info")  # the daemon's secret is not the miner's
    assert info.value.status == 401


def test_worker_reconnects_after_a_miner_restart(stand: Stand) -> None:
    stand.start_worker()
    port = (stand.miner_repo / "api").read_text().split("/")[4]
    stand.procs[1].stop()
    # The same port, as a real miner restarts on its configured one (the later --miner-api wins).
    stand.start_miner("--nosync", "--miner-api", port)
    deadline = time.monotonic() + 10
    while not _post_workers(stand):
        assert time.monotonic() < deadline, "the worker did not register again with the restarted miner"
        time.sleep(0.2)


def test_worker_stops_cleanly(stand: Stand) -> None:
    proc = stand.start_worker()
    assert proc.stop() == 0
    assert not (stand.worker_repo / "api").exists()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_worker_started_before_the_miner_waits_for_it(tmp_path: Path) -> None:
    # spdrill starts the worker alongside the daemon and the miner only after the fence check.
    stand = make_stand(tmp_path, sectors=8, deadlines=1)
    try:
        assert stand.import_snapshot().returncode == 0
        stand.start_daemon()
        port = _free_port()
        token = (stand.miner_repo / "token").read_text().strip()
        env = {"MINER_API_INFO": f"{token}:/ip4/127.0.0.1/tcp/{port}/http"}
        args = ["run", "--windowpost", "--listen", "127.0.0.1:0"]
        worker = stand._start("worker", "lotus-worker", args, stand.worker_repo, env, wait_api=False)
        time.sleep(1.2)
        assert worker.popen.poll() is None and "waiting for the miner API" in worker.output()
        stand.start_miner("--nosync", "--miner-api", str(port))
        deadline = time.monotonic() + 10
        while not _post_workers(stand):
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.1)
    finally:
        stand.stop_all()
