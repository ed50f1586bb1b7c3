"""The simulated `lotus` daemon and CLI: import, repo files, signals, sync, health, auth, wallet, mpool."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lotus_sim import keystore
from lotus_sim.rpcclient import CallError
from tests.sim.simproc import Stand, make_stand


@pytest.fixture
def stand(tmp_path: Path) -> Iterator[Stand]:
    s = make_stand(tmp_path)
    try:
        yield s
    finally:
        s.stop_all()


@pytest.fixture
def running(stand: Stand) -> Stand:
    assert stand.import_snapshot().returncode == 0
    stand.start_daemon()
    return stand


def _get(stand: Stand, path: str) -> int:
    api = (stand.lotus_repo / "api").read_text().split("/")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{api[4]}{path}", timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_import_halts_with_lotus_line(stand: Stand) -> None:
    result = stand.import_snapshot()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Chain import complete, halting as requested..."
    assert not (stand.lotus_repo / "api").exists()


def test_import_of_truncated_snapshot_fails_cleanly(stand: Stand, tmp_path: Path) -> None:
    broken = tmp_path / "broken.car.zst"
    data = stand.snapshot.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    result = stand.import_snapshot(broken)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("ERROR: ")
    assert "Traceback" not in result.stderr


def test_import_of_missing_file_fails(stand: Stand, tmp_path: Path) -> None:
    result = stand.import_snapshot(tmp_path / "nope.car")
    assert result.returncode == 1 and "no such file" in result.stderr


def test_import_of_raw_car_works_too(stand: Stand, tmp_path: Path) -> None:
    import zstandard

    raw = tmp_path / "snapshot.car"  # the same CAR, uncompressed: detected by magic bytes, not the name
    with stand.snapshot.open("rb") as src:
        raw.write_bytes(zstandard.ZstdDecompressor().stream_reader(src).read())
    assert stand.import_snapshot(raw).returncode == 0


def test_repo_files_and_clean_sigterm(running: Stand) -> None:
    repo = running.lotus_repo
    assert (repo / "api").read_text().startswith("/ip4/127.0.0.1/tcp/")
    assert (repo / "token").stat().st_mode & 0o077 == 0
    version = running.daemon().call("Version")
    assert (version["Agent"], version["APIVersion"], version["BlockDelay"]) == ("lotus-sim", 131840, 30)
    assert running.daemon("v0").call("Version")["APIVersion"] == 66816
    assert running.procs[0].stop(signal.SIGTERM) == 0
    assert not (repo / "api").exists()


def test_sigint_also_stops_cleanly(running: Stand) -> None:
    assert running.procs[0].stop(signal.SIGINT) == 0
    assert not (running.lotus_repo / "api").exists()


def test_answers_rpc_within_one_second_of_start(stand: Stand) -> None:
    assert stand.import_snapshot().returncode == 0
    started = time.monotonic()
    stand.start_daemon()
    stand.daemon().call("Version")
    assert time.monotonic() - started < 1.0


def test_imported_daemon_is_behind_then_catches_up(tmp_path: Path) -> None:
    stand = make_stand(tmp_path, snapshot_age=4 * 3600)
    try:
        _behind_then_caught_up(stand)
    finally:
        stand.stop_all()


def _behind_then_caught_up(stand: Stand) -> None:
    assert stand.import_snapshot().returncode == 0
    # 480 epochs behind at 200 epochs/s: 2.4 s of catch-up, so the first looks below see it under way
    # even on a busy machine.
    stand.start_daemon(env={"LOTUS_SIM_SYNC_RATE": "200"})
    api = stand.daemon()
    status = api.call("NodeStatus", False)["SyncStatus"]
    assert status["Behind"] > 100, status
    syncs = api.call("SyncState")["ActiveSyncs"]
    assert syncs and syncs[0]["Stage"] == 3  # message sync
    assert _get(stand, "/health/readyz") == 503
    result = stand.run("lotus", "sync", "wait", timeout=30)
    assert result.returncode == 0 and result.stdout.rstrip().endswith("Done!")
    assert "State: message sync" in result.stdout
    assert api.call("SyncState")["ActiveSyncs"][0]["Stage"] == 4
    assert api.call("NodeStatus", False)["SyncStatus"]["Behind"] <= 1
    assert _get(stand, "/health/readyz") == 200 and _get(stand, "/health/livez") == 200


def test_no_bootstrap_means_no_sync(stand: Stand) -> None:
    assert stand.import_snapshot().returncode == 0
    stand.start_daemon("--bootstrap=false")
    api = stand.daemon()
    head = api.call("ChainHead")["Height"]
    assert api.call("SyncState")["ActiveSyncs"] == []
    assert api.call("NodeStatus", False)["PeerStatus"]["PeersToPublishBlocks"] == 0
    time.sleep(0.3)
    assert api.call("ChainHead")["Height"] == head
    assert _get(stand, "/health/readyz") == 503
    with pytest.raises(subprocess.TimeoutExpired):
        stand.run("lotus", "sync", "wait", timeout=1.5)  # Lotus waits forever without sync workers


def test_head_is_the_snapshot_head_before_sync(stand: Stand) -> None:
    assert stand.import_snapshot().returncode == 0
    stand.start_daemon("--bootstrap=false")
    head = stand.daemon().call("ChainHead")
    assert head["Height"] == stand.info["snapshot"]["height"]
    assert [c["/"] for c in head["Cids"]] == stand.info["snapshot"]["head_cids"]
    assert head["Blocks"][0]["Timestamp"] == stand.info["snapshot"]["timestamp"]
    result = stand.run("lotus", "chain", "head")
    assert result.stdout.split() == stand.info["snapshot"]["head_cids"]


def test_restart_resumes_from_the_synced_head(stand: Stand) -> None:
    assert stand.import_snapshot().returncode == 0
    first = stand.start_daemon()
    assert stand.run("lotus", "sync", "wait", timeout=30).returncode == 0
    synced = stand.daemon().call("ChainHead")["Height"]
    assert first.stop() == 0
    stand.start_daemon("--bootstrap=false")
    assert stand.daemon().call("ChainHead")["Height"] >= synced


def test_auth_tokens_and_permissions(running: Stand) -> None:
    result = running.run("lotus", "auth", "api-info", "--perm", "read")
    assert result.returncode == 0
    name, _, value = result.stdout.strip().partition("=")
    token, _, addr = value.partition(":")
    assert name == "FULLNODE_API_INFO" and addr == (running.lotus_repo / "api").read_text()
    read = running.daemon(token=token)
    assert read.call("ChainHead")["Height"] > 0
    with pytest.raises(CallError, match=r"missing permission to invoke 'WalletList' \(need 'write'\)"):
        read.call("WalletList")
    anonymous = running.daemon(token="")
    assert anonymous.call("SyncState") is not None  # no token: read
    with pytest.raises(CallError) as info:
        running.daemon(token="not.a.jwt").call("ChainHead")
    assert info.value.status == 401
    admin = running.run("lotus", "auth", "create-token", "--perm", "admin").stdout.strip()
    assert running.daemon(token=admin).call("AuthVerify", admin) == ["read", "write", "sign", "admin"]
    assert base64.b64decode(running.daemon().call("AuthNew", ["read"])).count(b".") == 2


def test_auth_rejects_unknown_perm(running: Stand) -> None:
    result = running.run("lotus", "auth", "create-token", "--perm", "root")
    assert result.returncode == 1 and "one of: read, write, sign, admin" in result.stderr


def _plant_worker_key(stand: Stand) -> str:
    exported = next((stand.root / "secrets").glob("worker-*.key")).read_text().strip()
    address = stand.info["worker"]["key"]
    keystore.write_key(stand.lotus_repo, f"wallet-{address}", keystore.KeyInfo.from_export(exported))
    return str(address)


def test_wallet_lists_only_keys_in_the_keystore(running: Stand) -> None:
    assert running.run("lotus", "wallet", "list", "--addr-only").stdout.strip() == ""
    address = _plant_worker_key(running)
    result = running.run("lotus", "wallet", "list")
    assert result.returncode == 0 and address in result.stdout
    assert running.daemon().call("WalletHas", address) is True


def test_mpool_push_is_refused_without_the_key_and_recorded(running: Stand) -> None:
    api, miner = running.daemon(), running.info["miner"]
    worker = running.info["worker"]["id"]
    message = {"To": miner, "From": worker, "Value": "0", "Method": 23, "Params": ""}
    with pytest.raises(CallError, match="key info not found"):
        api.call("MpoolPushMessage", message, None)
    _plant_worker_key(running)
    signed = api.call("MpoolPushMessage", message, None)
    assert signed["Message"]["Method"] == 23 and signed["CID"]["/"].startswith("bafy")
    records = running.records()
    attempts = [(r["from"], r["method"], r["accepted"]) for r in records]
    assert attempts == [(worker, 23, False), (worker, 23, True)]


def test_mpool_push_needs_sign_permission(running: Stand) -> None:
    write = running.run("lotus", "auth", "create-token", "--perm", "write").stdout.strip()
    with pytest.raises(CallError, match="need 'sign'"):
        running.daemon(token=write).call("MpoolPushMessage", {"To": "f01000", "From": "f01002"}, None)
    (record,) = running.records()  # refused for the token, and still recorded as an attempt
    assert (record["from"], record["accepted"], record["error"]) == (
        "f01002", False, "missing permission to invoke 'MpoolPushMessage' (need 'sign')")


def test_cli_without_a_running_daemon_fails_cleanly(stand: Stand) -> None:
    result = stand.run("lotus", "chain", "head")
    assert result.returncode == 1 and result.stderr.startswith("ERROR: ") and "Traceback" not in result.stderr


def test_usage_errors_exit_1_like_lotus(stand: Stand) -> None:
    result = stand.run("lotus", "daemon", "--no-such-flag")
    assert result.returncode == 1 and "Incorrect Usage" in result.stderr


def test_version_cli(running: Stand) -> None:
    out = running.run("lotus", "version").stdout
    assert "lotus-sim" in out and "+api2.3.0" in out


def test_state_calls_for_an_unknown_actor_fail(running: Stand) -> None:
    # Lotus: "failed to load miner actor: " + types.ErrActorNotFound (node/impl/full/state.go:168-171,
    # chain/state/statetree.go:402, chain/types/actor.go:11); no address in the message.
    with pytest.raises(CallError, match="^failed to load miner actor: actor not found$"):
        running.daemon().call("StateMinerInfo", "f09999", [])


def test_sectors_filter_and_partitions_agree_with_fixture(running: Stand) -> None:
    api, info = running.daemon(), running.info
    parts = api.call("StateMinerPartitions", info["miner"], 0, [])
    from lotus_sim.bitfield import decode_runs

    assert [list(decode_runs(p["AllSectors"])) for p in parts] == info["deadlines"]["0"]
    picked = api.call("StateMinerSectors", info["miner"], [1, 2], [])
    assert [s["SectorNumber"] for s in picked] == [1, 2]
    assert len(api.call("StateMinerSectors", info["miner"], None, [])) == info["sectors"]
    assert json.dumps(api.call("StateSectorGetInfo", info["miner"], 10**9, [])) == "null"


def test_streamed_sector_text_equals_the_dict_form() -> None:
    from lotus_sim.policy import sector_info
    from lotus_sim.statejson import sector_json, sector_json_text

    for number in (0, 7, 123456):
        info = sector_info(number, 3, 32 << 30, 5_000_000, 1000)
        assert json.loads(sector_json_text(info)) == sector_json(info)


def test_daemon_stop_and_sync_status(running: Stand) -> None:
    status = running.run("lotus", "sync", "status")
    assert status.returncode == 0 and status.stdout.startswith("sync status:\nworker 0:")
    assert "\tStage: " in status.stdout
    assert running.run("lotus", "daemon", "stop").returncode == 0
    assert running.procs[0].popen.wait(10) == 0
    assert not (running.lotus_repo / "api").exists()


def test_import_without_halt_keeps_running(stand: Stand) -> None:
    stand.start_daemon("--import-snapshot", str(stand.snapshot), "--bootstrap=false")
    assert stand.daemon().call("ChainHead")["Height"] == stand.info["snapshot"]["height"]


def test_daemon_without_a_chain_starts_at_genesis(stand: Stand) -> None:
    stand.start_daemon("--bootstrap=false")
    api = stand.daemon()
    assert api.call("ChainHead")["Height"] == 0
    with pytest.raises(CallError, match="not found"):
        api.call("StateMinerInfo", stand.info["miner"], [])


def test_listen_address_comes_from_config_unless_the_flag_is_given(stand: Stand) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = stand.lotus_repo / "config.toml"
    config.write_text(config.read_text().replace("/tcp/1234/http", f"/tcp/{port}/http"))
    assert stand.import_snapshot().returncode == 0
    stand._start("daemon", "lotus", ["daemon", "--bootstrap=false"], stand.lotus_repo, None, True)
    assert (stand.lotus_repo / "api").read_text() == f"/ip4/127.0.0.1/tcp/{port}/http"
    stand.stop_all()
    bad = stand.run("lotus", "daemon", env={"LOTUS_API_LISTENADDRESS": "tcp://nowhere"}, timeout=20)
    assert bad.returncode == 1 and "LOTUS_API_LISTENADDRESS" in bad.stderr
