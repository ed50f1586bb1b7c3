"""The chain firewall on real sockets: a real aiohttp daemon stand-in behind it, real HTTP and WebSocket clients."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aiohttp
import httpx
import pytest

from spdrill.errors import CannotRunError
from spdrill.firewall import ChainFirewall
from spdrill.firewall.methods import REFUSED
from tests.firewall.fake_daemon import CHANNEL_VALUES, UPSTREAM_TOKEN, WORKER, FakeDaemon

OTHER = "f1abjxfbp274xpdqcpuaykwkfb43omjotacm2p3za"


def post(fw: ChainFirewall, body: Any, *, token: str | None = None, path: str = "/rpc/v1") -> httpx.Response:
    """POST a JSON-RPC body (a str is sent as is) with the firewall's token unless told otherwise."""
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token or fw.token}"}
    return httpx.post(f"http://127.0.0.1:{fw.port}{path}", content=raw, headers=headers, timeout=10)


def call(method: str, *params: Any, id_: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": f"Filecoin.{method}", "params": list(params)}


async def ws_exchange(fw: ChainFirewall, frames: list[Any], replies: int, path: str = "/rpc/v1") -> list[Any]:
    """Open a WebSocket as lotus-miner does (ws://host:port/rpc/v1, cli/util/apiinfo.go:50-67), send, collect."""
    headers = {"Authorization": f"Bearer {fw.token}"}
    out: list[Any] = []
    async with aiohttp.ClientSession() as s, s.ws_connect(f"ws://127.0.0.1:{fw.port}{path}", headers=headers) as ws:
        for frame in frames:
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))
        while len(out) < replies:
            msg = await asyncio.wait_for(ws.receive(), 10)
            assert msg.type is aiohttp.WSMsgType.TEXT, msg
            out.append(json.loads(msg.data))
    return out


def leaked(daemon: FakeDaemon) -> list[str]:
    """Refused methods that reached the daemon anyway: what a failing firewall would show."""
    return [m for m in daemon.methods() if m.removeprefix("Filecoin.") in REFUSED]


def eventually(predicate: Any, within: float = 10.0) -> bool:
    """Poll until true (state on the far side of a socket settles asynchronously); no timing asserted."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def test_http_forwards_body_and_result_unchanged(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    body = '{"jsonrpc":"2.0",  "id": 7, "method":"Filecoin.ChainHead","params":[]}'
    resp = post(firewall, body)
    assert resp.status_code == 200
    assert resp.json() == {"jsonrpc": "2.0", "id": 7, "result": {"echo": "Filecoin.ChainHead"}}
    assert [s.raw for s in daemon.seen] == [body]
    assert daemon.seen[0].path == "/rpc/v1"


@pytest.mark.parametrize("path", ["/rpc/v0", "/rpc/v1", "/rpc/v2"])
def test_each_api_version_path_reaches_the_same_path(firewall: ChainFirewall, daemon: FakeDaemon, path: str) -> None:
    assert post(firewall, call("Version"), path=path).status_code == 200
    assert daemon.seen[-1].path == path


def test_no_or_wrong_token_gets_401_and_nothing_reaches_upstream(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    """go-jsonrpc's auth handler answers a token it cannot verify with 401 (auth/handler.go:30-41)."""
    url = f"http://127.0.0.1:{firewall.port}/rpc/v1"
    assert httpx.post(url, json=call("ChainHead")).status_code == 401
    assert post(firewall, call("ChainHead"), token=UPSTREAM_TOKEN).status_code == 401
    assert daemon.seen == []


