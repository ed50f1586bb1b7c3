"""`lotus-miner run` against its full node as Lotus does it: over WebSocket, ChainNotify held, PreflightChecks.

Lotus @ b835fab: node/modules/storageminer.go:187-215 (PreflightChecks, registered at node/builder_miner.go:96),
chain/events/observer.go:55-135 (the ChainNotify subscription), chain/store/store.go:289-333 (ChainNotify),
cli/util/apiinfo.go:50-75 (DialArgs: ws://), cli/lotus/daemon.go:423-436 and cli/miner/run.go:139-146
(--api/--miner-api bind 127.0.0.1).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lotus_sim.rpcclient import RpcClient, parse_api_info
from tests.sim.simproc import Proc, Stand, make_stand


@pytest.fixture
def stand(tmp_path: Path) -> Iterator[Stand]:
    s = make_stand(tmp_path, sectors=12, deadlines=2)
    # A slow catch-up (2 h behind at 20 epochs/s) keeps the head moving for the whole test.
    s.env["LOTUS_SIM_SYNC_RATE"] = "20"
    assert s.import_snapshot().returncode == 0
    s.start_daemon()
    try:
        yield s
    finally:
        s.stop_all()


def _ws(stand: Stand, token: str | None = None) -> RpcClient:
    repo = stand.lotus_repo
    info = parse_api_info(f"{(repo / 'token').read_text().strip()}:{(repo / 'api').read_text().strip()}")
    return RpcClient(info.dial_args("v1"), info.token if token is None else token)


def _exit(proc: Proc, timeout: float = 30) -> int:
    return proc.popen.wait(timeout)


def _wait_for(proc: Proc, text: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while text not in proc.output():
        assert time.monotonic() < deadline, f"{text!r} not in output:\n{proc.output()}"
        time.sleep(0.05)


def test_chain_notify_sends_current_then_apply_over_ws(stand: Stand, shared_dir: Path) -> None:
    # store.go:289-300: the first notification is [{Type: current, Val: head}]; then :168-190 one per head change.
    from tests.sim.test_api_shapes import _md_examples, shape_errors

    client = _ws(stand, token="")  # ChainNotify is read (api/api_full.go:102): no token needed
    sub = client.subscribe("ChainNotify")
    first = sub.get(5)
    assert len(first) == 1 and first[0]["Type"] == "current"
    example = _md_examples("api-methods-v1-stable.md")["ChainNotify"]
    assert shape_errors(first, example) == []
    applied = sub.get(5)
    assert {c["Type"] for c in applied} == {"apply"}
    assert applied[0]["Val"]["Height"] == first[0]["Val"]["Height"] + 1
    heights = [c["Val"]["Height"] for c in applied]
    assert heights == list(range(heights[0], heights[0] + len(heights)))
    sub.cancel()
    assert sub.ended.wait(5)
    client.close()


def test_miner_without_the_worker_key_exits(stand: Stand) -> None:
    proc = stand.start_miner("--nosync", worker_key=False, wait_api=False)
    assert _exit(proc) == 1
    assert "ERROR: creating node: starting node: key for worker not found in local wallet" in proc.output()
    assert not (stand.miner_repo / "api").exists()


def test_miner_with_the_worker_key_starts_and_logs_it(stand: Stand) -> None:
    proc = stand.start_miner("--nosync")
    key = stand.info["worker"]["key"]
    assert f"starting up miner {stand.info['miner']}, worker addr {key}" in proc.output()


def test_a_read_token_cannot_pass_preflight(stand: Stand) -> None:
    # WalletHas is perm:write (api/api_full.go), so lotus-miner's FULLNODE_API_INFO needs at least write.
    stand.plant_worker_key()
    read = stand.run("lotus", "auth", "api-info", "--perm", "read").stdout.strip().split("=", 1)[1]
    proc = stand.start_miner("--nosync", worker_key=False, wait_api=False, env={"FULLNODE_API_INFO": read})
    assert _exit(proc) == 1
    assert "failed to check wallet for worker key: missing permission to invoke 'WalletHas' (need 'write')" \
        in proc.output()
    write = stand.run("lotus", "auth", "api-info", "--perm", "write").stdout.strip().split("=", 1)[1]
    stand.start_miner("--nosync", worker_key=False, env={"FULLNODE_API_INFO": write})


def test_an_unknown_actor_fails_to_resolve_miner_info(stand: Stand) -> None:
    from lotus_sim.world import MinerMetadata

    md = MinerMetadata.from_repo(stand.miner_repo)
    MinerMetadata("f01999", md.sectors, md.entries, md.seal_proof).write_repo(stand.miner_repo)
    proc = stand.start_miner("--nosync", wait_api=False)
    assert _exit(proc) == 1
    assert "creating node: starting node: failed to resolve miner info: " in proc.output()


def test_miner_holds_chain_notify_and_logs_when_it_drops(stand: Stand) -> None:
    # observer.go:55-70: the channel ending is logged (`listenHeadChanges quit`), then it subscribes again.
    miner = stand.start_miner("--nosync")
    daemon = stand.procs[0]
    assert daemon.stop() == 0
    _wait_for(miner, "listenHeadChanges quit")
    _wait_for(miner, "restarting listenHeadChanges")
    assert miner.popen.poll() is None  # it keeps running and retrying, as lotus-miner does


def test_a_miner_that_cannot_dial_its_full_node_fails_with_the_dial_error(stand: Stand) -> None:
    # run.go:75 checkV1ApiSupport dials ws://…/rpc/v0 first; go-jsonrpc returns the dial error as is.
    proc = stand.start_miner("--nosync", wait_api=False,
                             env={"FULLNODE_API_INFO": "x:/ip4/127.0.0.1/tcp/1/http"})
    assert _exit(proc) == 1
    assert "ERROR: dial tcp 127.0.0.1:1: connect: connection refused" in proc.output()


def _listening(port: int) -> set[str]:
    """Local addresses listening on `port`, from /proc/net/tcp (hex little-endian IPv4)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, hexport = local.split(":")
        if state == "0A" and int(hexport, 16) == port:
            found.add(".".join(str(int(addr[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def _port(repo: Path) -> int:
    return int((repo / "api").read_text().split("/")[4])


@pytest.mark.skipif(not Path("/proc/net/tcp").is_file(), reason="needs Linux /proc/net/tcp")
def test_api_flags_bind_loopback_even_when_config_says_otherwise(tmp_path: Path) -> None:
    # daemon.go:423-436 and run.go:139-146: --api/--miner-api P become /ip4/127.0.0.1/tcp/P.
    stand = make_stand(tmp_path, sectors=4, deadlines=1)
    try:
        assert stand.import_snapshot().returncode == 0
        anywhere = {"LOTUS_API_LISTENADDRESS": "/ip4/0.0.0.0/tcp/0/http"}
        stand.start_daemon("--bootstrap=false", env=anywhere)
        stand.start_miner("--nosync", env=anywhere)
        assert _listening(_port(stand.lotus_repo)) == {"127.0.0.1"}
        assert _listening(_port(stand.miner_repo)) == {"127.0.0.1"}
    finally:
        stand.stop_all()


@pytest.mark.skipif(not Path("/proc/net/tcp").is_file(), reason="needs Linux /proc/net/tcp")
def test_listen_address_env_moves_the_daemon_off_loopback(tmp_path: Path) -> None:
    # Without --api the repo config's [API] ListenAddress holds, and LOTUS_API_LISTENADDRESS overrides it.
    stand = make_stand(tmp_path, sectors=4, deadlines=1)
    try:
        assert stand.import_snapshot().returncode == 0
        stand._start("daemon", "lotus", ["daemon", "--bootstrap=false"], stand.lotus_repo,
                     {"LOTUS_API_LISTENADDRESS": "/ip4/0.0.0.0/tcp/0/http"}, True)
        assert _listening(_port(stand.lotus_repo)) == {"0.0.0.0"}
    finally:
        stand.stop_all()
