"""What `lotus-miner run` asks of its full node while it starts and runs: PreflightChecks and ChainNotify.

Modelled on lotus @ b835fab: cli/miner/run.go:75-105 (dial and version checks), node/modules/storageminer.go
:187-215 (PreflightChecks, registered whenever EnableMining: node/builder_miner.go:96) and :251 (the sealing
pipeline's chain events, whose observer holds a ChainNotify subscription for the miner's whole life:
chain/events/observer.go:55-135).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from lotus_sim.repo import CliError, repo_path
from lotus_sim.rpcclient import CallError, RpcClient, api_info_from
from lotus_sim.wsclient import WsError

__all__ = ["HeadWatch", "dial_full_node", "log", "preflight_checks"]

API_VERSION_V0 = 66816  # FullAPIVersion0, 1.5.0
API_VERSION_V1 = 131840  # FullAPIVersion1, 2.3.0


def log(level: str, system: str, message: str) -> None:
    """One line the way Lotus's logger prints it (level, subsystem, message), on stderr."""
    print(f"{level}\t{system}\t{message}", file=sys.stderr, flush=True)


def dial_full_node(check_v0: bool = False) -> RpcClient:
    """The full node over WebSocket (`ws://…/rpc/v1`, cli/util/apiinfo.go:50-75 DialArgs), version checked.

    `check_v0` first asks `/rpc/v0` for its version, as `lotus-miner run` does (cli/miner/init.go:799-818).
    A failed dial is go-jsonrpc's error as is (`dial tcp …`, `websocket: bad handshake`): no HTTP fallback.
    """
    info = api_info_from("FULLNODE_API_INFO", repo_path("LOTUS_PATH", "~/.lotus"))
    if check_v0:
        v0 = RpcClient(info.dial_args("v0"), info.token)
        try:
            version = int(v0.call("Version")["APIVersion"])
        finally:
            v0.close()
        if version >> 8 != API_VERSION_V0 >> 8:
            raise CliError(f"Remote API version didn't match (expected 1.5.0, remote {_semver(version)})")
    full = RpcClient(info.dial_args("v1"), info.token)
    version = int(full.call("Version")["APIVersion"])
    if version >> 8 != API_VERSION_V1 >> 8:
        raise CliError(f"Remote API version didn't match (expected 2.3.0, remote {_semver(version)})")
    return full


def _semver(version: int) -> str:
    return f"{version >> 16}.{(version >> 8) & 0xFF}.{version & 0xFF}"


def preflight_checks(full: RpcClient, maddr: str) -> tuple[dict[str, Any], str]:
    """storageminer.go:187-215: the worker's key must be in the full node's wallet; returns (MinerInfo, key).

    Each failure ends `lotus-miner run` through node.New (`creating node: starting node: …`, run.go:129 and
    node/builder.go:371). WalletHas needs `write` (api/api_full.go), so a read-only token fails here.
    """
    def fail(text: str) -> CliError:
        return CliError(f"creating node: starting node: {text}")

    try:
        info: dict[str, Any] = full.call("StateMinerInfo", maddr, [])
    except CallError as exc:
        raise fail(f"failed to resolve miner info: {exc}") from exc
    try:
        worker_key = str(full.call("StateAccountKey", info["Worker"], []))
    except CallError as exc:
        raise fail(f"failed to resolve worker key: {exc}") from exc
    try:
        has = full.call("WalletHas", worker_key)
    except CallError as exc:
        raise fail(f"failed to check wallet for worker key: {exc}") from exc
    if not has:
        raise fail("key for worker not found in local wallet")
    log("INFO", "modules", f"starting up miner {maddr}, worker addr {worker_key}")
    return info, worker_key


class HeadWatch:
    """The miner's ChainNotify subscription, kept for as long as it runs, as Lotus's events observer keeps it.

    observer.go:55-70: when the channel ends it logs `listenHeadChanges quit` (or the error), waits a second
    and subscribes again (`restarting listenHeadChanges`); go-jsonrpc dials again underneath.
    """

    RETRY_SECONDS = 1.0  # observer.go:65

    def __init__(self, full: RpcClient, stop: threading.Event) -> None:
        self.full = full
        self.stop = stop
        self.ready = threading.Event()  # the first `current` head has arrived (observer.go:44-53)
        self.height = -1  # the newest head seen
        self.subscriptions = 0  # how many times ChainNotify was answered (1 unless it dropped)

    def start(self) -> None:
        """Subscribe in the background; wait, as observer.start does, for the first head (or the stop)."""
        threading.Thread(target=self._listen, name="chain-notify", daemon=True).start()
        while not self.ready.wait(0.2) and not self.stop.is_set():
            pass

    def _listen(self) -> None:
        while not self.stop.is_set():
            try:
                reason = self._listen_once()
                log("WARN", "events", f"listenHeadChanges quit (lotus-sim: {reason})")
            except CallError as exc:
                log("ERROR", "events", "listen head changes errored: listenHeadChanges ChainNotify call failed: "
                    f"{exc}")
            except ValueError as exc:
                log("ERROR", "events", f"listen head changes errored: {exc}")
            if self.stop.wait(self.RETRY_SECONDS):
                return
            log("INFO", "events", "restarting listenHeadChanges")

    def _listen_once(self) -> str:
        sub = self.full.subscribe("ChainNotify")
        self.subscriptions += 1
        first = True
        while not self.stop.is_set():
            try:
                changes = sub.get(timeout=0.5)
            except TimeoutError:
                continue
            except WsError as exc:  # the channel ended: closed by the daemon, or the connection dropped
                return str(exc)
            if first:
                if len(changes) != 1 or changes[0].get("Type") != "current":
                    raise ValueError("expected first head notification type to be 'current'")
                first = False
                self.ready.set()
            for change in changes:
                if change.get("Type") in ("current", "apply"):
                    self.height = max(self.height, int(change["Val"]["Height"]))
        sub.cancel()
        return "stopping"
