"""The simulated `lotus-miner`: start-up, config, storage, WindowPoSt dry-runs, checks, backups, restore."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lotus_sim import keystore
from lotus_sim.bitfield import decode_runs
from lotus_sim.rpcclient import CallError
from lotus_sim.world import MinerMetadata
from tests.sim.simproc import Stand, make_stand


@pytest.fixture
def stand(tmp_path: Path) -> Iterator[Stand]:
    s = make_stand(tmp_path, sectors=24, deadlines=3)
    assert s.import_snapshot().returncode == 0
    s.start_daemon()
    try:
        yield s
    finally:
        s.stop_all()


def _sealed(stand: Stand, number: int) -> Path:
    name = f"s-t0{stand.info['miner_id']}-{number}"
    return next(stand.root.glob(f"restore-point/storage/store-*/sealed/{name}"))


def _deadline0(stand: Stand) -> list[list[int]]:
    return [list(p) for p in stand.info["deadlines"]["0"]]


def test_run_serves_and_stops_cleanly(stand: Stand) -> None:
    proc = stand.start_miner()  # with sync wait: the daemon catches up in well under a second
    miner = stand.miner()
    assert miner.call("ActorAddress") == stand.info["miner"]
    assert miner.call("Version")["APIVersion"] == 66816
    assert miner.call("SectorsList") == list(range(stand.info["sectors"]))
    assert proc.stop(signal.SIGTERM) == 0
    assert not (stand.miner_repo / "api").exists()


def test_run_without_a_daemon_fails_cleanly(stand: Stand) -> None:
    stand.procs[0].stop()
    proc = stand.start_miner(wait_api=False)
    assert proc.popen.wait(20) == 1
    assert "ERROR: " in proc.output() and "Traceback" not in proc.output()


def test_run_on_an_uninitialized_repo_fails(stand: Stand, tmp_path: Path) -> None:
    result = stand.run("lotus-miner", "run", "--nosync", env={"LOTUS_MINER_PATH": str(tmp_path / "empty")})
    assert result.returncode == 1 and "is not initialized" in result.stderr


def test_wrong_actor_is_refused_at_start(stand: Stand) -> None:
    md = MinerMetadata.from_repo(stand.miner_repo)
    MinerMetadata("f01999", md.sectors, md.entries, md.seal_proof).write_repo(stand.miner_repo)
    result = stand.run("lotus-miner", "run", "--nosync", "--miner-api", "0", timeout=20)
    # StateMinerInfo's error as Lotus words it, without the address (node/impl/full/state.go:168-171)
    assert result.returncode == 1 and "failed to load miner actor: actor not found" in result.stderr


def test_config_drives_runtime_subsystems_and_winning_post_warning(stand: Stand) -> None:
    proc = stand.start_miner("--nosync")
    assert stand.miner().call("RuntimeSubsystems") == ["Mining", "Sealing", "SectorStorage"]
    assert "DisableWinningPoSt = false" in proc.output()
    proc.stop()
    config = stand.miner_repo / "config.toml"
    config.write_text(config.read_text().replace("EnableSealing = true", "EnableSealing = false"))
    proc = stand.start_miner("--nosync", env={"LOTUS_SUBSYSTEMS_DISABLEWINNINGPOST": "true"})
    assert stand.miner().call("RuntimeSubsystems") == ["Mining", "SectorStorage"]
    assert "DisableWinningPoSt" not in proc.output()


def test_storage_paths_come_from_storage_json(stand: Stand, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    (stand.root / "restore-point" / "storage").rename(moved)
    doc = json.loads((stand.miner_repo / "storage.json").read_text())
    for entry in doc["StoragePaths"]:
        entry["Path"] = entry["Path"].replace(str(stand.root / "restore-point" / "storage"), str(moved))
    (stand.miner_repo / "storage.json").write_text(json.dumps(doc))
    stand.start_miner("--nosync")
    miner = stand.miner()
    assert all(p.startswith(str(moved)) for p in miner.call("StorageLocal").values())
    posts = miner.call("ComputeWindowPoSt", 0, [])
    assert all(p["Skipped"] == [0] for p in posts[0]["Partitions"])
    listed = miner.call("StorageList")
    assert sum(len(v) for v in listed.values()) == 2 * stand.info["sectors"]  # sealed + cache each
    stat = miner.call("StorageStat", next(iter(listed)))
    assert stat["Capacity"] >= stat["Available"] > 0


def test_compute_window_post_skips_missing_and_truncated(stand: Stand) -> None:
    parts = _deadline0(stand)
    missing, truncated = parts[0][0], parts[1][1]
    _sealed(stand, missing).unlink()
    path = _sealed(stand, truncated)
    path.write_bytes(path.read_bytes()[:100])
    stand.start_miner("--nosync")
    result = stand.miner().call("ComputeWindowPoSt", 0, [])
    skipped = {p["Index"]: list(decode_runs(p["Skipped"])) for p in result[0]["Partitions"]}
    assert skipped == {0: [missing], 1: [truncated], **{i: [] for i in range(2, len(parts))}}
    assert result[0]["Deadline"] == 0 and result[0]["Proofs"][0]["PoStProof"] == 10
    mid = stand.info["miner_id"]
    refs = [{"ID": {"Miner": mid, "Number": n}, "ProofType": 5} for n in (missing, truncated, 2)]
    bad = stand.miner().call("CheckProvable", 10, refs)
    assert set(bad) == {str(missing), str(truncated)}
    assert "not found" in bad[str(missing)] and "truncated" in bad[str(truncated)]


def test_all_sectors_skipped_is_an_error(stand: Stand) -> None:
    for part in _deadline0(stand):
        for n in part:
            _sealed(stand, n).unlink()
    stand.start_miner("--nosync")
    with pytest.raises(CallError, match="all 8 sectors of deadline 0 were skipped"):
        stand.miner().call("ComputeWindowPoSt", 0, [])
    result = stand.run("lotus-miner", "proving", "compute", "window-post", "0")
    assert result.returncode == 1 and "were skipped" in result.stderr


def test_empty_deadline_gives_no_proofs(stand: Stand) -> None:
    stand.start_miner("--nosync")
    assert stand.miner().call("ComputeWindowPoSt", 1, []) == []


def test_builtin_prover_can_be_disabled(stand: Stand) -> None:
    config = stand.miner_repo / "config.toml"
    text = config.read_text()
    config.write_text(text.replace("DisableBuiltinWindowPoSt = false", "DisableBuiltinWindowPoSt = true"))
    stand.start_miner("--nosync")
    with pytest.raises(CallError, match="no WindowPoSt workers connected"):
        stand.miner().call("ComputeWindowPoSt", 0, [])
    stand.start_worker()
    assert stand.miner().call("ComputeWindowPoSt", 0, [])[0]["Deadline"] == 0


def test_disabled_window_post_subsystem_cannot_compute(stand: Stand) -> None:
    stand.start_miner("--nosync", env={"LOTUS_SUBSYSTEMS_DISABLEWINDOWPOST": "true"})
    with pytest.raises(CallError, match="DisableWindowPoSt"):
        stand.miner().call("ComputeWindowPoSt", 0, [])


def test_proving_cli(stand: Stand) -> None:
    bad = _deadline0(stand)[0][1]
    _sealed(stand, bad).unlink()
    stand.start_miner("--nosync")
    check = stand.run("lotus-miner", "proving", "check", "--only-bad", "0")
    assert check.returncode == 0
    assert check.stdout.splitlines()[0].split() == ["deadline", "partition", "sector", "status"]
    assert check.stdout.splitlines()[1].split()[:4] == ["0", "0", str(bad), "bad"]
    compute = stand.run("lotus-miner", "proving", "compute", "windowed-post", "0")
    assert compute.returncode == 0 and compute.stdout.startswith("Took ")
    assert json.loads(compute.stdout.split("\n", 1)[1])[0]["Deadline"] == 0
    info = stand.run("lotus-miner", "proving", "info")
    assert f"Miner: {stand.info['miner']}" in info.stdout and "Deadline Index:" in info.stdout
    deadlines = stand.run("lotus-miner", "proving", "deadlines").stdout.splitlines()
    assert [line.split()[0] for line in deadlines[2:]] == ["0", "16", "32"]
    assert stand.run("lotus-miner", "proving", "check", "48").returncode == 1
    assert "Miner: f01000" in stand.run("lotus-miner", "info").stdout
    assert "Sealed: " in stand.run("lotus-miner", "storage", "list").stdout


def test_online_backup_needs_base_path_and_refuses_existing(stand: Stand, tmp_path: Path) -> None:
    base = tmp_path / "backups"
    base.mkdir()
    target = base / "miner.cbor"
    stand.start_miner("--nosync")
    result = stand.run("lotus-miner", "backup", str(target))
    assert result.returncode == 1 and "LOTUS_BACKUP_BASE_PATH env var not set" in result.stderr
    stand.procs[-1].stop()
    stand.start_miner("--nosync", env={"LOTUS_BACKUP_BASE_PATH": str(base)})
    outside = stand.run("lotus-miner", "backup", str(tmp_path / "outside.cbor"))
    assert outside.returncode == 1 and "must be inside base path" in outside.stderr
    ok = stand.run("lotus-miner", "backup", str(target))
    assert ok.returncode == 0 and ok.stdout.strip() == "Success"
    assert MinerMetadata.from_backup(target).miner_address == stand.info["miner"]
    before = target.read_bytes()
    again = stand.run("lotus-miner", "backup", str(target))
    assert again.returncode == 1 and "already exists" in again.stderr
    assert target.read_bytes() == before


def test_offline_backup_refuses_a_running_miner(stand: Stand, tmp_path: Path) -> None:
    proc = stand.start_miner("--nosync")
    target = tmp_path / "offline.cbor"
    result = stand.run("lotus-miner", "backup", "--offline", str(target))
    assert result.returncode == 1 and "in use" in result.stderr
    proc.stop()
    assert stand.run("lotus-miner", "backup", "--offline", str(target)).returncode == 0
    assert len(MinerMetadata.from_backup(target).sectors) == stand.info["sectors"]


def _restore(stand: Stand, tmp_path: Path) -> tuple[object, Path]:
    fresh = tmp_path / "restored-miner"
    backup = stand.root / stand.info["backup"]["path"]
    result = stand.run("lotus-miner", "init", "restore", "--nosync",
                       "--config", str(stand.root / "restore-point/lotus-miner/config.toml"),
                       "--storage-config", str(stand.root / "restore-point/lotus-miner/storage.json"),
                       str(backup), env={"LOTUS_MINER_PATH": str(fresh)})
    return result, fresh


def test_init_restore_fails_without_the_worker_key(stand: Stand, tmp_path: Path) -> None:
    result, fresh = _restore(stand, tmp_path)
    assert result.returncode == 1  # type: ignore[attr-defined]
    assert "not present in full node wallet" in result.stderr  # type: ignore[attr-defined]
    assert (fresh / "config.toml").exists()  # as in Lotus, the repo is initialized before the wallet check
    assert stand.records() == []


def test_init_restore_pushes_change_peer_id_from_the_worker(stand: Stand, tmp_path: Path) -> None:
    exported = next((stand.root / "secrets").glob("worker-*.key")).read_text().strip()
    keystore.write_key(stand.lotus_repo, f"wallet-{stand.info['worker']['key']}",
                       keystore.KeyInfo.from_export(exported))
    before = stand.daemon().call("StateMinerInfo", stand.info["miner"], [])["PeerId"]
    result, fresh = _restore(stand, tmp_path)
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    after = stand.daemon().call("StateMinerInfo", stand.info["miner"], [])["PeerId"]
    assert before == stand.info["peer_id"] and after != before and after.startswith("12D3KooW")
    assert (fresh / "storage.json").exists() and (fresh / "datastore").is_dir()
    records = stand.records()
    assert [(r["from"], r["to"], r["method"], r["accepted"]) for r in records] == [
        (stand.info["worker"]["id"], stand.info["miner"], 23, True)]
    again, _ = _restore(stand, tmp_path)
    assert again.returncode == 1 and "already initialized" in again.stderr  # type: ignore[attr-defined]


def test_miner_auth_api_info_and_permissions(stand: Stand) -> None:
    stand.start_miner("--nosync")
    result = stand.run("lotus-miner", "auth", "api-info", "--perm", "read")
    name, _, value = result.stdout.strip().partition("=")
    assert name == "MINER_API_INFO"
    read = stand.miner(token=value.split(":", 1)[0])
    assert read.call("RuntimeSubsystems")
    with pytest.raises(CallError, match=r"missing permission to invoke 'ComputeWindowPoSt' \(need 'admin'\)"):
        read.call("ComputeWindowPoSt", 0, [])


def test_miner_restart_keeps_its_token_secret(stand: Stand) -> None:
    proc = stand.start_miner("--nosync")
    token = (stand.miner_repo / "token").read_text()
    proc.stop()
    time.sleep(0.05)
    stand.start_miner("--nosync")
    assert stand.miner(token=token).call("WorkerStats")


def test_a_storage_path_without_sectorstore_json_stops_the_miner(stand: Stand) -> None:
    store = next(stand.root.glob("restore-point/storage/store-*"))
    (store / "sectorstore.json").unlink()
    stand.plant_worker_key()  # so PreflightChecks passes and the storage paths are what stops it
    result = stand.run("lotus-miner", "run", "--nosync", "--miner-api", "0", timeout=30)
    assert result.returncode == 1 and "sectorstore.json" in result.stderr
