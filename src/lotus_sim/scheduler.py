"""The standby miner's own WindowPoSt scheduler, started by `lotus-miner run` as Lotus starts it.

Real lotus-miner builds `wdpost.WindowPoStScheduler` unless `[Subsystems] DisableWindowPoSt` is set
(node/builder_miner.go:99) and runs it on start (node/modules/storageminer.go:283-302). On every head
change (wdpost_sched.go Run) it proves the current deadline once the head reaches Challenge+1
(wdpost_changehandler.go:17,238), first declaring recoveries for deadline index+2 (wdpost_run.go:266-268,
wdpost_run_faults.go:198-205), and submits `SubmitWindowedPoSt` through the full node's MpoolPushMessage
once the head reaches Open+4 and before Close (wdpost_changehandler.go:16,454-488, wdpost_run.go:621-648).
A failed submit is logged and retried at the next head change within the window (:490-500).

No configuration stops it and keeps ComputeWindowPoSt: `[Proving] DisableBuiltinWindowPoSt` only stops the
miner proving without workers (sealer/manager.go:129), `DisableWDPoStPreChecks` only skips the sector checks
(wdpost_sched.go:127), and `[Subsystems] DisableWindowPoSt` removes the scheduler that ComputeWindowPoSt
runs on (node/impl/storminer.go:72,451-463). The knob LOTUS_SIM_WDPOST_SCHEDULER=false (not Lotus) is for
unit tests only.
"""

from __future__ import annotations

import base64
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lotus_sim import cbor
from lotus_sim.bitfield import decode_runs
from lotus_sim.chain import cid_for
from lotus_sim.rpcclient import CallError

if TYPE_CHECKING:
    from lotus_sim.miner import MinerNode

__all__ = ["DECLARE_FAULTS_RECOVERED", "SUBMIT_WINDOWED_POST", "WindowPostScheduler"]

SUBMIT_WINDOWED_POST = 5  # builtin.MethodsMiner.SubmitWindowedPoSt
DECLARE_FAULTS_RECOVERED = 11  # builtin.MethodsMiner.DeclareFaultsRecovered
SUBMIT_CONFIDENCE, CHALLENGE_CONFIDENCE = 4, 1  # wdpost_changehandler.go:16-17
DEADLINES = 48


