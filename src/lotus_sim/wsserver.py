"""go-jsonrpc's WebSocket side of an RPC path: the upgrade, one JSON-RPC call per frame, channels, cancel.

Modelled on go-jsonrpc (github.com/filecoin-project/go-jsonrpc at 50fb727, the v0.10 line Lotus pins):
server.go:77-127 (upgrade), websocket.go (frames, `xrpc.*` built-ins, channel forwarding), handler.go.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
import threading
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import Any

from lotus_sim.rpc import (
    CODE_METHOD_ERROR,
    CODE_PARAMS,
    Api,
    Channel,
    FileSlices,
    JsonStream,
    RpcError,
    RpcServer,
    stream_chunks,
)
from lotus_sim.wsframe import CLOSE_GOING_AWAY, WsClosed, WsConn, accept_key

__all__ = ["PING_INTERVAL", "WsSession", "handshake_problem", "upgrade"]

# websocket.go:19-21: the built-in methods of go-jsonrpc's WebSocket protocol.
CANCEL, CH_VALUE, CH_CLOSE = "xrpc.cancel", "xrpc.ch.val", "xrpc.ch.close"
PING_INTERVAL = 5.0  # options_server.go:35, the server's default ping interval


def handshake_problem(headers: Message) -> str:
    """Why gorilla's Upgrader refuses a request (the 400 body), or "" for a valid RFC 6455 handshake."""
    if "websocket" not in (headers.get("Upgrade") or "").lower():
        return "websocket: the client is not using the websocket protocol: 'websocket' token not found in " \
               "'Upgrade' header"
    if (headers.get("Sec-WebSocket-Version") or "").strip() != "13":
        return "websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' header"
    key = (headers.get("Sec-WebSocket-Key") or "").strip()
    if len(key) != 24 or not key.endswith("=="):
        return "websocket: not a websocket handshake: 'Sec-WebSocket-Key' header must be Base64 encoded " \
               "value of 16-byte in length"
    return ""