def test_token_as_query_value_is_accepted(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    """go-jsonrpc also takes the token from a `token` form value (auth/handler.go:21-26)."""
    url = f"http://127.0.0.1:{firewall.port}/rpc/v1?token={firewall.token}"
    assert httpx.post(url, json=call("ChainHead")).status_code == 200


def test_upstream_sees_the_upstream_token_not_the_clients(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    post(firewall, call("ChainHead"))
    asyncio.run(ws_exchange(firewall, [call("ChainHead")], 1))
    assert {s.auth for s in daemon.seen} == {f"Bearer {UPSTREAM_TOKEN}"}
    assert firewall.token not in json.dumps([s.__dict__ for s in daemon.seen])


def test_wallethas_worker_is_answered_true_and_recorded(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    """lotus-miner starts only if WalletHas(StateAccountKey(worker)) is true (node/modules/storageminer.go:202-210)."""
    assert post(firewall, call("WalletHas", WORKER)).json() == {"jsonrpc": "2.0", "id": 1, "result": True}
    assert daemon.seen == []
    report = firewall.report()
    assert [(a.address, a.count) for a in report.wallet_has] == [(WORKER, 1)]


def test_wallethas_matches_across_network_prefixes(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    """Calibnet and devnets print addresses with `t`, mainnet with `f`; the key is the same."""
    testnet = "t" + WORKER[1:]
    assert post(firewall, call("WalletHas", testnet)).json()["result"] is True
    assert post(firewall, call("WalletHas", testnet.upper())).json()["result"] is True
    assert daemon.seen == []


def test_wallethas_other_address_is_forwarded(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    assert post(firewall, call("WalletHas", OTHER)).json()["result"] is False
    assert daemon.methods() == ["Filecoin.WalletHas"]
    assert firewall.report().wallet_has == ()


def test_every_refused_method_is_refused_over_http(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    for n, method in enumerate(sorted(REFUSED)):
        reply = post(firewall, call(method, id_=n)).json()
        assert reply["id"] == n
        assert reply["error"]["code"] == 1
        assert f"spdrill chain firewall: {method} refused" in reply["error"]["message"]
    assert daemon.seen == []
    assert firewall.report().refused_total == len(REFUSED)


def test_every_refused_method_is_refused_over_websocket(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    frames = [call(m, id_=n) for n, m in enumerate(sorted(REFUSED))]
    replies = asyncio.run(ws_exchange(firewall, frames, len(frames)))
    assert sorted(r["id"] for r in replies) == list(range(len(frames)))
    assert all("refused" in r["error"]["message"] for r in replies)
    assert daemon.seen == []


def test_refusal_sees_through_aliases_case_duplicates_and_bad_utf8(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    """Lotus aliases eth_sendRawTransaction (api/eth_aliases.go:28); Go's encoding/json matches keys
    case-insensitively (last one wins) and replaces invalid UTF-8, so each is a way past a naive filter."""
    bodies: list[str | bytes] = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x00"]},  # type: ignore[list-item]
        '{"jsonrpc":"2.0","id":2,"method":"Filecoin.ChainHead","Method":"Filecoin.MpoolPushMessage","params":[]}',
        '{"jsonrpc":"2.0","id":3,"METHOD":"Filecoin.WalletSignMessage","params":[]}',
        b'{"jsonrpc":"2.0","id":4,"method":"Filecoin.MpoolPushMessage","params":["\xff"]}',
    ]
    for body in bodies:
        assert "refused" in str(post(firewall, body).json()), body
    assert daemon.seen == []
    assert firewall.report().refused_total == len(bodies)


def test_refused_notification_gets_no_answer_and_is_not_forwarded(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    """A request without id is a notification: go-jsonrpc runs it and answers nothing (handler.go:408-410)."""
    resp = post(firewall, {"jsonrpc": "2.0", "method": "Filecoin.MpoolPushMessage", "params": []})
    assert resp.content == b""
    assert daemon.seen == []
    assert firewall.report().refused_total == 1


def test_unparsable_body_is_forwarded_unchanged(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    post(firewall, "{not json")
    assert [s.raw for s in daemon.seen] == ["{not json"]


def test_batch_elements_are_filtered_and_answers_kept_in_order(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    """go-jsonrpc serves batches over HTTP and answers them in request order (handler.go:194-216)."""
    batch = [call("ChainHead", id_=1), call("MpoolPushMessage", id_=2), call("WalletHas", WORKER, id_=3)]
    batch.append(call("StateMinerInfo", id_=4))
    answers = post(firewall, batch).json()
    assert [a["id"] for a in answers] == [1, 2, 3, 4]
    assert "refused" in answers[1]["error"]["message"]
    assert answers[2]["result"] is True
    assert answers[3]["result"] == {"echo": "Filecoin.StateMinerInfo"}
    assert daemon.methods() == ["Filecoin.ChainHead", "Filecoin.StateMinerInfo"]


def test_batch_of_plain_reads_goes_upstream_byte_for_byte(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    body = json.dumps([call("ChainHead", id_=1), call("Version", id_=2)], indent=1)
    assert [a["id"] for a in post(firewall, body).json()] == [1, 2]
    assert [s.raw for s in daemon.seen] == [body]


def test_channel_notifications_pass_through_websocket(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    """ChainNotify over WS: result = channel id, then xrpc.ch.val values and xrpc.ch.close
    (go-jsonrpc websocket.go:19-21 names, 214-221 id reply, 262-286 close and values)."""
    replies = asyncio.run(ws_exchange(firewall, [call("ChainNotify", id_=9)], 2 + CHANNEL_VALUES))
    assert replies[0] == {"jsonrpc": "2.0", "id": 9, "result": 1}
    values = replies[1 : 1 + CHANNEL_VALUES]
    assert [v["method"] for v in values] == ["xrpc.ch.val"] * CHANNEL_VALUES
    assert [v["params"][1][0]["Val"]["Height"] for v in values] == [100, 101, 102]
    assert replies[-1] == {"jsonrpc": "2.0", "method": "xrpc.ch.close", "params": [1]}


def test_websocket_forwards_frames_unchanged_and_filters_binary_frames(
    firewall: ChainFirewall, daemon: FakeDaemon
) -> None:
    """go-jsonrpc reads binary frames as requests too (websocket.go:117-127)."""
    text = '{"jsonrpc":"2.0","id":1,  "method":"Filecoin.ChainHead","params":[]}'
    binary = json.dumps(call("MpoolPush", {}, id_=2)).encode()
    replies = asyncio.run(ws_exchange(firewall, [text, binary, call("WalletHas", WORKER, id_=3)], 3))
    by_id = {r["id"]: r for r in replies}
    assert by_id[1]["result"] == {"echo": "Filecoin.ChainHead"}
    assert "refused" in by_id[2]["error"]["message"]
    assert by_id[3]["result"] is True
    assert [s.raw for s in daemon.seen] == [text]


def test_websocket_without_token_is_refused(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    async def dial() -> None:
        async with aiohttp.ClientSession() as s:
            await s.ws_connect(f"ws://127.0.0.1:{firewall.port}/rpc/v1")

    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        asyncio.run(dial())
    assert err.value.status == 401
    assert daemon.ws_opened == 0


def test_client_disconnect_closes_the_upstream_websocket(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    asyncio.run(ws_exchange(firewall, [call("ChainHead")], 1))
    assert daemon.ws_opened == 1
    assert eventually(lambda: daemon.ws_closed == 1)


def test_stop_is_idempotent_frees_the_port_and_closes_websockets(daemon: FakeDaemon) -> None:
    fw = ChainFirewall(upstream_url=daemon.url, upstream_token=UPSTREAM_TOKEN, worker_keys={WORKER})
    fw.start()

    async def hold_then_stop() -> aiohttp.WSMsgType:
        async with aiohttp.ClientSession() as s:
            ws = await s.ws_connect(f"ws://127.0.0.1:{fw.port}/rpc/v1", headers={"Authorization": f"Bearer {fw.token}"})
            await asyncio.to_thread(fw.stop)
            return (await asyncio.wait_for(ws.receive(), 10)).type

    assert asyncio.run(hold_then_stop()) in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    fw.stop()
    assert eventually(lambda: daemon.ws_closed == 1)
    with ChainFirewall(daemon.url, UPSTREAM_TOKEN, {WORKER}, port=fw.port) as again:
        assert post(again, call("ChainHead")).status_code == 200


def test_start_on_a_taken_port_raises_cannot_run(daemon: FakeDaemon) -> None:
    fw = ChainFirewall(upstream_url=daemon.url, upstream_token=UPSTREAM_TOKEN, worker_keys=set(), port=daemon.port)
    with pytest.raises(CannotRunError, match="cannot listen"):
        fw.start()
    fw.stop()


def test_context_manager_and_api_info(daemon: FakeDaemon) -> None:
    """API info is TOKEN:multiaddr, dialled as ws://host:port/rpc/v1 (cli/util/apiinfo.go:20-36, 50-67)."""
    with ChainFirewall(daemon.url + "/rpc/v1", UPSTREAM_TOKEN, {WORKER}) as fw:
        assert fw.api_info("127.0.0.1") == f"{fw.token}:/ip4/127.0.0.1/tcp/{fw.port}/http"
        assert fw.api_info("::1") == f"{fw.token}:/ip6/::1/tcp/{fw.port}/http"
        assert fw.api_info("host.docker.internal") == f"{fw.token}:/dns/host.docker.internal/tcp/{fw.port}/http"
        assert post(fw, call("ChainHead")).status_code == 200  # a /rpc/v1 suffix on the upstream URL is tolerated
    assert daemon.seen[0].path == "/rpc/v1"


def test_report_summary_names_what_was_refused_and_answered(firewall: ChainFirewall) -> None:
    for n in range(3):
        post(firewall, call("MpoolPushMessage", {}, None, id_=n))
    post(firewall, call("WalletHas", WORKER))
    post(firewall, call("ChainHead"))
    report = firewall.report()
    assert [(r.method, r.count) for r in report.refused] == [("MpoolPushMessage", 3)]
    assert report.refused[0].first <= report.refused[0].last
    assert report.forwarded == 1
    assert dict(report.per_method) == {"ChainHead": 1, "MpoolPushMessage": 3, "WalletHas": 1}
    line = report.summary()
    assert line.startswith("the standby made 3 calls that sign or send (MpoolPushMessage x3); all refused")
    assert f"answered WalletHas(worker key {WORKER[:6]}…{WORKER[-4:]}) true 1 time" in line


def test_a_leaking_firewall_would_be_caught(firewall: ChainFirewall, daemon: FakeDaemon) -> None:
    """The leak detector is not vacuous: a push that bypasses the firewall shows up, one through it does not."""
    post(firewall, call("MpoolPushMessage", {}, None))
    assert leaked(daemon) == []
    httpx.post(
        f"{daemon.url}/rpc/v1", json=call("MpoolPushMessage", {}, None)
    )  # what a missing fence would let through
    assert leaked(daemon) == ["Filecoin.MpoolPushMessage"]
    assert firewall.report().refused_total == 1  # the report counts only what the firewall stopped


def test_no_token_reaches_the_logs(daemon: FakeDaemon, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with ChainFirewall(daemon.url, UPSTREAM_TOKEN, {WORKER}) as fw:
        post(fw, call("WalletSign", WORKER, "aGk="))
        post(fw, call("ChainHead"))
        token = fw.token
    assert "refused WalletSign" in caplog.text
    assert token not in caplog.text and UPSTREAM_TOKEN not in caplog.text
