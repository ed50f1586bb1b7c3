"""JSON-RPC 2.0 as go-jsonrpc serves Lotus: HTTP POST and WebSocket on one path, Bearer-JWT permissions."""

from __future__ import annotations

import inspect
import json
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lotus_sim.perms import ALL_PERMISSIONS, missing_permission_text

__all__ = ["Api", "Channel", "FileSlices", "JsonStream", "RpcError", "RpcServer", "Unauthorized", "deferred"]

# go-jsonrpc's codes: a method's own error is code 1; the rest are JSON-RPC 2.0's standard codes.
CODE_METHOD_ERROR = 1
CODE_PARSE = -32700
CODE_INVALID_REQUEST = -32600
CODE_NOT_FOUND = -32601
CODE_PARAMS = -32602

# Anonymous callers get read, as in Lotus's DefaultPerms.
DEFAULT_ALLOW = ("read",)


class RpcError(Exception):
    """An error a method returns to its caller as a JSON-RPC error object."""

    def __init__(self, message: str, code: int = CODE_METHOD_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class JsonStream:
    """A result sent as it is produced (encoded JSON fragments), so huge results never sit in memory."""

    def __init__(self, fragments: Iterable[str]) -> None:
        self.fragments = fragments


@dataclass(frozen=True)
class FileSlices:
    """A result already encoded in a file: literal bytes and (offset, length) ranges, sent with sendfile.

    A million-sector answer is hundreds of MB; copying it from the page cache costs far less than encoding it.
    """

    path: Path
    parts: list[bytes | tuple[int, int]]

    def size(self) -> int:
        """Bytes of the whole answer, for Content-Length."""
        return sum(len(p) if isinstance(p, bytes) else p[1] for p in self.parts)

    def enveloped(self, req_id: Any) -> FileSlices:
        """The JSON-RPC response whose result these slices are."""
        head = f'{{"jsonrpc":"2.0","id":{json.dumps(req_id)},"result":'.encode()
        return FileSlices(self.path, [head, *self.parts, b"}"])


@dataclass(frozen=True)
class Channel:
    """The result of a channel-returning method (`<-chan T` in Go), served only over WebSocket.

    `produce(cancelled)` yields the channel's values until it ends or `cancelled` is set (the call's
    context is done: the client sent `xrpc.cancel` or the connection closed); it must watch `cancelled`
    while it waits.
    """

    produce: Callable[[threading.Event], Iterator[Any]]


class Unauthorized(Exception):
    """A token the server rejects: the request gets HTTP 401 and no body."""


@dataclass
class Api:
    """One RPC namespace: handlers by bare method name (without `Filecoin.`) and their permissions."""

    methods: dict[str, Callable[..., Any]]
    perms: Mapping[str, str]
    # Told about calls refused for want of permission (the daemon records refused mpool pushes too).
    on_denied: Callable[[str, list[Any], str], None] | None = None
    # Methods whose Go result is a channel: they return a Channel, and HTTP cannot carry them.
    channels: frozenset[str] = frozenset()
    _signatures: dict[str, inspect.Signature] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        missing = sorted(set(self.methods) - set(self.perms))
        if missing:
            raise ValueError(f"methods without a permission entry: {missing}")
        self._signatures = {name: inspect.signature(fn) for name, fn in self.methods.items()}

    def dispatch(self, full_name: str, params: list[Any], allow: tuple[str, ...], out_channels: bool = False) -> Any:
        """Run one call after the checks go-jsonrpc makes, in its order (handler.go:316-368).

        Name, then channel support (HTTP has none), then arity; the permission check comes last, as
        Lotus's permissioned proxy checks it inside the call.
        """
        name = full_name.removeprefix("Filecoin.")
        fn = self.methods.get(name)
        if fn is None or not full_name.startswith("Filecoin."):
            raise RpcError(f"method '{full_name}' not found", CODE_NOT_FOUND)
        if name in self.channels and not out_channels:
            raise RpcError(f"method '{full_name}' not supported in this mode (no out channel support)",
                           CODE_NOT_FOUND)
        sig = self._signatures[name]
        if len(params) != len(sig.parameters):
            counts = f"{len(params)} != {len(sig.parameters)}"
            raise RpcError(f"wrong param count (method '{full_name}'): {counts}", CODE_PARAMS)
        need = self.perms[name]
        if need not in allow:
            text = missing_permission_text(name, need)
            if self.on_denied is not None:
                self.on_denied(name, params, text)
            raise RpcError(text)
        return fn(*params)


Authorize = Callable[[str], list[str]]
GetRoute = Callable[[], tuple[int, str]]
# A POST route under a path prefix (the miner's /remote, node/rpc.go:130-133): (path, permissions granted
# or None for a bad token, body) -> (status, body).
PostRoute = Callable[[str, "tuple[str, ...] | None", bytes], tuple[int, bytes]]


class RpcServer:
    """A threaded HTTP server for RPC paths (`/rpc/v0` ...) and plain GET routes (`/health/livez` ...)."""

    def __init__(
        self,
        host: str,
        port: int,
        apis: Mapping[str, Api],
        authorize: Authorize,
        get_routes: Mapping[str, GetRoute] | None = None,
        post_routes: Mapping[str, PostRoute] | None = None,
    ) -> None:
        self.apis = dict(apis)
        self.authorize = authorize
        self.get_routes = dict(get_routes or {})
        self.post_routes = dict(post_routes or {})
        self.sessions: set[Any] = set()  # live WsSession objects (lotus_sim.wsserver)
        self.sessions_lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful when asked for port 0)."""
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        """Serve in a background thread."""
        # A short poll interval keeps stop() (and so process shutdown) fast.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="rpc", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the socket and every WebSocket connection (their clients see them drop)."""
        self._httpd.shutdown()
        self._httpd.server_close()
        with self.sessions_lock:
            sessions = list(self.sessions)
        for session in sessions:
            session.close()

    def allow(self, auth_header: str | None) -> tuple[str, ...] | None:
        """The permissions a request's Authorization header grants; None means HTTP 401.

        go-jsonrpc auth/handler.go:29-45: no header is DefaultPerms (read); no `Bearer ` prefix or a token
        that fails verification is 401 with no body.
        """
        if not auth_header:
            return DEFAULT_ALLOW
        if not auth_header.startswith("Bearer "):
            return None
        try:
            granted = self.authorize(auth_header.removeprefix("Bearer "))
        except Unauthorized:
            return None
        return tuple(p for p in granted if p in ALL_PERMISSIONS)

    def handle_rpc(
        self, path: str, auth_header: str | None, body: bytes
    ) -> tuple[int, bytes | Iterator[bytes] | FileSlices]:
        """Answer one POST: the HTTP status and body."""
        for prefix, route in self.post_routes.items():
            if path.startswith(prefix):
                return route(path, self.allow(auth_header), body)
        api = self.apis.get(path)
        if api is None:
            return 404, b"404 page not found\n"
        allow = self.allow(auth_header)
        if allow is None:
            return 401, b""
        if not body.strip():
            # go-jsonrpc handler.go:189-191; server.go:145-147 answers Invalid request with 400.
            return 400, _error_body(None, CODE_INVALID_REQUEST, "Invalid request")
        try:
            request = json.loads(body)
        except ValueError:
            return 500, _error_body(None, CODE_PARSE, "Parse error")
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return 500, _error_body(None, CODE_INVALID_REQUEST, "Invalid request")
        req_id = request.get("id")
        params = request.get("params", [])
        if params is None:
            params = []
        if not isinstance(params, list):
            return 500, _error_body(req_id, CODE_PARAMS, "params must be an array")
        try:
            result = api.dispatch(request["method"], params, allow)
        except RpcError as exc:
            return 500, _error_body(req_id, exc.code, exc.message)
        except Exception as exc:  # noqa: BLE001 - a handler bug must not kill the server thread
            print(f"lotus-sim: {request['method']} failed: {exc!r}", file=sys.stderr)
            return 500, _error_body(req_id, CODE_METHOD_ERROR, f"internal error: {exc}")
        if isinstance(result, JsonStream):
            return 200, stream_chunks(req_id, result)
        if isinstance(result, FileSlices):
            return 200, result.enveloped(req_id)
        payload = {"jsonrpc": "2.0", "id": req_id, "result": result}
        return 200, json.dumps(payload, separators=(",", ":")).encode()