def upgrade(handler: BaseHTTPRequestHandler, server: RpcServer, path: str, allow: tuple[str, ...]) -> None:
    """Answer an upgrade request on an RPC path and serve the connection until it closes."""
    problem = handshake_problem(handler.headers)
    if problem:
        body = problem.encode() + b"\n"
        handler.send_response(400)
        handler.send_header("Sec-Websocket-Version", "13")
        handler.send_header("Content-Type", "text/plain; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        return
    handler.send_response(101)
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept_key(handler.headers["Sec-WebSocket-Key"].strip()))
    handler.send_header("Access-Control-Allow-Origin", "*")  # server.go:80
    handler.end_headers()
    handler.wfile.flush()
    handler.close_connection = True
    session = WsSession(WsConn(handler.rfile, handler.connection, client=False), server.apis[path], allow)
    with server.sessions_lock:
        server.sessions.add(session)
    try:
        session.serve()
    finally:
        with server.sessions_lock:
            server.sessions.discard(session)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class WsSession:
    """One upgraded connection: each frame is a call run in its own thread, as websocket.go:473 does."""

    def __init__(self, conn: WsConn, api: Api, allow: tuple[str, ...]) -> None:
        self.conn = conn
        self.api = api
        self.allow = allow
        self._chan_ids = itertools.count(1)  # websocket.go:293: per-connection counter, first id 1
        self._handling: dict[Any, threading.Event] = {}  # request id -> its context (set = cancelled)
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def serve(self) -> None:
        """Read frames until the connection closes; then cancel every call and channel still running."""
        threading.Thread(target=self._pings, name="ws-ping", daemon=True).start()
        try:
            while True:
                raw = self.conn.recv_message()
                try:
                    frame = json.loads(raw)
                except ValueError:
                    continue  # websocket.go:701-705 logs and drops a frame it cannot parse
                if isinstance(frame, dict):
                    self._frame(frame)
        except (WsClosed, OSError):
            pass
        finally:
            self._closed.set()
            with self._lock:
                for cancelled in self._handling.values():
                    cancelled.set()
                self._handling.clear()
            self.conn.close()

    def close(self) -> None:
        """Close the connection from the server side (the server is stopping)."""
        self.conn.close(CLOSE_GOING_AWAY)

    def _pings(self) -> None:
        while not self._closed.wait(PING_INTERVAL):
            try:
                self.conn.ping()
            except OSError:
                return

    def _frame(self, frame: dict[str, Any]) -> None:
        # websocket.go:516-531: no method is a response to a call of ours (the server makes none here).
        method = frame.get("method")
        if method == CANCEL:
            params = frame.get("params") or []
            with self._lock:
                cancelled = self._handling.get(params[0]) if params else None
            if cancelled is not None:
                cancelled.set()
            return
        if not isinstance(method, str) or method in (CH_VALUE, CH_CLOSE):
            return
        req_id = frame.get("id")
        cancelled = threading.Event()
        if req_id is not None:
            with self._lock:
                self._handling[req_id] = cancelled
        threading.Thread(target=self._call, args=(req_id, method, frame.get("params"), cancelled),
                         name=f"ws-{method}", daemon=True).start()

    def _done(self, req_id: Any) -> None:
        with self._lock:
            self._handling.pop(req_id, None)

    def _send(self, message: Any) -> None:
        # A failed send needs no handling here: the reader sees the closed connection and cleans up.
        with contextlib.suppress(OSError):
            self.conn.send_text(_dumps(message))

    def _call(self, req_id: Any, method: str, params: Any, cancelled: threading.Event) -> None:
        if params is None:
            params = []
        try:
            if not isinstance(params, list):
                raise RpcError("unmarshaling param array: params must be an array", CODE_PARAMS)
            result = self.api.dispatch(method, params, self.allow, out_channels=True)
        except RpcError as exc:
            self._done(req_id)
            if req_id is not None:
                self._send({"jsonrpc": "2.0", "id": req_id, "error": {"code": exc.code, "message": exc.message}})
            return
        except Exception as exc:  # noqa: BLE001 - a handler bug must not kill the connection
            print(f"lotus-sim: {method} failed: {exc!r}", file=sys.stderr)
            self._done(req_id)
            if req_id is not None:
                self._send({"jsonrpc": "2.0", "id": req_id,
                            "error": {"code": CODE_METHOD_ERROR, "message": f"internal error: {exc}"}})
            return
        if req_id is None:
            cancelled.set()
            return  # handler.go:408-410: a notification gets no answer (and its channel is never forwarded)
        if isinstance(result, Channel):
            self._forward(req_id, result, cancelled)  # keeps the call's context until the channel ends
            return
        self._done(req_id)
        try:
            if isinstance(result, JsonStream):
                self.conn.send_parts(stream_chunks(req_id, result))
            elif isinstance(result, FileSlices):
                self._send_file(result.enveloped(req_id))
            else:
                self._send({"jsonrpc": "2.0", "id": req_id, "result": result})
        except OSError:
            pass

    def _send_file(self, out: FileSlices) -> None:
        with out.path.open("rb") as fh:
            self.conn.send_parts(p if isinstance(p, bytes) else (fh, p[0], p[1]) for p in out.parts)

    def _forward(self, req_id: Any, channel: Channel, cancelled: threading.Event) -> None:
        """websocket.go:178-287: answer with the channel id, then one `xrpc.ch.val` per value, then close."""
        chan_id = next(self._chan_ids)
        self._send({"jsonrpc": "2.0", "id": req_id, "result": chan_id})
        values: Iterator[Any] = channel.produce(cancelled)
        try:
            for value in values:
                if cancelled.is_set() or self._closed.is_set():
                    break
                self._send({"jsonrpc": "2.0", "method": CH_VALUE, "params": [chan_id, value]})
        finally:
            close = getattr(values, "close", None)
            if close is not None:
                close()
            self._done(req_id)
            if not self._closed.is_set():
                self._send({"jsonrpc": "2.0", "method": CH_CLOSE, "params": [chan_id]})

