"""RFC 6455 WebSocket framing, as gorilla/websocket speaks it under go-jsonrpc: handshake key, frames, close."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import socket
import struct
import threading
from collections.abc import Iterable
from typing import IO, BinaryIO

__all__ = ["OP_BINARY", "OP_CLOSE", "OP_PING", "OP_PONG", "OP_TEXT", "FileRange", "WsClosed", "WsConn",
           "accept_key", "new_key"]

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CLOSE_NORMAL, CLOSE_GOING_AWAY, CLOSE_PROTOCOL = 1000, 1001, 1002

# A part of a message already encoded in a file: (open file, offset, length), sent with sendfile.
FileRange = tuple[BinaryIO, int, int]


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def new_key() -> str:
    """A client's Sec-WebSocket-Key: 16 random bytes, base64."""
    return base64.b64encode(os.urandom(16)).decode()


class WsClosed(Exception):
    """The connection ended: a close frame (with its code), EOF, or a protocol error."""

    def __init__(self, reason: str, code: int = 1006) -> None:
        super().__init__(reason)
        self.code = code


def _mask(data: bytes, key: bytes) -> bytes:
    # One big-integer XOR is linear and far faster than a Python loop over the bytes.
    if not data:
        return data
    stream = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def _header(opcode: int, fin: bool, length: int, masked: bool) -> bytes:
    first = (0x80 if fin else 0) | opcode
    flag = 0x80 if masked else 0
    if length < 126:
        return struct.pack("!BB", first, flag | length)
    if length < 1 << 16:
        return struct.pack("!BBH", first, flag | 126, length)
    return struct.pack("!BBQ", first, flag | 127, length)


class WsConn:
    """One WebSocket connection: whole messages in and out, pings answered, writes serialized.

    `client` says which side this is: a client masks what it sends and a server insists on masked frames
    (RFC 6455 section 5.1).
    """

    def __init__(self, rfile: IO[bytes] | io.BufferedIOBase, sock: socket.socket, *, client: bool) -> None:
        self._rfile = rfile
        self.sock = sock
        self.client = client
        self._write = threading.Lock()
        self._close_sent = False

    def _read(self, n: int) -> bytes:
        data = self._rfile.read(n)
        if data is None or len(data) < n:
            raise WsClosed("connection closed by peer")
        return bytes(data)

    def _send_frame(self, opcode: int, payload: bytes, fin: bool = True) -> None:
        if self.client:
            key = os.urandom(4)
            self.sock.sendall(_header(opcode, fin, len(payload), True) + key + _mask(payload, key))
        else:
            self.sock.sendall(_header(opcode, fin, len(payload), False) + payload)

    def send_text(self, payload: bytes) -> None:
        """Send one text message in a single frame."""
        with self._write:
            self._send_frame(OP_TEXT, payload)

    def send_parts(self, parts: Iterable[bytes | FileRange]) -> None:
        """Send one text message as a frame per part (continuation frames), so it never sits in memory.

        gorilla's NextWriter does the same for a large message: a text frame, then continuation frames.
        """
        with self._write:
            opcode, pending = OP_TEXT, None
            for part in parts:
                if pending is not None:
                    self._send_part(opcode, pending, fin=False)
                    opcode = OP_CONT
                pending = part
            self._send_part(opcode, pending if pending is not None else b"", fin=True)

    def _send_part(self, opcode: int, part: bytes | FileRange, fin: bool) -> None:
        if isinstance(part, bytes) or self.client:
            data = part if isinstance(part, bytes) else _read_range(part)
            self._send_frame(opcode, data, fin)
            return
        handle, offset, length = part
        self.sock.sendall(_header(opcode, fin, length, False))
        self.sock.sendfile(handle, offset, length)

    def ping(self, payload: bytes = b"") -> None:
        """Send a ping (go-jsonrpc's server pings every 5 s)."""
        with self._write:
            self._send_frame(OP_PING, payload)

    def recv_message(self) -> bytes:
        """The next text or binary message, continuation frames joined; pings are answered on the way.

        Raises WsClosed on a close frame (after answering it), EOF or a protocol error.
        """
        parts: list[bytes] = []
        started = False
        while True:
            b1, b2 = self._read(2)
            fin, opcode, masked, length = bool(b1 & 0x80), b1 & 0x0F, bool(b2 & 0x80), b2 & 0x7F
            if b1 & 0x70:
                self._fail("reserved bits set without a negotiated extension")
            if masked != (not self.client):
                self._fail("client frames must be masked, server frames must not")
            if length == 126:
                (length,) = struct.unpack("!H", self._read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._read(8))
            key = self._read(4) if masked else b""
            payload = self._read(length)
            if masked:
                payload = _mask(payload, key)
            if opcode >= OP_CLOSE:
                if not fin or length > 125:
                    self._fail("control frames must be final and at most 125 bytes")
                self._control(opcode, payload)
                continue
            if opcode == OP_CONT and not started:
                self._fail("continuation frame without a message to continue")
            if opcode in (OP_TEXT, OP_BINARY) and started:
                self._fail("new message inside a fragmented one")
            if opcode not in (OP_CONT, OP_TEXT, OP_BINARY):
                self._fail(f"unknown opcode {opcode}")
            started = True
            parts.append(payload)
            if fin:
                return b"".join(parts)

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_PING:
            with self._write:
                self._send_frame(OP_PONG, payload)
        elif opcode == OP_CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            self.close(code if code not in (1005, 1006) else CLOSE_NORMAL)
            raise WsClosed(f"closed by peer ({code})", code)

    def _fail(self, reason: str) -> None:
        self.close(CLOSE_PROTOCOL, reason)
        raise WsClosed(reason, CLOSE_PROTOCOL)

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Send a close frame once, then shut the socket down (either side may call it, from any thread)."""
        with self._write:
            if self._close_sent:
                return
            self._close_sent = True
            with contextlib.suppress(OSError):  # the peer may be gone already
                self._send_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode()[:123])
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


def _read_range(part: FileRange) -> bytes:
    handle, offset, length = part
    handle.seek(offset)
    return handle.read(length)
