"""A drill never proves, announces or authenticates as the live miner (LOTUS-AUDIT.md blocker 2, DESIGN 2b).

Lotus: a PoSt worker reads vanilla proofs from `http://<[API] RemoteListenAddress>/remote`
(node/builder.go:290-295, storage/paths/remote.go:822-880, attached at storage/paths/local.go:244); the
restored config names the production miner (here the stand-in fixture's 127.0.0.1:2345). Before spdrill set
LOTUS_API_REMOTELISTENADDRESS for the standby miner (and before it replaced the restored JWT secret, which
the live miner shares: node/modules/core.go:143-175), a dry-run on a host where the live miner answers there
proved the LIVE storage and passed although the restore had lost a sealed file.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Callable

import pytest

from .conftest import SimDrill

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

PRODUCTION_REMOTE = ("127.0.0.1", 2345)  # the fixture's restored [API] RemoteListenAddress (Lotus's default)


def _free(host: str, port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) != 0


class _Tripwire(http.server.BaseHTTPRequestHandler):
    """Stands where the live miner listens: records every request a standby role sends it."""

    seen: list[str] = []

    def _any(self) -> None:
        _Tripwire.seen.append(f"{self.command} {self.path}")
        self.send_response(503)
        self.end_headers()

    do_GET = do_POST = do_PUT = _any

    def log_message(self, *args: object) -> None:
        pass


def test_dry_run_proves_the_standby_not_the_live_miner(sim_drill: Callable[..., SimDrill]) -> None:
    if not _free(*PRODUCTION_REMOTE):
        pytest.skip("127.0.0.1:2345 is taken on this host; this test listens there as the live miner")
    sim = sim_drill(sectors=8, deadlines=1)
    _Tripwire.seen = []
    live = http.server.ThreadingHTTPServer(PRODUCTION_REMOTE, _Tripwire)
    threading.Thread(target=live.serve_forever, daemon=True).start()
    try:
        run = sim.run()
    finally:
        live.shutdown()
        live.server_close()
    # Before the fix the worker asked http://127.0.0.1:2345/remote/vanilla/single for every sector.
    assert _Tripwire.seen == [], _Tripwire.seen
    assert run.rc == 0, run.stdout + run.stderr
    assert run.check("test_windowpost_dry_run")["passed"] is True
    isolation = str(run.record["facts"]["isolation"])
    assert "fresh API secret" in isolation and "libp2p" in isolation
