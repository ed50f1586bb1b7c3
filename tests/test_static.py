"""The code is what its checkers say: ruff and mypy --strict over everything pyproject.toml lists (src, tests,
benchmarks, the top-level drills/fixtures/conftest). A lint or type error fails the suite, not a later review."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    done = _run("ruff", "check", "--no-cache", "src", "tests", "benchmarks", "drills", "fixtures", "conftest.py")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_is_clean() -> None:
    done = _run("mypy")  # files, strictness and per-module settings from pyproject.toml
    assert done.returncode == 0, done.stdout + done.stderr
