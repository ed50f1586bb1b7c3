"""Typed clients parse defensively: a missing or mistyped field names the method and the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from spdrill.errors import CannotRunError, LotusDecodeError, LotusError
from spdrill.lotus import ApiInfo, FullNodeClient, LotusResponseError, MinerClient, WorkerClient
from spdrill.lotus.fullnode import parse_sectors

BLOCK = {
    "Miner": "f01000",
    "Height": 10,
    "Timestamp": 1598306700,
    "ParentWeight": "42",
    "Parents": [{"/": "bafyparent"}],
}
TIPSET = {"Cids": [{"/": "bafyblock"}], "Blocks": [BLOCK], "Height": 10}
SECTOR = {
    "SectorNumber": 7,
    "SealProof": 8,
    "SealedCID": {"/": "bafysealed"},
    "Activation": 1,
    "Expiration": 9,
    "DealWeight": "0",
    "InitialPledge": "0",
}


def full(fake: Any) -> FullNodeClient:
    return FullNodeClient(ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http"), transport=fake.transport)


def miner(fake: Any) -> MinerClient:
    return MinerClient(ApiInfo.parse("T:/ip4/127.0.0.1/tcp/2345/http"), transport=fake.transport)


def test_tipset_min_timestamp_over_blocks(fake_lotus: Any) -> None:
    late = dict(BLOCK, Timestamp=1598306710)
    fake_lotus.results["ChainHead"] = dict(TIPSET, Blocks=[late, BLOCK], Cids=[{"/": "a"}, {"/": "b"}])
    head = full(fake_lotus).chain_head()
    assert head.min_timestamp == 1598306700 and head.key() == [{"/": "a"}, {"/": "b"}]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda t: t.pop("Height"), "result.Height"),
        (lambda t: t.update(Height="10"), "result.Height"),
        (lambda t: t["Blocks"][0].pop("Timestamp"), "result.Blocks[0].Timestamp"),
        (lambda t: t["Blocks"][0].update(Timestamp=True), "result.Blocks[0].Timestamp"),
        (lambda t: t["Blocks"][0].update(ParentWeight=42), "result.Blocks[0].ParentWeight"),
        (lambda t: t["Blocks"][0].update(ParentWeight="4x2"), "result.Blocks[0].ParentWeight"),
        (lambda t: t.update(Cids=["bafy"]), "result.Cids[0]"),
        (lambda t: t.update(Blocks=[]), "result.Blocks"),
        (lambda t: t.update(Blocks=None), "result.Blocks"),
    ],
)
def test_bad_tipset_names_the_field(fake_lotus: Any, mutate: Any, field: str) -> None:
    tipset = copy.deepcopy(TIPSET)
    mutate(tipset)
    fake_lotus.results["ChainHead"] = tipset
    with pytest.raises(LotusDecodeError) as err:
        full(fake_lotus).chain_head()
    assert err.value.method == "Filecoin.ChainHead" and err.value.field == field
    assert f"Filecoin.ChainHead: field {field}: expected" in str(err.value)
    assert isinstance(err.value, LotusResponseError) and isinstance(err.value, LotusError)
    assert not isinstance(err.value, CannotRunError) and err.value.exit_code == 1  # the API answered


def test_non_object_result(fake_lotus: Any) -> None:
    fake_lotus.results["ChainHead"] = None
    with pytest.raises(LotusResponseError, match="field result: expected an object, got NoneType"):
        full(fake_lotus).chain_head()


def test_sync_state_with_null_syncs_and_targets(fake_lotus: Any) -> None:
    fake_lotus.results["SyncState"] = {"ActiveSyncs": None, "VMApplied": 3}
    assert full(fake_lotus).sync_state().active_syncs == ()
    active = {
        "WorkerID": 1,
        "Base": None,
        "Target": TIPSET,
        "Stage": 4,
        "Height": 10,
        "Message": None,
        "Start": "0001-01-01T00:00:00Z",
        "End": "0001-01-01T00:00:00Z",
    }
    fake_lotus.results["SyncState"] = {"ActiveSyncs": [active], "VMApplied": 3}
    sync = full(fake_lotus).sync_state().active_syncs[0]
    assert (sync.base_height, sync.target_height, sync.stage_name, sync.message) == (None, 10, "complete", "")


def test_node_status_without_chain_status(fake_lotus: Any) -> None:
    fake_lotus.results["NodeStatus"] = {
        "SyncStatus": {"Epoch": 5, "Behind": 2},
        "PeerStatus": {"PeersToPublishMsgs": 0, "PeersToPublishBlocks": 0},
        "ChainStatus": None,
    }
    status = full(fake_lotus).node_status()
    assert (status.epoch, status.behind, status.blocks_per_tipset_last_100) == (5, 2, None)
    assert fake_lotus.calls[-1][1] == [False]


def test_sectors_filter_is_sent_as_run_lengths(fake_lotus: Any) -> None:
    from spdrill.lotus import Bitfield

    fake_lotus.results["StateMinerSectors"] = [SECTOR]
    full(fake_lotus).state_miner_sectors("f01000", Bitfield.from_iterable([7, 8]))
    assert fake_lotus.calls[-1][1] == ["f01000", [7, 2], []]
    full(fake_lotus).state_miner_sectors("f01000")
    assert fake_lotus.calls[-1][1] == ["f01000", None, []]


@pytest.mark.parametrize(
    ("sector", "field"),
    [
        ({k: v for k, v in SECTOR.items() if k != "Expiration"}, "result[1].Expiration"),
        (dict(SECTOR, SealedCID="bafy"), "result[1].SealedCID"),
        (dict(SECTOR, SectorNumber=None), "result[1].SectorNumber"),
        ("sector", "result[1]"),
    ],
)
def test_bad_sector_names_its_index(sector: Any, field: str) -> None:
    with pytest.raises(LotusDecodeError) as err:
        parse_sectors("Filecoin.StateMinerSectors", [SECTOR, sector])
    assert err.value.field == field


def test_sector_get_info_null_means_absent(fake_lotus: Any) -> None:
    fake_lotus.results["StateSectorGetInfo"] = None
    assert full(fake_lotus).state_sector_get_info("f01000", 3) is None


def test_bad_bitfield_in_partition(fake_lotus: Any) -> None:
    good = {
        n: [0] for n in ("AllSectors", "FaultySectors", "RecoveringSectors", "LiveSectors", "ActiveSectors")
    }
    fake_lotus.results["StateMinerPartitions"] = [good, dict(good, FaultySectors=[0, 3, 0, 1])]
    with pytest.raises(
        LotusResponseError, match=r"result\[1\].FaultySectors: expected a run-length bitfield"
    ):
        full(fake_lotus).state_miner_partitions("f01000", 0)


def test_wallet_results_are_checked(fake_lotus: Any) -> None:
    fake_lotus.results["WalletList"] = None
    assert full(fake_lotus).wallet_list() == ()
    fake_lotus.results["WalletList"] = [1]
    with pytest.raises(LotusResponseError, match="WalletList"):
        full(fake_lotus).wallet_list()
    fake_lotus.results["WalletHas"] = "yes"
    with pytest.raises(LotusResponseError, match="true or false"):
        full(fake_lotus).wallet_has("f3abc")


def test_miner_results_are_checked(fake_lotus: Any) -> None:
    fake_lotus.results.update(
        ActorAddress="",
        SectorsList=[1, "2"],
        CheckProvable={"x": "bad"},
        ComputeWindowPoSt=[
            {
                "Deadline": 1,
                "Partitions": [],
                "ChainCommitEpoch": 2,
                "Proofs": [{"PoStProof": 8, "ProofBytes": "%%%"}],
            }
        ],
    )
    client = miner(fake_lotus)
    for call, match in (
        (client.actor_address, "ActorAddress"),
        (client.sectors_list, "sector numbers"),
        (lambda: client.check_provable(8, []), "sector number -> reason"),
        (lambda: client.compute_window_post(1), "ProofBytes: expected base64"),
    ):
        with pytest.raises(LotusResponseError, match=match):
            call()


def test_worker_paths_and_task_types(fake_lotus: Any) -> None:
    fake_lotus.results.update(
        Paths=None,
        TaskTypes={"post/v0/windowproof": {}, "post/v0/winningproof": {}},
        Enabled=True,
        Version=67328,
    )
    worker = WorkerClient(ApiInfo.parse("T:/ip4/127.0.0.1/tcp/3456/http"), transport=fake_lotus.transport)
    assert worker.paths() == () and worker.enabled() is True and worker.version() == 67328
    assert worker.task_types() == ("post/v0/windowproof", "post/v0/winningproof")


def test_repr_of_clients_hides_token(fake_lotus: Any, token: str) -> None:
    info = ApiInfo.parse(f"{token}:/ip4/127.0.0.1/tcp/1234/http")
    for client in (FullNodeClient(info), MinerClient(info), WorkerClient(info)):
        assert token not in repr(client)
        client.close()


def test_sectors_filter_accepts_plain_numbers(fake_lotus: Any) -> None:
    fake_lotus.results["StateMinerSectors"] = []
    full(fake_lotus).state_miner_sectors("f01000", [9, 7, 8])
    assert fake_lotus.calls[-1][1] == ["f01000", [7, 3], []]


def test_version_without_agent_from_an_older_lotus(fake_lotus: Any) -> None:
    # APIVersion.Agent was added in Lotus v1.32.1 (api/api_common.go:77-78 @b835fab; absent at tag v1.31.1):
    # a daemon or miner before that answers Version with three fields only.
    fake_lotus.results["Version"] = {"Version": "1.31.1+mainnet+git.0a1b2c3", "APIVersion": 131840,
                                     "BlockDelay": 30}
    for client in (full(fake_lotus), miner(fake_lotus)):
        v = client.version()
        assert (v.version, v.api_semver, v.block_delay, v.agent) == ("1.31.1+mainnet+git.0a1b2c3", (2, 3, 0), 30, "")
        assert v.simulated is False


def test_version_agent_names_the_stand_in(fake_lotus: Any) -> None:
    fake_lotus.results["Version"] = {"Version": "1.36.2", "APIVersion": 131840, "BlockDelay": 30, "Agent": "lotus"}
    assert full(fake_lotus).version().agent == "lotus" and not full(fake_lotus).version().simulated
    fake_lotus.results["Version"]["Agent"] = "lotus-sim"
    assert miner(fake_lotus).version().simulated


@pytest.mark.parametrize("kind", [FullNodeClient, MinerClient, WorkerClient])
def test_clients_are_owned_and_closed(fake_lotus: Any, kind: type[FullNodeClient | MinerClient | WorkerClient]
                                      ) -> None:
    fake_lotus.results["Version"] = 1
    with kind(ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http"), transport=fake_lotus.transport) as client:
        assert isinstance(client, kind) and not client.closed
        assert client.rpc.call("Version") == 1
    assert client.closed and client.rpc.closed
    client.close()  # closing twice is fine
    with pytest.raises(RuntimeError, match="closed"):  # httpx refuses a closed client: a bug, not an outage
        client.rpc.call("Version")


def test_closed_on_error_inside_with(fake_lotus: Any) -> None:
    client = FullNodeClient(ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http"), transport=fake_lotus.transport)
    with pytest.raises(LotusResponseError), client:
        client.chain_head()  # not in fake_lotus.results: a JSON-RPC error
    assert client.closed
