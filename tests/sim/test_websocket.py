"""WebSocket JSON-RPC on the stand-in's RPC paths, as go-jsonrpc serves it (github.com/filecoin-project/go-jsonrpc
at 50fb727; Lotus pins v0.10.2): the upgrade, calls, channels (`xrpc.ch.val`/`xrpc.ch.close`), `xrpc.cancel`.
"""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from lotus_sim.rpc import Api, Channel, RpcServer, Unauthorized
from lotus_sim.rpcclient import CallError, RpcClient
from lotus_sim.wsframe import OP_PING, OP_PONG, WsConn, accept_key, new_key

TOKENS = {"reader": ["read"], "admin": ["read", "write", "sign", "admin"]}


def _authorize(token: str) -> list[str]:
    if token not in TOKENS:
        raise Unauthorized("bad token")
    return TOKENS[token]


def _ticks(cancelled: threading.Event) -> Iterator[int]:
    n = 0
    while not cancelled.wait(0.02):
        n += 1
        yield n


@pytest.fixture
def server() -> Iterator[RpcServer]:
    methods: dict[str, Any] = {"Echo": lambda x: x, "Secret": lambda: "s", "Ticks": lambda: Channel(_ticks)}
    api = Api(methods, {"Echo": "read", "Secret": "admin", "Ticks": "read"}, channels=frozenset({"Ticks"}))
    srv = RpcServer("127.0.0.1", 0, {"/rpc/v0": api}, _authorize)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _handshake(port: int, headers: dict[str, str], path: str = "/rpc/v0") -> tuple[int, socket.socket, Any]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = new_key()
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    rfile = sock.makefile("rb")
    status = int(rfile.readline().split()[1])
    got = {}
    while (line := rfile.readline().decode().strip()):
        name, _, value = line.partition(":")
        got[name.lower()] = value.strip()
    if status == 101:
        assert got["sec-websocket-accept"] == accept_key(key)
    return status, sock, rfile


def _raw(port: int, token: str = "reader") -> WsConn:
    status, sock, rfile = _handshake(port, {"Authorization": f"Bearer {token}"})
    assert status == 101
    return WsConn(rfile, sock, client=True)


def _next(conn: WsConn) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(conn.recv_message())
    return message


def test_ws_calls_carry_the_upgrade_tokens_permissions(server: RpcServer) -> None:
    # go-jsonrpc auth/handler.go:29-45 runs before the upgrade: its permissions hold for the whole connection.
    reader = RpcClient(f"ws://127.0.0.1:{server.port}/rpc/v0", "reader")
    assert reader.call("Echo", {"a": [1, 2]}) == {"a": [1, 2]}
    with pytest.raises(CallError, match=r"missing permission to invoke 'Secret' \(need 'admin'\)"):
        reader.call("Secret")
    assert RpcClient(f"ws://127.0.0.1:{server.port}/rpc/v0", "admin").call("Secret") == "s"
    assert RpcClient(f"ws://127.0.0.1:{server.port}/rpc/v0").call("Echo", 1) == 1  # no token: read


@pytest.mark.parametrize("header", [{"Authorization": "Bearer forged"}, {"Authorization": "forged"}])
def test_a_bad_token_is_401_at_the_upgrade(server: RpcServer, header: dict[str, str]) -> None:
    # auth/handler.go:30-42: no `Bearer ` prefix or a failed verification is 401 before any upgrade.
    status, sock, _ = _handshake(server.port, header)
    sock.close()
    assert status == 401
    with pytest.raises(CallError) as caught:
        RpcClient(f"ws://127.0.0.1:{server.port}/rpc/v0", "forged").call("Echo", 1)
    assert caught.value.status == 401


