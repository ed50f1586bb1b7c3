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
