"""Each runtime knob of the stand-in (LOTUS_SIM_* env vars, LOTUS_SIM_CONFIG file), seen from outside."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lotus_sim.runtime import KnobError, Knobs, load_knobs
from tests.sim.simproc import Stand, make_stand


@pytest.fixture
def stand(tmp_path: Path) -> Iterator[Stand]:
    s = make_stand(tmp_path, sectors=24, deadlines=3)
    assert s.import_snapshot().returncode == 0
    try:
        yield s
    finally:
        s.stop_all()


# ---- resolution of knobs ---------------------------------------------------------------------------


def test_defaults() -> None:
    assert load_knobs({}) == Knobs()


def test_env_wins_over_file_which_wins_over_default(tmp_path: Path) -> None:
    config = tmp_path / "sim.toml"
    config.write_text("[sim]\nsync_rate = 5\nno_gpu = true\n")
    knobs = load_knobs({"LOTUS_SIM_CONFIG": str(config), "LOTUS_SIM_SYNC_RATE": "7"})
    assert (knobs.sync_rate, knobs.no_gpu, knobs.block_delay) == (7.0, True, 30)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOTUS_SIM_SYNC_RATE": "fast"}, "LOTUS_SIM_SYNC_RATE = 'fast' is not a valid float"),
        ({"LOTUS_SIM_NO_GPU": "maybe"}, "use true/false"),
        ({"LOTUS_SIM_BLOCK_DELAY": "0"}, "greater than 0"),
        ({"LOTUS_SIM_CONFIG": "/nonexistent/sim.toml"}, "cannot read it"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(KnobError, match=message):
        load_knobs(env)


def test_unknown_or_malformed_file_entries_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "sim.toml"
    config.write_text("sync_rat = 5\n")
    with pytest.raises(KnobError, match=r"unknown knob\(s\) \['sync_rat'\]"):
        load_knobs({"LOTUS_SIM_CONFIG": str(config)})
    config.write_text("sync_rate = [\n")
    with pytest.raises(KnobError, match="not valid TOML"):
        load_knobs({"LOTUS_SIM_CONFIG": str(config)})


def test_a_bad_knob_stops_the_daemon_with_a_message(stand: Stand) -> None:
    result = stand.run("lotus", "daemon", "--api", "0", env={"LOTUS_SIM_SYNC_RATE": "fast"}, timeout=20)
    assert result.returncode == 1 and "LOTUS_SIM_SYNC_RATE" in result.stderr
    assert "Traceback" not in result.stderr


# ---- the faults, seen from outside -----------------------------------------------------------------


def test_never_sync_keeps_the_daemon_in_header_sync(stand: Stand) -> None:
    stand.start_daemon(env={"LOTUS_SIM_NEVER_SYNC": "1"})
    api = stand.daemon()
    height = api.call("ChainHead")["Height"]
    time.sleep(0.3)
    syncs = api.call("SyncState")["ActiveSyncs"]
    assert [s["Stage"] for s in syncs] == [1] and syncs[0]["Height"] == height
    assert api.call("ChainHead")["Height"] == height
    with pytest.raises(subprocess.TimeoutExpired):
        stand.run("lotus", "sync", "wait", timeout=1.5)


def test_never_sync_from_the_config_file(stand: Stand, tmp_path: Path) -> None:
    config = tmp_path / "faults.toml"
    config.write_text("never_sync = true\n")
    stand.start_daemon(env={"LOTUS_SIM_CONFIG": str(config)})
    assert stand.daemon().call("SyncState")["ActiveSyncs"][0]["Stage"] == 1


def test_exit_mid_sync_kills_the_daemon(stand: Stand) -> None:
    proc = stand.start_daemon(env={"LOTUS_SIM_EXIT_MID_SYNC": "true", "LOTUS_SIM_SYNC_RATE": "200"})
    assert proc.popen.wait(20) == 1
    assert "exiting mid-sync" in proc.output()
    assert (stand.lotus_repo / "api").exists()  # a crash leaves the api file behind, as a killed Lotus does


def test_sync_rate_sets_the_catch_up_speed(stand: Stand) -> None:
    stand.start_daemon(env={"LOTUS_SIM_SYNC_RATE": "10"})
    api = stand.daemon()
    first = api.call("ChainHead")["Height"]
    time.sleep(1.0)
    moved = api.call("ChainHead")["Height"] - first
    assert 5 <= moved <= 40  # 10 epochs/s over a 1 s sleep, plus the calls' own time on a busy machine
    assert api.call("NodeStatus", False)["SyncStatus"]["Behind"] > 100


def test_block_delay_gives_a_devnet_clock(stand: Stand) -> None:
    stand.start_daemon("--bootstrap=false", env={"LOTUS_SIM_BLOCK_DELAY": "4"})
    api = stand.daemon()
    assert api.call("Version")["BlockDelay"] == 4
    head = api.call("ChainHead")["Height"]
    tipsets = [api.call("ChainGetTipSetByHeight", h, []) for h in (head - 2, head - 1)]
    times = [ts["Blocks"][0]["Timestamp"] for ts in tipsets]
    assert times[1] - times[0] == 4


def test_block_delay_flag_overrides_the_env(stand: Stand) -> None:
    stand.start_daemon("--bootstrap=false", "--block-delay", "6", env={"LOTUS_SIM_BLOCK_DELAY": "4"})
    assert stand.daemon().call("Version")["BlockDelay"] == 6


def test_peers_knob_shows_in_node_status(stand: Stand) -> None:
    stand.start_daemon(env={"LOTUS_SIM_PEERS": "3"})
    assert stand.daemon().call("NodeStatus", False)["PeerStatus"] == {"PeersToPublishMsgs": 3,
                                                                      "PeersToPublishBlocks": 3}


def test_slow_post_takes_the_configured_time_per_partition(stand: Stand) -> None:
    stand.start_daemon()
    stand.start_miner("--nosync", env={"LOTUS_SIM_POST_SECONDS_PER_PARTITION": "0.3"})
    partitions = len(stand.info["deadlines"]["0"])
    started = time.monotonic()
    stand.miner().call("ComputeWindowPoSt", 0, [])
    assert time.monotonic() - started >= 0.3 * partitions * 0.95


def test_slow_checks_take_the_configured_time_per_sector(stand: Stand) -> None:
    stand.start_daemon()
    stand.start_miner("--nosync", env={"LOTUS_SIM_CHECK_SECONDS_PER_SECTOR": "0.2"})
    refs = [{"ID": {"Miner": stand.info["miner_id"], "Number": n}, "ProofType": 5} for n in range(4)]
    started = time.monotonic()
    assert stand.miner().call("CheckProvable", 10, refs) == {}
    assert time.monotonic() - started >= 0.8 * 0.95


def test_no_gpu_worker_reports_no_gpus_and_proves_slower(stand: Stand) -> None:
    stand.start_daemon()
    stand.start_miner("--nosync")
    stand.start_worker(env={"LOTUS_SIM_NO_GPU": "true", "LOTUS_SIM_POST_SECONDS_PER_PARTITION": "0.02"})
    assert stand.worker().call("Info")["Resources"]["GPUs"] == []
    stats = [v for v in stand.miner().call("WorkerStats").values() if v["Tasks"] == ["post/v0/windowproof"]]
    assert [s["Info"]["Resources"]["GPUs"] for s in stats] == [[]]
    assert "GPUs: []" in stand.run("lotus-worker", "info").stdout
    started = time.monotonic()
    stand.miner().call("ComputeWindowPoSt", 0, [])
    assert time.monotonic() - started >= 0.2 * len(stand.info["deadlines"]["0"]) * 0.95  # ten times slower


def test_gpus_knob_names_the_reported_gpus(stand: Stand) -> None:
    stand.start_daemon()
    stand.start_miner("--nosync")
    stand.start_worker(env={"LOTUS_SIM_GPUS": "GPU A, GPU B"})
    assert stand.worker().call("Info")["Resources"]["GPUs"] == ["GPU A", "GPU B"]


def test_record_dir_knob_moves_the_mpool_records(stand: Stand, tmp_path: Path) -> None:
    records = tmp_path / "records"
    stand.start_daemon(env={"LOTUS_SIM_RECORD_DIR": str(records)})
    with pytest.raises(Exception, match="key info not found"):
        stand.daemon().call("MpoolPushMessage", {"To": "f01000", "From": "f01002", "Method": 23}, None)
    assert (records / "mpool-push.jsonl").read_text().count("\n") == 1


def test_every_knob_is_documented_in_the_readme() -> None:
    from dataclasses import fields

    readme = (Path(__file__).resolve().parents[2] / "src" / "lotus_sim" / "README.md").read_text()
    missing = [f.name for f in fields(Knobs) if f"`LOTUS_SIM_{f.name.upper()}`" not in readme]
    assert not missing, f"knobs missing from src/lotus_sim/README.md: {missing}"


def test_mpool_guard_finds_a_recorded_push_and_respects_allowed_folders(stand: Stand, tmp_path: Path) -> None:
    """The suite's session guard (tests/mpool_guard.py) sees a push the stand-in recorded for a drill."""
    from spdrill.demo import SIM_RECORDS
    from tests.mpool_guard import unexpected_pushes

    drill = tmp_path / "drill"
    stand.start_daemon(env={"LOTUS_SIM_RECORD_DIR": str(drill / SIM_RECORDS)})
    assert unexpected_pushes(tmp_path) == {}  # nothing pushed yet: the guard is quiet
    with pytest.raises(Exception, match="key info not found"):  # refused, and still recorded as an attempt
        stand.daemon().call("MpoolPushMessage", {"To": "f01000", "From": "f01002", "Method": 23}, None)
    assert list(unexpected_pushes(tmp_path).values()) == [["method 23 from f01002 to f01000"]]
    assert unexpected_pushes(tmp_path, allowed=[drill]) == {}
    (drill / SIM_RECORDS / "mpool-push.jsonl").unlink()  # deliberate: not for the session-end check
