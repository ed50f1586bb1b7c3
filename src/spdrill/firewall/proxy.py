"""ChainFirewall: the filtering JSON-RPC proxy between a standby lotus-miner and its daemon.

Real lotus-miner refuses to start unless `WalletHas(worker key)` is true on its full node
(node/modules/storageminer.go:187-215, PreflightChecks), while safety rule 2 keeps every key out of
the standby's wallet. The firewall answers that one question itself and refuses every call that
signs or sends (see methods.py), recording each as evidence; everything else reaches the daemon
unchanged over the same transport the miner used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Self

from aiohttp import web

from spdrill.errors import CannotRunError
from spdrill.firewall.relay import Relay
from spdrill.firewall.report import FirewallReport, Recorder
from spdrill.redact import redact, register

log = logging.getLogger("spdrill.firewall")

_START_TIMEOUT = 30.0


def _upstream_base(url: str) -> str:
    """`http://host:port` from what the integrator passes, with or without a trailing /rpc/vN."""
    base = url.rstrip("/")
    head, _, tail = base.rpartition("/rpc/")
    return head if head and tail.startswith("v") else base


def multiaddr(host: str, port: int) -> str:
    """The multiaddr Lotus API info carries: /ip4/, /ip6/ for addresses, /dns/ for a name."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return f"/dns/{host}/tcp/{port}/http"
    return f"/ip{ip.version}/{host}/tcp/{port}/http"


class ChainFirewall:
    """A filtering JSON-RPC proxy served from its own asyncio loop in a daemon thread."""

    def __init__(
        self,
        upstream_url: str,
        upstream_token: str,
        worker_keys: Iterable[str],
        listen_host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._token = secrets.token_urlsafe(32)
        register(self._token)
        register(upstream_token)
        self._host = listen_host
        self._wanted_port = port
        self._port = 0
        self._recorder = Recorder()
        self._relay = Relay(
            _upstream_base(upstream_url), upstream_token, self._token, frozenset(worker_keys), self._recorder
        )
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._failure: BaseException | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one the OS picked when constructed with port=0)."""
        return self._port

    @property
    def token(self) -> str:
        """Its own bearer token, which clients must present; never the upstream one."""
        return self._token

    def api_info(self, host: str) -> str:
        """`TOKEN:/ip4/<host>/tcp/<port>/http`, the FULLNODE_API_INFO a standby lotus-miner is given."""
        return f"{self._token}:{multiaddr(host, self._port)}"

    def report(self) -> FirewallReport:
        """What the firewall has refused, answered and forwarded so far."""
        return self._recorder.report()

    def start(self) -> None:
        """Listen and serve in a daemon thread; returns once listening, CannotRunError if it cannot bind."""
        with self._lock:
            if self._thread is not None:
                return
            ready = threading.Event()
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._serve, args=(ready,), name="spdrill-chain-firewall", daemon=True
            )
            self._thread.start()
        if not ready.wait(_START_TIMEOUT):
            self.stop()
            raise CannotRunError(
                f"the chain firewall did not start listening on {self._host} within {_START_TIMEOUT:.0f} s"
            )
        if self._failure is not None:
            failure = self._failure
            self.stop()
            raise CannotRunError(
                f"the chain firewall cannot listen on {self._host}:{self._wanted_port}: {redact(str(failure))}; "
                "pick another listen address or port"
            ) from failure
        log.info("chain firewall listening on %s:%d", self._host, self._port)

    def stop(self) -> None:
        """Close client and upstream WebSockets, the listener and the upstream session; safe to call twice."""
        with self._lock:
            thread, loop = self._thread, self._loop
            self._thread = None
        if thread is None or loop is None:
            return
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _serve(self, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self._open())
            except (OSError, RuntimeError) as exc:
                self._failure = exc
                loop.run_until_complete(self._close())
                return
            finally:
                ready.set()
            loop.run_forever()
            loop.run_until_complete(self._close())
        finally:
            loop.close()

    async def _open(self) -> None:
        await self._relay.open()
        # No access log: a client may carry its token in the query string (go-jsonrpc auth/handler.go:23).
        self._runner = web.AppRunner(self._relay.app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._wanted_port)
        await site.start()
        address = self._runner.addresses[0]
        self._port = int(address[1])

    async def _close(self) -> None:
        await self._relay.close()
        if self._runner is not None:
            await self._runner.cleanup()
