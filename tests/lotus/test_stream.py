"""RpcClient.stream: a large answer read as it arrives, with the errors ordinary calls get.

Served by the stand-in's own JSON-RPC server (lotus_sim.rpc.RpcServer, which streams a JsonStream result
chunked as a million-sector StateMinerSectors is sent), and by go-jsonrpc's exact bytes through MockTransport.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from lotus_sim.jwt import JwtError, decode_allow, encode_allow
from lotus_sim.rpc import Api, JsonStream, RpcError, RpcServer, Unauthorized
from spdrill.errors import (
    LotusAuthError,
    LotusDecodeError,
    LotusHTTPStatusError,
    LotusRPCError,
    LotusUnreachableError,
)
from spdrill.lotus import ApiInfo, FullNodeClient
from spdrill.lotus.rpc import RpcClient

SECRET = b"s" * 32
ITEMS = 20_000  # ~600 KB of JSON: many of the server's 64 KiB chunks


def _items(n: int) -> Iterator[str]:
    yield "["
    for i in range(n):
        yield ("," if i else "") + json.dumps({"SectorNumber": i, "SealProof": 8}, separators=(",", ":"))
    yield "]"


def _broken(n: int) -> Iterator[str]:
    yield from list(_items(n))[:-1]
    raise RuntimeError("the daemon died mid-answer")  # the server drops the connection mid-body


def _authorize(token: str) -> list[str]:
    try:
        return decode_allow(token, SECRET)
    except JwtError as exc:
        raise Unauthorized(str(exc)) from exc


def _fail(actor: str) -> None:
    raise RpcError("blockstore: block not found")


@pytest.fixture
def stand_in() -> Iterator[int]:
    """The stand-in's RPC server on a free port, with a streamed method, a failing one and a broken one."""
    api = Api(
        methods={
            "StateMinerSectors": lambda actor, n: JsonStream(_items(n)),
            "Broken": lambda n: JsonStream(_broken(n)),
            "Fail": _fail,
        },
        perms={"StateMinerSectors": "read", "Broken": "read", "Fail": "read"},
    )
    server = RpcServer("127.0.0.1", 0, {"/rpc/v1": api}, _authorize)
    server.start()
    yield server.port
    server.stop()


def _info(port: int, token: str = "") -> ApiInfo:
    return ApiInfo.parse(f"{token + ':' if token else ''}/ip4/127.0.0.1/tcp/{port}/http")


def test_stream_hands_over_the_answer_in_chunks(stand_in: int) -> None:
    with FullNodeClient(_info(stand_in)) as client, client.rpc.stream("StateMinerSectors", "f01000", ITEMS,
                                                                      chunk_size=1 << 14) as chunks:
        parts = list(chunks)
    assert len(parts) > 10  # it came in pieces, not as one read
    answer = json.loads(b"".join(parts))
    assert answer["jsonrpc"] == "2.0" and answer["id"] == 1
    assert [s["SectorNumber"] for s in answer["result"]] == list(range(ITEMS))
    assert client.closed


def test_stream_maps_an_error_answer_before_any_chunk(stand_in: int) -> None:
    with RpcClient(_info(stand_in), "v1") as rpc:
        with pytest.raises(LotusRPCError, match="block not found") as err, rpc.stream("Fail", "f01000"):
            pytest.fail("no chunk may be handed over for an error answer")
        assert err.value.code == 1 and err.value.method == "Filecoin.Fail"
        with pytest.raises(LotusRPCError, match="wrong param count"), rpc.stream("StateMinerSectors", "f01000"):
            pass
        assert rpc.call("StateMinerSectors", "f01000", 2)[1]["SectorNumber"] == 1  # the client still works


def test_stream_maps_a_refused_token(stand_in: int) -> None:
    bad = encode_allow(["read"], b"x" * 32)
    with (RpcClient(_info(stand_in, bad), "v1") as rpc, pytest.raises(LotusAuthError, match="HTTP 401") as err,
          rpc.stream("StateMinerSectors", "f01000", 1)):
        pytest.fail("the token was refused")
    assert bad not in str(err.value)
    good = encode_allow(["read"], SECRET)
    with RpcClient(_info(stand_in, good), "v1") as rpc, rpc.stream("StateMinerSectors", "f01000", 3) as chunks:
        assert json.loads(b"".join(chunks))["result"][2] == {"SectorNumber": 2, "SealProof": 8}


def test_an_answer_that_breaks_off_is_unreachable(stand_in: int) -> None:
    with (RpcClient(_info(stand_in), "v1") as rpc, rpc.stream("Broken", ITEMS, chunk_size=1 << 14) as chunks,
          pytest.raises(LotusUnreachableError, match="the answer broke off") as err):
        for _ in chunks:
            pass
    assert isinstance(err.value.__cause__, httpx.RemoteProtocolError)
    assert err.value.exit_code == 3 and err.value.method == "Filecoin.Broken"


def test_a_daemon_that_is_gone_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound but not listening: connections are refused
        info = _info(s.getsockname()[1])
        with (RpcClient(info, "v1", timeout=2) as rpc, pytest.raises(LotusUnreachableError, match="cannot reach"),
              rpc.stream("StateMinerSectors", "f01000", 1)):
            pytest.fail("nothing answered")


# -- go-jsonrpc's own bytes: keys sorted (response.go:16-35), a method's error with HTTP 200 ------------------
def _go(body: bytes, status: int = 200) -> RpcClient:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    return RpcClient(ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http"), "v1", transport=transport)


def test_go_jsonrpc_result_streams_whole() -> None:
    body = b'{"id":1,"jsonrpc":"2.0","result":[{"SectorNumber":7}]}\n'
    with _go(body).stream("StateMinerSectors", "f01000") as chunks:
        assert b"".join(chunks) == body


@pytest.mark.parametrize(
    ("status", "body", "error", "match"),
    [
        (200, b'{"error":{"code":1,"message":"failed to load miner actor: actor not found"},"id":1,'
              b'"jsonrpc":"2.0"}\n', LotusRPCError, "actor not found"),
        (200, b'{"error":{"code":1,"message":"missing permission to invoke \'X\' (need \'admin\')"},"id":1,'
              b'"jsonrpc":"2.0"}\n', LotusAuthError, "lacks a permission"),
        (200, b'{"id":5,"jsonrpc":"2.0","result":[1]}', LotusDecodeError, "does not match request id"),
        (200, b'{"jsonrpc":"1.0","id":1,"result":[1]}', LotusDecodeError, "not a JSON-RPC 2.0"),
        (200, b"<html>hello</html>", LotusDecodeError, "not JSON"),
        (502, b"bad gateway", LotusHTTPStatusError, "HTTP status 502"),
        (401, b"", LotusAuthError, "HTTP 401"),
    ],
)
def test_stream_errors_map_as_calls_do(status: int, body: bytes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match), _go(body, status).stream("StateMinerSectors", "f01000"):
        pytest.fail("no chunk may be handed over for an error answer")
    with pytest.raises(error, match=match):
        _go(body, status).call("StateMinerSectors", "f01000")


def test_error_null_beside_a_result_is_no_error() -> None:
    body = b'{"jsonrpc":"2.0","id":1,"error":null,"result":[3]}'
    with _go(body).stream("X") as chunks:
        assert json.loads(b"".join(chunks))["result"] == [3]
    assert _go(body).call("X") == [3]
