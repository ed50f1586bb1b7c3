"""Suite-wide guards (see tests/mpool_guard.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mpool_guard import unexpected_pushes

_ALLOWED: set[Path] = set()


@pytest.fixture(autouse=True)
def _allow_expected_pushes(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("expects_mpool_push") is not None:
        _ALLOWED.add(Path(request.getfixturevalue("tmp_path")))


@pytest.fixture(scope="session", autouse=True)
def _no_drill_pushes_a_message(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    found = unexpected_pushes(tmp_path_factory.getbasetemp(), _ALLOWED)
    if found:
        lines = "\n".join(f"  {path}: {', '.join(methods)}" for path, methods in found.items())
        pytest.fail(f"a drill asked the stand-in to push messages on chain (DESIGN rule 3):\n{lines}", pytrace=False)
