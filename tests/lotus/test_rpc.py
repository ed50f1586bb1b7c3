"""The JSON-RPC transport: requests as go-jsonrpc expects them, errors mapped, the token never leaked."""

from __future__ import annotations

import json
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from spdrill.errors import (
    CannotRunError,
    LotusAuthError,
    LotusDecodeError,
    LotusError,
    LotusHTTPStatusError,
    LotusResponseError,
    LotusRPCError,
    LotusUnreachableError,
)
from spdrill.lotus.apiinfo import ApiInfo
from spdrill.lotus.rpc import RpcClient


def client(fake: Any, token: str | None, version: str = "v1") -> RpcClient:
    prefix = f"{token}:" if token else ""
    return RpcClient(
        ApiInfo.parse(prefix + "/ip4/127.0.0.1/tcp/1234/http"), version, transport=fake.transport
    )


def rendered(exc: BaseException) -> str:
    """Everything a log or a report could show of an exception, its chain included."""
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


def test_request_shape(fake_lotus: Any, token: str) -> None:
    fake_lotus.results["ChainHead"] = {"Height": 1}
    assert client(fake_lotus, token).call("ChainHead") == {"Height": 1}
    method, params, headers, url = fake_lotus.calls[0]
    assert (method, params, url) == ("ChainHead", [], "http://127.0.0.1:1234/rpc/v1")
    assert headers["authorization"] == f"Bearer {token}"
    assert headers["content-type"] == "application/json"


def test_no_token_sends_no_authorization(fake_lotus: Any) -> None:
    fake_lotus.results["Version"] = {}
    client(fake_lotus, None, "v0").call("Version")
    assert "authorization" not in fake_lotus.calls[0][2]
    assert fake_lotus.calls[0][3].endswith("/rpc/v0")


def test_rpc_error_object(fake_lotus: Any) -> None:
    fake_lotus.results["StateMinerInfo"] = fake_lotus.error(1, "resolution lookup failed (f09999)")
    with pytest.raises(LotusRPCError) as err:
        client(fake_lotus, None).call("StateMinerInfo", "f09999", [])
    assert err.value.code == 1 and err.value.method == "Filecoin.StateMinerInfo"
    assert "resolution lookup failed" in str(err.value)


def test_missing_permission_is_an_auth_error(fake_lotus: Any, token: str) -> None:
    message = "missing permission to invoke 'WalletList' (need 'write')"
    fake_lotus.results["WalletList"] = fake_lotus.error(1, message)
    with pytest.raises(LotusAuthError, match="need 'write'"):
        client(fake_lotus, token).call("WalletList")


@pytest.mark.parametrize(
    ("status", "body", "error", "match"),
    [
        (401, b"", LotusAuthError, "refused the token"),
        (404, b"404 page not found", LotusHTTPStatusError, "HTTP status 404"),
        (502, b"<html>bad gateway</html>", LotusHTTPStatusError, "HTTP status 502"),
        (200, b"not json", LotusDecodeError, "not JSON"),
        (200, b"[1, 2]", LotusDecodeError, "not a JSON-RPC 2.0"),
        (200, b'{"jsonrpc": "2.0", "id": 1}', LotusDecodeError, "neither result nor error"),
        (200, b'{"jsonrpc": "2.0", "id": 77, "result": 1}', LotusDecodeError, "does not match"),
        (503, b'{"jsonrpc": "2.0", "id": 1, "result": 1}', LotusHTTPStatusError, "HTTP status 503"),
        (500, b'{"jsonrpc": "2.0", "id": 1, "error": "boom"}', LotusDecodeError, "not an object"),
        # go-jsonrpc sends a method's own error with HTTP 200 (handler.go:422-476), its keys sorted
        (200, b'{"error":{"code":1,"message":"boom"},"id":1,"jsonrpc":"2.0"}\n', LotusRPCError, "boom"),
        (500, b'{"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "method not found"}}',
         LotusRPCError, "method not found"),
    ],
)
def test_http_failures_are_mapped(
    status: int, body: bytes, error: type[LotusError], match: str, token: str
) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    rpc = RpcClient(ApiInfo.parse(f"{token}:/ip4/127.0.0.1/tcp/1234/http"), "v1", transport=transport)
    with pytest.raises(error, match=match) as err:
        rpc.call("ChainHead")
    assert token not in rendered(err.value)


def test_connection_error_is_mapped_and_scrubbed(token: str) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        # a library that echoed the header into its message must not leak it through us
        raise httpx.ConnectError(f"refused; sent {request.headers['authorization']}", request=request)

    rpc = RpcClient(
        ApiInfo.parse(f"{token}:/ip4/127.0.0.1/tcp/1234/http"), "v1", transport=httpx.MockTransport(refuse)
    )
    with pytest.raises(LotusUnreachableError, match="cannot reach the API") as err:
        rpc.call("ChainHead")
    assert isinstance(err.value.__cause__, httpx.ConnectError)
    assert err.value.url == "http://127.0.0.1:1234/rpc/v1" and err.value.method == "Filecoin.ChainHead"
    assert token not in str(err.value) and "<redacted>" in str(err.value)


