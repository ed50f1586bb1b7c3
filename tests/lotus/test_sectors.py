"""Sector lists at scale: Lotus's compact JSON is scanned in one pass; anything else goes the careful way."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spdrill.errors import LotusDecodeError, LotusRPCError
from spdrill.lotus import ApiInfo, FullNodeClient, LotusResponseError
from spdrill.lotus.fullnode import _sectors_from_bytes, parse_sectors
from spdrill.lotus.rpc import RpcClient

CID = "bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4"


def sector(n: int, **extra: Any) -> dict[str, Any]:
    """A SectorOnChainInfo in Lotus's field order (go-state-types miner.SectorOnChainInfo)."""
    base: dict[str, Any] = {
        "SectorNumber": n, "SealProof": 8, "SealedCID": {"/": CID}, "Activation": 100 + n,
        "Expiration": 1_500_000 + n, "DealWeight": "0", "VerifiedDealWeight": "0", "InitialPledge": "5",
        "ExpectedDayReward": "0", "ExpectedStoragePledge": "0", "PowerBaseEpoch": 100,
        "ReplacedDayReward": "0", "SectorKeyCID": None, "Flags": 0, "DailyFee": "0",
    }  # fmt: skip
    base.update(extra)
    return base


def go_json(value: Any) -> bytes:
    """JSON as Go's encoding/json writes it: compact, keys in struct order."""
    return json.dumps(value, separators=(",", ":")).encode()


def go_server(results: dict[str, Any]) -> httpx.MockTransport:
    """A transport answering as go-jsonrpc does: compact envelope, jsonrpc, result, id."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        answer = results[body["method"].removeprefix("Filecoin.")]
        if isinstance(answer, httpx.Response):
            return answer
        raw = b'{"jsonrpc":"2.0","result":' + go_json(answer) + b',"id":' + str(body["id"]).encode() + b"}\n"
        return httpx.Response(200, content=raw)

    return httpx.MockTransport(handle)


def test_compact_lotus_json_takes_the_single_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    sectors = [sector(i) for i in range(50)] + [sector(50, SectorKeyCID={"/": CID})]
    client = FullNodeClient(
        ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http"), transport=go_server({"StateMinerSectors": sectors})
    )
    monkeypatch.setattr(json, "loads", _no_full_decode(json.loads))
    parsed = client.state_miner_sectors("f01000")
    assert [s.sector_number for s in parsed] == list(range(51))
    assert parsed[7].activation == 107 and parsed[7].sealed_cid == CID and parsed[7].expiration == 1_500_007


def _no_full_decode(real: Any) -> Any:
    def loads(data: Any, *args: Any, **kwargs: Any) -> Any:
        assert len(data) < 200, "the sector array was decoded with json.loads instead of scanned"
        return real(data, *args, **kwargs)

    return loads


@given(
    st.lists(st.tuples(st.integers(0, 2**40), st.integers(0, 20), st.integers(-5, 10**7)), max_size=30),
    st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_both_paths_agree(rows: list[tuple[int, int, int]], shuffle_keys: bool) -> None:
    items = [sector(n, SealProof=p, Activation=a, Expiration=a + 1) for n, p, a in rows]
    if shuffle_keys:  # not Lotus's field order: the scan must step aside, the careful path decides
        items = [dict(random.sample(list(s.items()), len(s))) for s in items]
    data = go_json(items)
    assert parse_sectors("m", data) == parse_sectors("m", items)
    if not shuffle_keys:
        assert _sectors_from_bytes(data) is not None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            go_json([sector(1), {k: v for k, v in sector(2).items() if k != "Expiration"}]),
            "result[1].Expiration",
        ),
        (go_json([sector(1, Activation="100")]), "result[0].Activation"),
        (b'[{"SectorNumber":1,', "result"),
        (go_json({"SectorNumber": 1}), "result"),
    ],
)
def test_bad_bytes_take_the_careful_path_and_name_the_field(data: bytes, field: str) -> None:
    with pytest.raises(LotusDecodeError) as err:
        parse_sectors("Filecoin.StateMinerSectors", data)
    assert err.value.field == field


def test_empty_and_null_results() -> None:
    client = FullNodeClient(
        ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http"),
        transport=go_server({"StateMinerSectors": [], "StateMinerActiveSectors": None}),
    )
    assert client.state_miner_sectors("f01000") == ()
    with pytest.raises(LotusResponseError, match="expected a list of sectors, got NoneType"):
        client.state_miner_active_sectors("f01000")


def rpc(transport: httpx.MockTransport) -> RpcClient:
    return RpcClient(ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http"), "v1", transport=transport)


def test_raw_list_envelope_is_still_checked() -> None:
    wrong_id = httpx.Response(200, content=b'{"jsonrpc":"2.0","result":[1,2],"id":99}')
    with pytest.raises(LotusDecodeError, match="does not match request id"):
        rpc(go_server({"X": wrong_id})).call_list_bytes("X")
    failed = httpx.Response(500, content=b'{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"boom"}}')
    with pytest.raises(LotusRPCError, match="boom"):
        rpc(go_server({"X": failed})).call_list_bytes("X")
    assert rpc(go_server({"X": [1, 2]})).call_list_bytes("X") == b"[1,2]"
    assert rpc(go_server({"X": [[1], [2]]})).call_list_bytes("X") == [[1], [2]]  # nested: decoded
    assert rpc(go_server({"X": {"a": 1}})).call_list_bytes("X") == {"a": 1}
