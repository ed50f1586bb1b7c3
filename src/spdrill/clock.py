"""The drill clock: monotonic seconds since drill start, plus the wall time it started at."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the journal and the waits read time from."""

    def elapsed(self) -> float:
        """Seconds since the drill started, from a monotonic source."""
        ...

    def wall(self) -> datetime:
        """The current wall time (UTC), for ages and records people read."""
        ...


class DrillClock:
    """A monotonic clock anchored at construction; wall time derived from the same anchor."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()
        self.started_at = datetime.now(UTC)

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def wall(self) -> datetime:
        return self.started_at + timedelta(seconds=self.elapsed())


class FakeClock:
    """A clock that moves only when told to; `sleep` advances it, so waits run instantly in tests."""

    def __init__(self, started_at: datetime | None = None) -> None:
        self.started_at = started_at or datetime(2026, 11, 26, tzinfo=UTC)
        self._now = 0.0
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        with self._lock:
            return self._now

    def wall(self) -> datetime:
        return self.started_at + timedelta(seconds=self.elapsed())

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    sleep = advance