def stream_chunks(req_id: Any, result: JsonStream) -> Iterator[bytes]:
    """The response to a call whose result is a JsonStream, in chunks of about 64 KiB."""
    yield f'{{"jsonrpc":"2.0","id":{json.dumps(req_id)},"result":'.encode()
    buffer: list[str] = []
    size = 0
    for fragment in result.fragments:
        buffer.append(fragment)
        size += len(fragment)
        if size >= 1 << 16:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    buffer.append("}")
    yield "".join(buffer).encode()


def _error_body(req_id: Any, code: int, message: str) -> bytes:
    body = {"jsonrpc": "2.0", "id": req_id, "error": {"code": code, "message": message}}
    return json.dumps(body).encode()


def _make_handler(server: RpcServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; with Nagle on, keep-alive clients wait ~40 ms per call.
        disable_nagle_algorithm = True

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _send_file(self, status: int, out: FileSlices) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(out.size()))
            self.end_headers()
            with out.path.open("rb") as fh:
                for part in out.parts:
                    if isinstance(part, bytes):
                        self.wfile.write(part)
                    else:
                        self.connection.sendfile(fh, part[0], part[1])

        def _auth_header(self) -> str | None:
            # auth/handler.go:21-27: a `token` form value stands in for a missing Authorization header.
            header = self.headers.get("Authorization")
            if not header:
                token = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
                header = f"Bearer {token}" if token else None
            return header

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, out = server.handle_rpc(urlsplit(self.path).path, self._auth_header(), body)
            if isinstance(out, bytes):
                self._send(status, out)
                return
            if isinstance(out, FileSlices):
                self._send_file(status, out)
                return
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in out:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = urlsplit(self.path).path
            if path in server.apis:
                self._rpc_get(path)
                return
            route = server.get_routes.get(self.path)
            if route is None:
                self._send(404, b"404 page not found\n", "text/plain")
                return
            status, text = route()
            self._send(status, text.encode(), "text/plain")

        def _rpc_get(self, path: str) -> None:
            # The auth handler wraps the RPC server (Lotus node/rpc.go), so a bad token is 401 before any
            # upgrade; then go-jsonrpc server.go:123-127 upgrades when Connection mentions "upgrade", and
            # treats anything else as a call with an empty body.
            allow = server.allow(self._auth_header())
            if allow is None:
                self._send(401, b"")
                return
            if "upgrade" not in (self.headers.get("Connection") or "").lower():
                status, out = server.handle_rpc(path, self._auth_header(), b"")
                self._send(status, out if isinstance(out, bytes) else b"")
                return
            from lotus_sim.wsserver import upgrade

            upgrade(self, server, path, allow)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
            # Access logs would carry nothing useful and would flood the process's stderr.
            return

    return Handler


def deferred(action: Callable[[], object], delay: float = 0.2) -> Callable[[], None]:
    """A handler that runs `action` shortly after answering (Shutdown must reply before the server stops)."""

    def handler() -> None:
        timer = threading.Timer(delay, action)
        timer.daemon = True
        timer.start()

    return handler
