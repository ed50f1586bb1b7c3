"""What the chain firewall saw during a drill: refused calls, WalletHas answers, forwarded calls."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class RefusedCall:
    """A refused method: how often the standby asked for it, and when first and last."""

    method: str
    count: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class WalletHasAnswer:
    """A worker key the firewall vouched for with WalletHas = true, and how often."""

    address: str
    count: int


def _short(address: str) -> str:
    """A BLS address is 86 characters; a summary line needs its ends only."""
    return address if len(address) <= 16 else f"{address[:6]}…{address[-4:]}"


def _times(n: int) -> str:
    return "1 time" if n == 1 else f"{n} times"


@dataclass(frozen=True)
class FirewallReport:
    """Everything the firewall recorded, as evidence that the standby acted on nothing."""

    refused: tuple[RefusedCall, ...]
    wallet_has: tuple[WalletHasAnswer, ...]
    forwarded: int
    per_method: tuple[tuple[str, int], ...]

    @property
    def refused_total(self) -> int:
        """How many calls were refused, all methods together."""
        return sum(r.count for r in self.refused)

    def summary(self) -> str:
        """One line for people: what the standby tried, and what the firewall did about it."""
        n = self.refused_total
        if n:
            detail = ", ".join(f"{r.method} x{r.count}" for r in self.refused)
            made = "1 call that signs or sends" if n == 1 else f"{n} calls that sign or send"
            parts = [f"the standby made {made} ({detail}); all refused by the chain firewall"]
        else:
            parts = ["the standby asked to sign or send nothing"]
        for answer in self.wallet_has:
            parts.append(f"answered WalletHas(worker key {_short(answer.address)}) true {_times(answer.count)}")
        parts.append(f"forwarded {self.forwarded} {'call' if self.forwarded == 1 else 'calls'}")
        return "; ".join(parts)


class Recorder:
    """Thread-safe tallies, written from the proxy's loop and read from the drill's thread."""

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._refused: dict[str, tuple[int, datetime, datetime]] = {}
        self._answers: dict[str, int] = {}
        self._methods: dict[str, int] = {}
        self._forwarded = 0

    def _count(self, method: str) -> None:
        self._methods[method] = self._methods.get(method, 0) + 1

    def refused(self, method: str) -> None:
        """Record one refused call."""
        now = self._now()
        with self._lock:
            count, first, _ = self._refused.get(method, (0, now, now))
            self._refused[method] = (count + 1, first, now)
            self._count(method)

    def answered(self, address: str) -> None:
        """Record one WalletHas answered true for a worker key."""
        with self._lock:
            self._answers[address] = self._answers.get(address, 0) + 1
            self._count("WalletHas")

    def forwarded(self, method: str) -> None:
        """Record one call passed on to the daemon ("" when the message named no method)."""
        with self._lock:
            self._forwarded += 1
            self._count(method or "<no method>")

    def report(self) -> FirewallReport:
        """A frozen snapshot of the tallies so far."""
        with self._lock:
            refused = tuple(
                RefusedCall(m, c, f, last) for m, (c, f, last) in sorted(self._refused.items(), key=lambda kv: kv[1][1])
            )
            answers = tuple(WalletHasAnswer(a, c) for a, c in sorted(self._answers.items()))
            return FirewallReport(refused, answers, self._forwarded, tuple(sorted(self._methods.items())))
