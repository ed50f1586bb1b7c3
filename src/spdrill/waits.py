"""Named wait policies (tenacity): poll a readiness probe until true or a plan-derived deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

from spdrill.errors import CannotRunError, DrillError, LotusError

T = TypeVar("T")

# A component that becomes ready is noticed within this many seconds (the issue asks for ≤ 1 s).
POLL_INTERVAL = 0.25


class WaitTimeout(DrillError):
    """A readiness wait ran past its deadline."""

    def __init__(self, what: str, deadline: float, last: str) -> None:
        self.what = what
        self.deadline = deadline
        self.last = last
        super().__init__(f"{what}: not ready after {deadline:.0f}s (last seen: {last})")


class ProbeGaveUp(DrillError):
    """A probe saw something that will not get better by waiting (a process exited)."""


class WaitStalled(ProbeGaveUp):
    """A wait's observed progress did not move for the plan's `[standby.timeouts] stall`."""


class Stall:
    """Ends a wait whose progress (any comparable mark: a height, a count of bytes) has not moved for `limit`
    seconds: `observe` raises WaitStalled with the sentence it is given, instead of waiting out the deadline."""

    def __init__(self, limit: float, *, now: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._now = now
        self._mark: object = None
        self._since: float | None = None

    def observe(self, mark: object, stuck: Callable[[float], str]) -> None:
        """Note the current progress mark; past the limit without a change, raise WaitStalled(stuck(seconds))."""
        t = self._now()
        if self._since is None or mark != self._mark:
            self._mark, self._since = mark, t
            return
        if t - self._since >= self.limit:
            raise WaitStalled(stuck(t - self._since))


def wait_for(probe: Callable[[], tuple[bool, str]], *, what: str, deadline: float,
             interval: float = POLL_INTERVAL, sleep: Callable[[float], None] = time.sleep,
             transient: tuple[type[BaseException], ...] = (CannotRunError, LotusError)) -> str:
    """Call `probe` every `interval` s until it returns (True, detail); return that detail.

    `probe` returns (ready, what it saw). Transient errors are retried: by default any Lotus error (an API
    not up yet is unreachable; one still loading may answer with an error) and CannotRunError. A ProbeGaveUp
    stops at once. Past `deadline` seconds a WaitTimeout names the last thing seen.
    """
    last = ["nothing yet"]

    def attempt() -> tuple[bool, str]:
        try:
            ready, seen = probe()
        except transient as exc:
            last[0] = str(exc)
            raise
        last[0] = seen
        return ready, seen

    retrying: Retrying = Retrying(
        stop=stop_after_delay(deadline),
        wait=wait_fixed(interval),
        retry=retry_if_exception_type(transient) | retry_if_result(lambda r: not r[0]),
        sleep=sleep,
        reraise=False,
    )
    try:
        ready, seen = retrying(attempt)
    except RetryError:
        raise WaitTimeout(what, deadline, last[0]) from None
    return seen
