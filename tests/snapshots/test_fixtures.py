"""The real-filesystem fixtures' own rule: a missing part skips with a reason, but fails under CI=true."""

from __future__ import annotations

from collections.abc import Callable

import pytest


def test_missing_part_skips_with_its_reason(
    missing_part: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="zfs-fuse is missing"):
        missing_part("zfs-fuse is missing")


def test_missing_part_fails_under_ci(missing_part: Callable[[str], None], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and a real part is missing: no loop devices"):
        missing_part("no loop devices")
