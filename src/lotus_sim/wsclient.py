"""A go-jsonrpc WebSocket client: one connection, concurrent calls matched by id, channel subscriptions.

As go-jsonrpc's client (client.go:270-290, websocket.go): the dial sends the Authorization header with the
upgrade request; a channel method's result is a channel id whose values come as `xrpc.ch.val`, its end as
`xrpc.ch.close`, and dropping a subscription sends `xrpc.cancel` with the call's id (websocket.go:321-339).
"""

from __future__ import annotations

import itertools
import json
import queue
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

from lotus_sim.wsframe import WsClosed, WsConn, accept_key, new_key

__all__ = ["Subscription", "WsError", "WsTransport"]

_END = object()


class WsError(Exception):
    """A failed WebSocket call: `status` is the HTTP status of a refused upgrade, `code` a JSON-RPC code."""

    def __init__(self, message: str, *, status: int = 0, code: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class Subscription:
    """The client end of a channel: values in order, then the end (closed by the server or the connection)."""

    def __init__(self, transport: WsTransport, req_id: int, chan_id: int) -> None:
        self._transport = transport
        self.req_id = req_id
        self.chan_id = chan_id
        self._values: queue.Queue[Any] = queue.Queue()
        self.ended = threading.Event()
        self.reason = ""  # why it ended: "closed" (xrpc.ch.close) or the connection error

    def get(self, timeout: float | None = None) -> Any:
        """The next value; raise WsError when the channel has ended, TimeoutError when none came in time."""
        try:
            value = self._values.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no value on channel {self.chan_id} within {timeout} s") from None
        if value is _END:
            self._values.put(_END)  # every later get() sees the end too
            raise WsError(f"channel {self.chan_id} ended: {self.reason}")
        return value

    def cancel(self) -> None:
        """Tell the server to stop (xrpc.cancel with the call's id); it answers with xrpc.ch.close."""
        self._transport.notify("xrpc.cancel", [self.req_id])

    def _push(self, value: Any) -> None:
        self._values.put(value)

    def _end(self, reason: str) -> None:
        if not self.ended.is_set():
            self.reason = reason
            self.ended.set()
            self._values.put(_END)


class _Pending:
    def __init__(self, channel: bool) -> None:
        self.channel = channel
        self.done = threading.Event()
        self.frame: dict[str, Any] = {}
        self.subscription: Subscription | None = None


class WsTransport:
    """One dialled `ws://host:port/rpc/vN` connection, read by a background thread."""

    def __init__(self, url: str, token: str = "", timeout: float = 30.0) -> None:
        self.url = url
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._subs: dict[int, Subscription] = {}
        self._lock = threading.Lock()
        self.error = ""  # set once the connection is gone
        self.conn = self._dial(token)
        threading.Thread(target=self._read, name="ws-client", daemon=True).start()

    @property
    def alive(self) -> bool:
        """False once the connection has dropped or been closed."""
        return not self.error

    def _dial(self, token: str) -> WsConn:
        parts = urlsplit(self.url)
        if parts.scheme != "ws" or not parts.hostname:
            raise WsError(f"{self.url}: only ws:// URLs are supported by lotus-sim")
        port = parts.port or 80
        try:
            sock = socket.create_connection((parts.hostname, port), timeout=self.timeout)
        except OSError as exc:
            # Go's net error text, as go-jsonrpc hands it back from the dial.
            raise WsError(f"dial tcp {parts.hostname}:{port}: connect: {(exc.strerror or str(exc)).lower()}") \
                from exc
        key = new_key()
        lines = [f"GET {parts.path or '/'} HTTP/1.1", f"Host: {parts.hostname}:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if token:
            lines.append(f"Authorization: Bearer {token}")
        rfile = sock.makefile("rb")
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            status_line = rfile.readline().decode("latin-1").strip()
            headers: dict[str, str] = {}
            while (line := rfile.readline().decode("latin-1").strip()):
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        except OSError as exc:
            sock.close()
            raise WsError(f"{self.url}: {exc}") from exc
        status = int(status_line.split()[1]) if len(status_line.split()) > 1 else 0
        if status != 101 or headers.get("sec-websocket-accept") != accept_key(key):
            sock.close()
            # gorilla's Dial: ErrBadHandshake, "websocket: bad handshake" (with the response's status).
            raise WsError(f"{self.url}: websocket: bad handshake (HTTP {status})", status=status)
        sock.settimeout(None)
        return WsConn(rfile, sock, client=True)

    def _read(self) -> None:
        reason = "websocket connection closed"
        try:
            while True:
                try:
                    frame = json.loads(self.conn.recv_message())
                except ValueError:
                    continue
                if isinstance(frame, dict):
                    self._frame(frame)
        except WsClosed as exc:
            reason = f"websocket connection closed ({exc})"
        except OSError as exc:
            reason = f"websocket connection closed ({exc})"
        self._shut(reason)

    def _frame(self, frame: dict[str, Any]) -> None:
        method = frame.get("method")
        params = frame.get("params") or [None]
        if method in ("xrpc.ch.val", "xrpc.ch.close"):
            with self._lock:
                sub = self._subs.get(params[0]) if method == "xrpc.ch.val" else self._subs.pop(params[0], None)
            if sub is not None and method == "xrpc.ch.val":
                sub._push(params[1] if len(params) > 1 else None)
            elif sub is not None:
                sub._end("closed")
            return
        if method is not None:
            return  # a call from the server: lotus-sim's clients register no reverse handlers
        with self._lock:
            pending = self._pending.pop(frame.get("id"), None)  # type: ignore[arg-type]
            if pending is not None and pending.channel and frame.get("error") is None:
                # Registered before the next frame is read, so no xrpc.ch.val can arrive unclaimed.
                chan_id = int(frame["result"])
                pending.subscription = Subscription(self, int(frame["id"]), chan_id)
                self._subs[chan_id] = pending.subscription
        if pending is not None:
            pending.frame = frame
            pending.done.set()

    def _shut(self, reason: str) -> None:
        with self._lock:
            if not self.error:
                self.error = reason
            pending, subs = list(self._pending.values()), list(self._subs.values())
            self._pending.clear()
            self._subs.clear()
        for p in pending:
            # websocket.go:543-551: what go-jsonrpc answers every call in flight when the connection drops.
            p.frame = {"error": {"code": -1111111, "message": "handler: websocket connection closed"}}
            p.done.set()
        for sub in subs:
            sub._end(reason)

    def _request(self, method: str, params: list[Any], channel: bool) -> _Pending:
        req_id = next(self._ids)
        pending = _Pending(channel)
        with self._lock:
            if self.error:
                raise WsError(f"{self.url}: {self.error}")
            self._pending[req_id] = pending
        body = {"jsonrpc": "2.0", "id": req_id, "method": method, "params": params}
        try:
            self.conn.send_text(json.dumps(body).encode())
        except OSError as exc:
            self._shut(f"websocket connection closed ({exc})")
        if not pending.done.wait(self.timeout):
            with self._lock:
                self._pending.pop(req_id, None)
            raise WsError(f"{self.url}: {method}: no answer within {self.timeout} s")
        error = pending.frame.get("error")
        if error:
            raise WsError(str(error.get("message")), code=int(error.get("code", 0)))
        return pending

    def call(self, method: str, params: list[Any]) -> Any:
        """Call a method and return its result."""
        return self._request(method, params, False).frame.get("result")

    def subscribe(self, method: str, params: list[Any]) -> Subscription:
        """Call a channel method; values arrive on the returned Subscription."""
        sub = self._request(method, params, True).subscription
        if sub is None:
            raise WsError(f"{method}: the server answered without a channel id")
        return sub

    def notify(self, method: str, params: list[Any]) -> None:
        """Send a frame without an id (no answer comes)."""
        body = {"jsonrpc": "2.0", "method": method, "params": params}
        try:
            self.conn.send_text(json.dumps(body).encode())
        except OSError as exc:
            self._shut(f"websocket connection closed ({exc})")

    def close(self) -> None:
        """Close the connection (a normal close frame); pending calls and subscriptions end."""
        self.conn.close()
        self._shut("closed by this client")

