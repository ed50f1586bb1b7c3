"""Local port forwards to the standby's APIs on the ssh target: `ssh -N -L` for the ssh backend, a paramiko
direct-tcpip channel per connection for the paramiko backend."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from spdrill.targets.local import MARK_ENV
from spdrill.targets.ssh.conn import SshOptions, explain


def _free_local_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SshForward:
    """A local port forward to a port on the standby host, through an `ssh -N -L` child process."""

    def __init__(self, opts: SshOptions, remote_port: int, *, drill_id: str = "", local_port: int = 0,
                 ready: Callable[[], bool] | None = None) -> None:
        # local_port given: a reverse forward (-R), the standby host's 127.0.0.1:remote_port to ours.
        reverse = local_port != 0
        self.local_port = local_port or _free_local_port()
        spec = (f"-R127.0.0.1:{remote_port}:127.0.0.1:{self.local_port}" if reverse
                else f"-L127.0.0.1:{self.local_port}:127.0.0.1:{remote_port}")
        argv = ["ssh", "-N", "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes",
                "-o", f"StrictHostKeyChecking={'yes' if opts.host_key_checking else 'no'}",
                "-o", f"ConnectTimeout={int(opts.connect_timeout)}", "-o", "ControlMaster=no",
                "-o", "ControlPath=none", spec]
        if opts.known_hosts:
            argv += ["-o", f"UserKnownHostsFile={opts.known_hosts}"]
        if opts.ssh_config:
            argv += ["-F", opts.ssh_config]
        if opts.identity_file:
            argv += ["-i", opts.identity_file]
        if opts.port:
            argv += ["-p", str(opts.port)]
        argv.append(f"{opts.user}@{opts.host}" if opts.user else opts.host)
        # The drill mark lets `spdrill cleanup` end the forward when the harness is killed and cannot.
        env = {**os.environ, MARK_ENV: drill_id} if drill_id else None
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        up = ready or self._listening
        deadline = time.monotonic() + opts.connect_timeout
        while time.monotonic() < deadline and self.proc.poll() is None and not up():
            time.sleep(0.05)
        if self.proc.poll() is not None:
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            raise explain(err, opts.where())

    def _listening(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.local_port)) == 0

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


class ParamikoForward:
    """A local listener whose every connection becomes a direct-tcpip channel over the paramiko transport."""

    def __init__(self, transport: Any, remote_port: int) -> None:
        self.transport = transport
        self.remote_port = remote_port
        self._server = socket.create_server(("127.0.0.1", 0))
        self.local_port = int(self._server.getsockname()[1])
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name=f"forward-{remote_port}", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, peer = self._server.accept()
            except OSError:
                return
            try:
                chan = self.transport.open_channel("direct-tcpip", ("127.0.0.1", self.remote_port), peer)
            except Exception:  # the remote port is not listening yet: the client sees a closed connection
                conn.close()
                continue
            threading.Thread(target=_pump, args=(conn, chan, self._closed), daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._server.close()


class ParamikoReverse:
    """The standby host's 127.0.0.1:remote_port forwarded to a listener here (a `tcpip-forward` request)."""

    def __init__(self, transport: Any, remote_port: int, local_port: int) -> None:
        self.transport = transport
        self.remote_port = remote_port
        self.local_port = local_port
        self._closed = threading.Event()
        transport.request_port_forward("127.0.0.1", remote_port, handler=self._handle)

    def _handle(self, chan: Any, origin: Any, server: Any) -> None:
        try:
            conn = socket.create_connection(("127.0.0.1", self.local_port), timeout=10)
        except OSError:
            chan.close()
            return
        threading.Thread(target=_pump, args=(conn, chan, self._closed), daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(Exception):  # the connection is already gone: nothing listens there any more
            self.transport.cancel_port_forward("127.0.0.1", self.remote_port)


def _pump(conn: socket.socket, chan: Any, closed: threading.Event) -> None:
    """Copy bytes both ways until either side closes (or the forward is closed)."""
    try:
        while not closed.is_set():
            ready, _, _ = select.select([conn, chan], [], [], 0.5)
            if conn in ready:
                data = conn.recv(65536)
                if not data:
                    break
                chan.sendall(data)
            if chan in ready:
                data = chan.recv(65536)
                if not data:
                    break
                conn.sendall(data)
    except OSError:
        pass
    finally:
        chan.close()
        conn.close()
