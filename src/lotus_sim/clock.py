"""Chain clocks (epoch <-> unix time, mainnet or a fast devnet) and durations as users type them."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

MAINNET_GENESIS = 1598306400
MAINNET_BLOCK_DELAY = 30


@dataclass(frozen=True)
class Clock:
    """A chain clock: block ``h`` has timestamp ``genesis + block_delay * h``."""

    genesis: int = MAINNET_GENESIS
    block_delay: int = MAINNET_BLOCK_DELAY

    def __post_init__(self) -> None:
        if self.block_delay <= 0:
            raise ValueError(f"block delay must be a positive number of seconds, got {self.block_delay}")

    def timestamp_of(self, epoch: int) -> int:
        """Unix time of the block at ``epoch``."""
        return self.genesis + self.block_delay * epoch

    def epoch_at(self, unix_time: float) -> int:
        """Epoch whose block time is the latest one not after ``unix_time`` (0 before genesis)."""
        return max(0, int(unix_time - self.genesis) // self.block_delay)

    def now_epoch(self) -> int:
        """Epoch of the wall clock now."""
        return self.epoch_at(time.time())


MAINNET = Clock()


def clock_from_env(env: Mapping[str, str] | None = None) -> Clock:
    """Clock named by ``LOTUS_SIM_BLOCK_DELAY`` / ``LOTUS_SIM_GENESIS`` (mainnet's when unset)."""
    source = os.environ if env is None else env
    try:
        delay = int(source.get("LOTUS_SIM_BLOCK_DELAY", MAINNET_BLOCK_DELAY))
        genesis = int(source.get("LOTUS_SIM_GENESIS", MAINNET_GENESIS))
    except ValueError as exc:
        raise ValueError(
            "LOTUS_SIM_BLOCK_DELAY and LOTUS_SIM_GENESIS must be whole numbers of seconds;"
            " unset them for mainnet's clock"
        ) from exc
    return Clock(genesis=genesis, block_delay=delay)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str) -> int:
    """Seconds in ``text``; ValueError shows the accepted forms."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"duration {text!r}: expected seconds or forms like 45s, 30m, 2h, 7d, 1h30m")
    return sum(int(n) * _UNITS[u] for n, u in parts)