def test_token_form_value_stands_in_for_the_header(server: RpcServer) -> None:
    # auth/handler.go:21-27: `?token=` when there is no Authorization header.
    status, sock, rfile = _handshake(server.port, {}, "/rpc/v0?token=admin")
    assert status == 101
    conn = WsConn(rfile, sock, client=True)
    conn.send_text(b'{"jsonrpc":"2.0","id":1,"method":"Filecoin.Secret","params":[]}')
    assert _next(conn) == {"jsonrpc": "2.0", "id": 1, "result": "s"}
    conn.close()


def test_channel_values_and_close_have_go_jsonrpcs_frames(server: RpcServer) -> None:
    # websocket.go:197-213 answers the call with the channel id (a per-connection counter from 1, :293),
    # :276-287 sends each value as xrpc.ch.val [id, value]; xrpc.cancel [call id] (:321-339, handled at
    # :342-363) cancels the call's context, and the closed channel becomes xrpc.ch.close [id] (:251-270).
    conn = _raw(server.port)
    conn.send_text(b'{"jsonrpc":"2.0","id":7,"method":"Filecoin.Ticks","params":[]}')
    assert _next(conn) == {"jsonrpc": "2.0", "id": 7, "result": 1}
    assert _next(conn) == {"jsonrpc": "2.0", "method": "xrpc.ch.val", "params": [1, 1]}
    assert _next(conn) == {"jsonrpc": "2.0", "method": "xrpc.ch.val", "params": [1, 2]}
    conn.send_text(b'{"jsonrpc":"2.0","method":"xrpc.cancel","params":[7]}')
    frame = _next(conn)
    while frame["method"] == "xrpc.ch.val":
        frame = _next(conn)
    assert frame == {"jsonrpc": "2.0", "method": "xrpc.ch.close", "params": [1]}
    conn.send_text(b'{"jsonrpc":"2.0","id":8,"method":"Filecoin.Ticks","params":[]}')
    assert _next(conn) == {"jsonrpc": "2.0", "id": 8, "result": 2}
    conn.close()


def test_client_subscription_ends_on_cancel(server: RpcServer) -> None:
    client = RpcClient(f"ws://127.0.0.1:{server.port}/rpc/v0", "reader")
    sub = client.subscribe("Ticks")
    assert [sub.get(2), sub.get(2)] == [1, 2]
    sub.cancel()
    assert sub.ended.wait(2) and sub.reason == "closed"
    client.close()


def test_a_channel_method_over_http_fails_as_go_jsonrpc(server: RpcServer) -> None:
    # handler.go:333-336: no out-channel support on HTTP: -32601 and server.go:141-149 makes it HTTP 500.
    body = b'{"jsonrpc":"2.0","id":1,"method":"Filecoin.Ticks","params":[]}'
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/rpc/v0", data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 500
    error = json.loads(caught.value.read())["error"]
    assert error == {"code": -32601,
                     "message": "method 'Filecoin.Ticks' not supported in this mode (no out channel support)"}


def test_fragmented_message_and_ping_are_handled(server: RpcServer) -> None:
    # RFC 6455 5.4-5.5: a message in a text frame plus continuation frames, a ping between them.
    conn = _raw(server.port)
    body = b'{"jsonrpc":"2.0","id":3,"method":"Filecoin.Echo","params":["' + b"x" * 70000 + b'"]}'
    conn._send_frame(0x1, body[:10], fin=False)
    conn._send_frame(OP_PING, b"hi")
    conn._send_frame(0x0, body[10:], fin=True)
    # The pong arrives first; recv_message skips control frames, so read the raw frame header here.
    first = conn.sock.recv(2, socket.MSG_PEEK)
    assert first[0] & 0x0F == OP_PONG
    assert _next(conn) == {"jsonrpc": "2.0", "id": 3, "result": "x" * 70000}
    conn.close()


def test_stopping_the_server_ends_subscriptions(server: RpcServer) -> None:
    client = RpcClient(f"ws://127.0.0.1:{server.port}/rpc/v0", "reader")
    sub = client.subscribe("Ticks")
    sub.get(2)
    server.stop()
    assert sub.ended.wait(5) and "connection closed" in sub.reason
