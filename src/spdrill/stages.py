"""Stage results the bring-up publishes and the drills wait on; a drill never re-runs work, it reads results."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StageResult:
    """How one bring-up stage ended: ok or not, what was seen, when (drill seconds), and typed data."""

    name: str
    ok: bool
    detail: str
    end: float
    data: Mapping[str, Any] = field(default_factory=dict)
    blocked: bool = False


class StageBoard:
    """Thread-safe board of stage results; `wait` blocks until a stage is published."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._results: dict[str, StageResult] = {}
        self._closed: str | None = None

    def publish(self, result: StageResult) -> None:
        with self._cond:
            self._results.setdefault(result.name, result)
            self._cond.notify_all()

    def close(self, reason: str) -> None:
        """No more results will come (the bring-up ended or was aborted): waiters get a failed result."""
        with self._cond:
            self._closed = reason
            self._cond.notify_all()

    def get(self, name: str) -> StageResult | None:
        with self._cond:
            return self._results.get(name)

    def wait(self, name: str, timeout: float | None = None) -> StageResult:
        with self._cond:
            self._cond.wait_for(lambda: name in self._results or self._closed is not None, timeout=timeout)
            if name in self._results:
                return self._results[name]
            reason = self._closed or f"no result within {timeout}s"
            return StageResult(name, False, f"{name} did not run: {reason}", 0.0, blocked=True)

    def all(self) -> dict[str, StageResult]:
        with self._cond:
            return dict(self._results)
