"""The daemon's message pool: MpoolPushMessage signs with the daemon wallet, and every attempt is recorded."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lotus_sim.chain import cid_for, rfc3339
from lotus_sim.rpc import RpcError

__all__ = ["Mpool", "record_to"]

Record = Callable[[dict[str, Any]], None]


def record_to(path: Path) -> Record:
    """A recorder appending one JSON line per entry to `path` (created on first use)."""
    lock = threading.Lock()

    def record(entry: dict[str, Any]) -> None:
        with lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as handle:
                handle.write(json.dumps(entry) + "\n")

    return record


class Mpool:
    """Signs and "includes" messages whose sender key is in the wallet; records each attempt."""

    def __init__(
        self,
        wallet: Callable[[], list[str]],
        key_of: Callable[[str], str],
        record: Record,
        apply: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._apply = apply
        self._wallet = wallet
        self._key_of = key_of
        self._record = record
        self._nonces: dict[str, int] = {}
        self._lock = threading.Lock()

    def push(self, msg: dict[str, Any], spec: Any) -> dict[str, Any]:
        """Filecoin.MpoolPushMessage."""
        if not isinstance(msg, dict) or not all(isinstance(msg.get(k), str) for k in ("From", "To")):
            raise RpcError("message must be an object with From and To addresses")
        sender, key = msg["From"], self._key_of(msg["From"])
        entry = {"time": rfc3339(time.time()), "from": sender, "key": key, "to": msg["To"],
                 "method": int(msg.get("Method") or 0), "params": msg.get("Params"), "accepted": False,
                 "error": None}
        if key not in self._wallet():
            reason = f"signing using key '{key}': key info not found"
            entry["error"] = f"mpool push: failed to sign message: {reason}"
            self._record(entry)
            raise RpcError(str(entry["error"]))
        with self._lock:
            nonce = self._nonces.get(key, 0)
            self._nonces[key] = nonce + 1
        entry["accepted"] = True
        self._record(entry)
        if self._apply is not None:
            self._apply(msg)  # "included on chain" at once: the stand-in has no blocks to wait for
        cid = {"/": cid_for(f"msg:{key}:{nonce}")}
        message = {
            "Version": 0, "To": msg["To"], "From": sender, "Nonce": nonce,
            "Value": str(msg.get("Value") or "0"),
            "GasLimit": int(msg.get("GasLimit") or 10_000_000), "GasFeeCap": "100000", "GasPremium": "0",
            "Method": entry["method"], "Params": msg.get("Params") or "", "CID": cid,
        }
        signature = base64.b64encode(cid_for(f"sig:{key}:{nonce}").encode()[:96]).decode()
        return {"Message": message, "Signature": {"Type": 2, "Data": signature}, "CID": cid}

    def denied(self, method: str, params: list[Any], text: str) -> None:
        """Record a push refused for want of the sign permission (other methods are ignored)."""
        if method != "MpoolPushMessage":
            return
        msg = params[0] if params and isinstance(params[0], dict) else {}
        self._record({"time": rfc3339(time.time()), "from": msg.get("From"), "key": None, "to": msg.get("To"),
                      "method": msg.get("Method"), "params": msg.get("Params"), "accepted": False,
                      "error": text})