def _log(level: str, message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
    print(f"{stamp}\t{level}\twdpost\t{message}", file=sys.stderr, flush=True)


@dataclass
class _Window:
    """One deadline's post window: its proofs once made, and whether they went on chain."""

    index: int
    open: int
    close: int
    challenge: int
    posts: list[dict[str, Any]] | None = None
    failed: bool = False
    submitted: bool = False
    attempts: list[int] = field(default_factory=list)


class WindowPostScheduler:
    """Proves each deadline on the miner's PoSt workers and pushes SubmitWindowedPoSt, as Lotus's scheduler."""

    def __init__(self, node: MinerNode, poll: float) -> None:
        self.node = node
        self.poll = poll
        self.windows: dict[int, _Window] = {}  # by Open epoch
        self.pushes: list[dict[str, Any]] = []  # every push attempt: method, deadline, error (tests read it)

    def start(self, stop: threading.Event) -> threading.Thread:
        """Run in a daemon thread until `stop` is set."""
        thread = threading.Thread(target=self.run, args=(stop,), name="wdpost", daemon=True)
        thread.start()
        return thread

    def run(self, stop: threading.Event) -> None:
        """Follow the head (Lotus: ChainNotify) and act on each new epoch."""
        last = -1
        while not stop.wait(self.poll):
            try:
                height = int(self.node.full.call("ChainHead")["Height"])
                if height != last:
                    last = height
                    self.on_head(height)
            except CallError as exc:
                _log("ERROR", f"handling head updates in window post sched: {exc}")

    def on_head(self, height: int) -> None:
        """One head change: start proving at Challenge+1, submit at Open+4 (before Close)."""
        di = self.node.full.call("StateMinerProvingDeadline", self.node.address, [])
        window = self.windows.setdefault(int(di["Open"]), _Window(int(di["Index"]), int(di["Open"]),
                                                                   int(di["Close"]), int(di["Challenge"])))
        for old in [k for k in self.windows if self.windows[k].close <= height]:
            del self.windows[old]
        if window.posts is None and not window.failed and height >= window.challenge + CHALLENGE_CONFIDENCE:
            self._prove(window, height)
        if window.posts and not window.submitted and window.open + SUBMIT_CONFIDENCE <= height < window.close:
            self._submit(window, height)

    def _prove(self, window: _Window, height: int) -> None:
        _log("INFO", f'starting PoSt cycle\t{{"manual": false, "ts": {height}, "deadline": {window.index}}}')
        self._declare_recoveries((window.index + 2) % DEADLINES)
        try:
            window.posts = self.node.compute_window_post(window.index, [])
        except Exception as exc:  # noqa: BLE001 - wdpost_run.go:99-103 logs whatever the cycle returns
            _log("ERROR", f"runPoStCycle failed: {exc}")
            _log("WARN", f"Aborted window post Proving (Deadline: {window.index})")
            window.failed = True

    def _push(self, method: int, params: bytes, deadline: int) -> str | None:
        """MpoolPushMessage from the worker address (wdpost_run.go:672-680 falls back to it); the error or None."""
        try:
            worker = self.node.full.call("StateMinerInfo", self.node.address, [])["Worker"]
            msg = {"To": self.node.address, "From": worker, "Value": "0", "Method": method,
                   "Params": base64.b64encode(params).decode()}
            signed = self.node.full.call("MpoolPushMessage", msg, None)
        except CallError as exc:
            self.pushes.append({"method": method, "deadline": deadline, "error": str(exc)})
            return str(exc)
        self.pushes.append({"method": method, "deadline": deadline, "error": None, "cid": signed["CID"]["/"]})
        return None

    def _submit(self, window: _Window, height: int) -> None:
        assert window.posts is not None
        window.attempts.append(height)
        failed = False
        for post in window.posts:
            parts = [[p["Index"], list(decode_runs(p["Skipped"]))] for p in post["Partitions"]]
            proofs = [[p["PoStProof"], base64.b64decode(p["ProofBytes"])] for p in post["Proofs"]]
            params = cbor.encode([post["Deadline"], parts, proofs, window.challenge,
                                  cid_for(f"commrand:{window.challenge}").encode()[:32]])
            error = self._push(SUBMIT_WINDOWED_POST, params, window.index)
            if error is not None:  # wdpost_run.go:171-175, wdpost_changehandler.go:490-500
                _log("ERROR", f"submit window post failed: pushing message to mpool: {error}")
                failed = True
            else:
                _log("INFO", f"Submitted window post: {self.pushes[-1]['cid']} (deadline {window.index})")
        if failed:
            _log("WARN", f"Aborted window post Submitting (Deadline: {window.index})")
        else:
            window.submitted = True

    def _declare_recoveries(self, deadline: int) -> None:
        """Faulty, not yet recovering sectors of `deadline` that are provable again: DeclareFaultsRecovered."""
        try:
            partitions = self.node.full.call("StateMinerPartitions", self.node.address, deadline, [])
        except CallError as exc:
            _log("ERROR", f"getting partitions: {exc}")
            return
        recoveries: list[list[Any]] = []
        for index, part in enumerate(partitions):
            faulty = set(decode_runs(part["FaultySectors"])) - set(decode_runs(part["RecoveringSectors"]))
            if not faulty:
                continue
            refs = [{"ID": {"Miner": self.node.miner_id, "Number": n}, "ProofType": 0} for n in sorted(faulty)]
            bad = self.node.check_provable(int(self.node.info["WindowPoStProofType"]), refs)
            good = sorted(n for n in faulty if str(n) not in bad)
            if good:
                recoveries.append([deadline, index, good])
        if not recoveries:
            return
        _log("INFO", f"attempting recovery declarations for {sum(len(r[2]) for r in recoveries)} sectors")
        error = self._push(DECLARE_FAULTS_RECOVERED, cbor.encode([recoveries]), deadline)
        if error is not None:  # wdpost_run_faults.go:177-180 -> :221-224
            _log("ERROR", f"checking sector recoveries: pushing message to mpool: {error}")
