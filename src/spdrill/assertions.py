"""Assertion helpers for drills: failures point at the drill line and say what was found and what to do."""

from __future__ import annotations

import pytest

from spdrill.drill import Drill
from spdrill.journal import Phase


def stage_ok(drill: Drill, name: str, *, advice: str) -> Phase:
    """Wait for a bring-up stage and fail with its finding plus `advice` unless it succeeded."""
    __tracebackhide__ = True
    result = drill.stage(name)
    if result.not_applicable:
        pytest.skip(f"{name}: {result.detail}")
    if not result.ok:
        raise AssertionError(f"{name}: {result.detail}. {advice}")
    return result
