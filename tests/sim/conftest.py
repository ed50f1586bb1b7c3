"""Shared fixtures of the stand-in's tests: the shared Lotus documents and small generated restore points."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lotus_sim.fixture import FixtureSpec, make_fixture

# ../shared relative to the repository root (tests/sim/conftest.py -> parents[2] is the root).
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CALIBNET_CAR = SHARED / "fixtures" / "real-chain" / "calibnet-genesis.car.zst"
NOW = 1_764_000_000.0  # a fixed "now" (2025-11-24T16:00:00Z) so generated fixtures are byte-for-byte stable

FixtureFactory = Callable[..., tuple[Path, dict[str, object]]]


@pytest.fixture
def shared_dir() -> Path:
    """/work/shared (read-only Lotus documents and real inputs); skips when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the shared Lotus documents are needed for this test")
    return SHARED


@pytest.fixture
def calibnet_car() -> Path:
    """The real calibnet genesis CAR (zstd) from ../shared; skips when absent."""
    if not CALIBNET_CAR.is_file():
        pytest.skip(f"{CALIBNET_CAR} is absent: the real chain file is needed for this test")
    return CALIBNET_CAR


@pytest.fixture
def make_fx(tmp_path: Path) -> FixtureFactory:
    """Factory: ``make_fx(name="fx", **FixtureSpec fields)`` -> (root, fixture.json content)."""

    def make(name: str = "fx", **fields: object) -> tuple[Path, dict[str, object]]:
        spec_fields: dict[str, object] = {"sectors": 24, "deadlines": 3, "seed": 7, "now": NOW}
        spec_fields.update(fields)
        root = tmp_path / name
        return root, make_fixture(root, FixtureSpec(**spec_fields))  # type: ignore[arg-type]

    return make


@pytest.fixture
def small_fixture(make_fx: FixtureFactory) -> tuple[Path, dict[str, object]]:
    """A 24-sector 2KiB restore point over 3 deadlines, 2 sectors sealed after the backup."""
    return make_fx(sectors_after_backup=2)
