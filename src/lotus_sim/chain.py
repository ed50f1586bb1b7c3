"""The daemon's moving chain: synthesized tipsets and a sync model (behind after import, then catching up)."""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lotus_sim.clock import Clock

__all__ = ["STAGE_COMPLETE", "STAGE_HEADERS", "STAGE_MESSAGES", "ChainSync", "cid_for", "rfc3339"]

# api/api_full.go SyncStateStage values (serialized as integers).
STAGE_IDLE, STAGE_HEADERS, STAGE_PERSIST, STAGE_MESSAGES, STAGE_COMPLETE = 0, 1, 2, 3, 4
ZERO_TIME = "0001-01-01T00:00:00Z"



def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").lower().rstrip("=")


def cid_for(label: str) -> str:
    """A CIDv1 (dag-cbor, blake2b-256) string for a synthesized object, stable for the same label."""
    digest = hashlib.blake2b(label.encode(), digest_size=32).digest()
    return "b" + _b32(b"\x01\x71\xa0\xe4\x02\x20" + digest)


def _b64(label: str, size: int) -> str:
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.blake2b(f"{label}:{counter}".encode(), digest_size=64).digest()
        counter += 1
    return base64.b64encode(out[:size]).decode("ascii")


def rfc3339(unix: float) -> str:
    """Go's time.Time JSON form (UTC, second precision)."""
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ChainSync:
    """Where the daemon's head is at a given moment, from its imported head, the clock and its peers."""

    clock: Clock
    base_height: int
    base_timestamp: int
    base_cids: tuple[str, ...]
    rate: float
    bootstrap: bool = True
    never_sync: bool = False
    started: float = field(default_factory=time.time)
    miner_label: str = "f01000"

    def target_height(self, now: float | None = None) -> int:
        """The height the network is at now (never below the imported head)."""
        return max(self.base_height, self.clock.epoch_at(time.time() if now is None else now))

    def head_height(self, now: float | None = None) -> int:
        """The daemon's head height now."""
        now = time.time() if now is None else now
        if not self.bootstrap or self.never_sync:
            return self.base_height
        caught_up = self.base_height + int(self.rate * max(0.0, now - self.started))
        return min(self.target_height(now), caught_up)

    def initial_lag(self) -> int:
        """Epochs behind at start."""
        return self.target_height(self.started) - self.base_height

    def timestamp_of(self, height: int) -> int:
        """Block timestamp at `height` (the imported head keeps the snapshot's own timestamp)."""
        return self.base_timestamp if height == self.base_height else self.clock.timestamp_of(height)

    def tipset(self, height: int) -> dict[str, Any]:
        """The TipSet JSON at `height`, one block, shaped as Lotus's ExpTipSet."""
        cids = list(self.base_cids) if height == self.base_height and self.base_cids else [cid_for(f"block:{height}")]
        block = {
            "Miner": self.miner_label,
            "Ticket": {"VRFProof": _b64(f"ticket:{height}", 96)},
            "ElectionProof": {"WinCount": 1, "VRFProof": _b64(f"election:{height}", 96)},
            "BeaconEntries": [{"Round": 1_000_000 + height, "Data": _b64(f"beacon:{height}", 48)}],
            "WinPoStProof": [{"PoStProof": 3, "ProofBytes": _b64(f"winpost:{height}", 192)}],
            "Parents": [{"/": cid_for(f"block:{height - 1}")}],
            "ParentWeight": str(10_000_000 + 1000 * height),
            "Height": height,
            "ParentStateRoot": {"/": cid_for(f"state:{height}")},
            "ParentMessageReceipts": {"/": cid_for(f"receipts:{height}")},
            "Messages": {"/": cid_for(f"messages:{height}")},
            "BLSAggregate": {"Type": 2, "Data": _b64(f"bls:{height}", 96)},
            "Timestamp": self.timestamp_of(height),
            "BlockSig": {"Type": 2, "Data": _b64(f"sig:{height}", 96)},
            "ForkSignaling": 0,
            "ParentBaseFee": "100",
        }
        return {"Cids": [{"/": c} for c in cids], "Blocks": [block], "Height": height}

    def active_syncs(self, now: float | None = None) -> list[dict[str, Any]]:
        """SyncState.ActiveSyncs: none without peers, stuck in headers when never syncing."""
        now = time.time() if now is None else now
        if not self.bootstrap:
            return []  # no peers, no sync workers: `lotus sync wait` never finishes, as in Lotus
        head = self.head_height(now)
        target = self.target_height(now)
        if self.never_sync:
            stage, end = STAGE_HEADERS, ZERO_TIME
        elif head < target:
            stage, end = STAGE_MESSAGES, ZERO_TIME
        else:
            stage, end = STAGE_COMPLETE, rfc3339(now)
        return [
            {
                "WorkerID": 1,
                "Base": self.tipset(self.base_height),
                "Target": self.tipset(target),
                "Stage": stage,
                "Height": head,
                "Start": rfc3339(self.started),
                "End": end,
                "Message": "",
            }
        ]
