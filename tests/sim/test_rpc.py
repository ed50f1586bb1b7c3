"""Tests for lotus_sim.rpc: go-jsonrpc's HTTP behaviour, Bearer-JWT permissions and error bodies."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from lotus_sim.jwt import JwtError, decode_allow, encode_allow
from lotus_sim.rpc import Api, RpcError, RpcServer, Unauthorized
from lotus_sim.rpcclient import CallError, RpcClient, parse_api_info

SECRET = b"k" * 32


def _authorize(token: str) -> list[str]:
    try:
        return decode_allow(token, SECRET)
    except JwtError as exc:
        raise Unauthorized(str(exc)) from exc


def _fail() -> None:
    raise RpcError("deliberate failure")


@pytest.fixture
def server() -> Iterator[RpcServer]:
    api = Api(
        methods={"Echo": lambda x: x, "Secret": lambda: "s3", "Fail": _fail},
        perms={"Echo": "read", "Secret": "admin", "Fail": "read"},
    )
    srv = RpcServer("127.0.0.1", 0, {"/rpc/v0": api}, _authorize, {"/health/livez": lambda: (200, "ok")})
    srv.start()
    yield srv
    srv.stop()


def _post(srv: RpcServer, body: Any, token: str | None = None, path: str = "/rpc/v0") -> tuple[int, bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{srv.port}{path}", data=data, method="POST")
    if token is not None:
        req.add_header("Authorization", token)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _call(method: str, *params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 7, "method": f"Filecoin.{method}", "params": list(params)}


def test_no_token_gets_read(server: RpcServer) -> None:
    status, body = _post(server, _call("Echo", {"a": [1]}))
    assert status == 200
    assert json.loads(body) == {"jsonrpc": "2.0", "id": 7, "result": {"a": [1]}}


def test_no_token_is_refused_admin_with_lotus_text(server: RpcServer) -> None:
    status, body = _post(server, _call("Secret"))
    assert status == 500
    assert json.loads(body)["error"]["message"] == "missing permission to invoke 'Secret' (need 'admin')"


def test_write_token_is_refused_admin(server: RpcServer) -> None:
    token = encode_allow(["read", "write"], SECRET)
    status, _ = _post(server, _call("Secret"), f"Bearer {token}")
    assert status == 500


def test_admin_token_is_allowed(server: RpcServer) -> None:
    token = encode_allow(["read", "write", "sign", "admin"], SECRET)
    status, body = _post(server, _call("Secret"), f"Bearer {token}")
    assert (status, json.loads(body)["result"]) == (200, "s3")


FOREIGN = encode_allow(["admin"], b"x" * 32)


@pytest.mark.parametrize("header", ["Bearer nonsense", "Basic abc", f"Bearer {FOREIGN}"])
def test_malformed_or_foreign_token_gets_401_and_no_body(server: RpcServer, header: str) -> None:
    assert _post(server, _call("Echo", 1), header) == (401, b"")


def test_method_error_is_http_500_with_code_1(server: RpcServer) -> None:
    status, body = _post(server, _call("Fail"))
    assert status == 500
    assert json.loads(body)["error"] == {"code": 1, "message": "deliberate failure"}


def test_unknown_method_and_bad_arity_and_bad_json(server: RpcServer) -> None:
    status, body = _post(server, _call("Nope"))
    assert (status, json.loads(body)["error"]["code"]) == (500, -32601)
    status, body = _post(server, _call("Echo"))
    assert json.loads(body)["error"]["message"] == "wrong param count (method 'Filecoin.Echo'): 0 != 1"
    status, body = _post(server, b"{not json")
    assert (status, json.loads(body)["error"]["code"]) == (500, -32700)


def test_unknown_path_is_404_and_get_routes_answer(server: RpcServer) -> None:
    assert _post(server, _call("Echo", 1), path="/rpc/v9")[0] == 404
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/health/livez", timeout=5) as resp:
        assert (resp.status, resp.read()) == (200, b"ok")


def test_client_raises_call_error_with_status(server: RpcServer) -> None:
    client = RpcClient(f"http://127.0.0.1:{server.port}/rpc/v0")
    assert client.call("Echo", 5) == 5
    with pytest.raises(CallError, match="need 'admin'"):
        client.call("Secret")
    with pytest.raises(CallError) as info:
        RpcClient(client.url, token="bad").call("Echo", 1)
    assert info.value.status == 401


@pytest.mark.parametrize(
    ("value", "token", "base"),
    [
        ("TOK:/ip4/127.0.0.1/tcp/1234/http", "TOK", "http://127.0.0.1:1234"),
        ("/ip4/10.0.0.2/tcp/2345/http", "", "http://10.0.0.2:2345"),
        ("a.b.c:/dns/miner/tcp/2345/wss", "a.b.c", "https://miner:2345"),
        ("TOK:http://host:3456/rpc/v0", "TOK", "http://host:3456"),
    ],
)
def test_parse_api_info(value: str, token: str, base: str) -> None:
    info = parse_api_info(value)
    assert (info.token, info.base_url) == (token, base)


def test_parse_api_info_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="multiaddr"):
        parse_api_info("TOK:/ip4/1.2.3.4/udp/9")


def test_streamed_result_arrives_whole() -> None:
    from lotus_sim.rpc import JsonStream

    def many() -> JsonStream:
        return JsonStream(["[", ",".join(str(i) for i in range(100_000)), "]"])

    srv = RpcServer("127.0.0.1", 0, {"/rpc/v0": Api({"Many": many}, {"Many": "read"})}, _authorize)
    srv.start()
    try:
        assert RpcClient(f"http://127.0.0.1:{srv.port}/rpc/v0").call("Many") == list(range(100_000))
    finally:
        srv.stop()