@pytest.mark.parametrize(
    ("raised", "match"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "cannot reach the API"),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."),
         "connection closed before an answer.*Server disconnected"),
        (httpx.ReadError("[Errno 104] Connection reset by peer"), "connection closed before an answer"),
        (httpx.ReadTimeout("timed out"), "no answer within 30 s"),
        (httpx.ConnectTimeout("timed out"), "no answer within 30 s"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)
def test_no_answer_is_unreachable(raised: httpx.HTTPError, match: str) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise raised

    rpc = RpcClient(ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http"), "v1", transport=httpx.MockTransport(fail))
    with pytest.raises(LotusUnreachableError, match=match) as err:
        rpc.call("ChainHead")
    assert err.value.__cause__ is raised and err.value.exit_code == 3
    assert not isinstance(err.value, LotusResponseError)


def test_a_body_that_cannot_be_decoded_is_an_answer() -> None:
    def gzip_lie(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not gzip", headers={"Content-Encoding": "gzip"})

    rpc = RpcClient(ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http"), "v1", transport=httpx.MockTransport(gzip_lie))
    with pytest.raises(LotusDecodeError, match="could not be read"):
        rpc.call("ChainHead")


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, b"", LotusAuthError),
        (500, b'{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"boom"}}', LotusRPCError),
        (500, b"internal server error", LotusHTTPStatusError),
        (200, b'{"error":{"code":1,"message":"boom"},"id":1,"jsonrpc":"2.0"}', LotusRPCError),
    ],
)
def test_answers_are_findings_not_could_not_run(status: int, body: bytes, error: type[LotusError]) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    rpc = RpcClient(ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http"), "v1", transport=transport)
    with pytest.raises(error) as err:
        rpc.call("ChainHead")
    assert isinstance(err.value, LotusResponseError) and not isinstance(err.value, CannotRunError)
    assert err.value.exit_code == 1


def test_close_twice_and_context_manager() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"jsonrpc": "2.0", "id": 1,
                                                                              "result": 1}))
    with RpcClient(ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http"), "v1", transport=transport) as rpc:
        assert not rpc.closed and rpc.call("ChainHead") == 1
    assert rpc.closed
    rpc.close()
    rpc.close()
    assert rpc.closed


def test_rpc_error_message_is_scrubbed(fake_lotus: Any, token: str) -> None:
    fake_lotus.results["AuthVerify"] = fake_lotus.error(1, f"bad token {token}")
    with pytest.raises(LotusRPCError) as err:
        client(fake_lotus, token).call("AuthVerify", token)
    assert token not in rendered(err.value)


def test_repr_hides_the_token(fake_lotus: Any, token: str) -> None:
    rpc = client(fake_lotus, token)
    assert token not in repr(rpc) and "<redacted>" in repr(rpc)


# --- a real HTTP server on 127.0.0.1 -----------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    token = ""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") not in (None, f"Bearer {self.token}"):
            self.send_response(401)
            self.end_headers()
            return
        if body["method"] == "Filecoin.Slow":
            time.sleep(1.0)
        if body["method"] == "Filecoin.WalletList" and self.headers.get("Authorization") is None:
            answer = {
                "error": {"code": 1, "message": "missing permission to invoke 'WalletList' (need 'write')"}
            }
            status = 500
        else:
            answer, status = {"result": {"path": self.path, "params": body["params"]}}, 200
        data = json.dumps({"jsonrpc": "2.0", "id": body["id"], **answer}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the timeout test hangs up before the answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass


@pytest.fixture
def server(token: str) -> Iterator[int]:
    _Handler.token = token
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_real_server_round_trip(server: int, token: str) -> None:
    with RpcClient(ApiInfo.parse(f"{token}:/ip4/127.0.0.1/tcp/{server}/http"), "v0") as rpc:
        assert rpc.call("SectorsList", 1, [2]) == {"path": "/rpc/v0", "params": [1, [2]]}
        assert rpc.call("ChainHead")["path"] == "/rpc/v0"  # the connection is reused


def test_real_server_wrong_token(server: int, token: str) -> None:
    rpc = RpcClient(ApiInfo.parse(f"{token}x:/ip4/127.0.0.1/tcp/{server}/http"), "v1")
    with pytest.raises(LotusAuthError, match="HTTP 401") as err:
        rpc.call("ChainHead")
    assert token not in rendered(err.value)


def test_real_server_read_only_without_token(server: int) -> None:
    rpc = RpcClient(ApiInfo.parse(f"/ip4/127.0.0.1/tcp/{server}/http"), "v1")
    assert rpc.call("ChainHead")["path"] == "/rpc/v1"
    with pytest.raises(LotusAuthError, match="missing permission"):
        rpc.call("WalletList")


def test_real_server_timeout(server: int, token: str) -> None:
    rpc = RpcClient(ApiInfo.parse(f"{token}:/ip4/127.0.0.1/tcp/{server}/http"), "v1", timeout=0.2)
    with pytest.raises(LotusUnreachableError, match="no answer within 0.2 s") as err:
        rpc.call("Slow")
    assert token not in rendered(err.value)


def test_connection_refused(token: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        rpc = RpcClient(ApiInfo.parse(f"{token}:/ip4/127.0.0.1/tcp/{port}/http"), "v1", timeout=2)
        with pytest.raises(LotusUnreachableError, match="cannot reach the API.*ConnectError") as err:
            rpc.call("ChainHead")
    assert token not in rendered(err.value)
