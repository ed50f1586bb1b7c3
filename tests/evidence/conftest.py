"""Hand-built journals for the evidence tests: a passing drill, a failing one, and a planted fake token."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from spdrill.journal import Check, Journal, Outcome, Phase, RestorePointRecord

# JWT-shaped but fake: three base64url parts. Planted in logs and details; no output may contain it.
FAKE_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJBbGxvdyI6WyJyZWFkIiwid3JpdGUiLCJhZG1pbiJdfQ"
    ".Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg"
)
STARTED = datetime(2026, 11, 26, 13, 15, 0, tzinfo=UTC)
RECONCILIATION = {
    "deadlines": [
        {"deadline": 0, "partitions": 1, "on_chain": 12, "known": 12, "provable": 12, "missing": 0},
        {"deadline": 1, "partitions": 1, "on_chain": 8, "known": 8, "provable": 7, "missing": 1},
    ],
    "sealed_after_backup": 2,
    "ok": False,
}
EXPOSURE = {
    "fil_per_day": 0.0123,
    "fil_at_risk": 0.0045,
    "faulty_sectors": 1,
    "missed_deadlines": [1],
    "days_to_termination": 42,
}


def unavailable(reason: str) -> None:
    """Skip with `reason`, but fail under CI=true, where every real part must be present."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and a real part is missing: {reason}")
    pytest.skip(reason)


def make_journal(
    *,
    passed: bool = True,
    simulated: bool = True,
    rto_green: float = 95.0,
    drill_id: str = "20261126T131500Z-3f9a1c",
    started: datetime = STARTED,
    extra_facts: dict[str, Any] | None = None,
) -> Journal:
    """A realistic drill: restore, then daemon and worker branches in parallel, then miner and PoSt."""
    phases = (
        Phase("restore", "main", 0.0, 4.0, Outcome.OK, "zfs clone tank/lotus@nightly"),
        Phase("start-daemon", "daemon", 4.0, 10.0, Outcome.OK, after=("restore",)),
        Phase("import-chain", "daemon", 10.0, 40.0, Outcome.OK, after=("start-daemon",)),
        Phase("sync", "daemon", 40.0, 70.0, Outcome.OK, f"token {FAKE_TOKEN} used", after=("import-chain",)),
        Phase("start-worker", "worker", 4.0, 20.0, Outcome.OK, after=("restore",)),
        Phase("start-miner", "miner", 70.0, 80.0, Outcome.OK, after=("sync",)),
        Phase(
            "post-dry-run",
            "miner",
            80.0,
            rto_green,
            Outcome.OK if passed else Outcome.FAILED,
            "" if passed else "PoSt failed: 3 sectors unreadable",
            after=("start-miner", "start-worker"),
            facts={"partitions": 2},
        ),
    )
    checks = (
        Check("test_chain_synced", "chain is synced", "readiness", True, "", 70.0, 0.1),
        Check(
            "test_post_dry_run",
            "WindowPoSt dry-run succeeds",
            "readiness",
            passed,
            "" if passed else "PoSt failed: 3 sectors unreadable",
            rto_green if passed else None,
            0.2,
        ),
        Check(
            "test_rto_objective",
            "RTO within objective",
            "objective",
            passed,
            "" if passed else "RTO not reached",
            rto_green if passed else None,
        ),
    )
    rps = (
        RestorePointRecord(
            "miner", "zfs", "tank/lotus@nightly-2026-11-26", datetime(2026, 11, 26, 1, 0, tzinfo=UTC), 44100.0
        ),
    )
    facts: dict[str, Any] = {
        "fence": "verified: no owner/worker/control keys; DisableWinningPoSt=true",
        "reconciliation": json.dumps(RECONCILIATION),
        "exposure": json.dumps(EXPOSURE),
    }
    facts.update(extra_facts or {})
    return Journal(
        drill_id=drill_id,
        plan_name="nightly f01234",
        plan_source="/etc/spdrill/plan.toml",
        plan_digest="a" * 64,
        actor="f01234",
        target="local",
        started_at=started,
        simulated=simulated,
        objectives={"rto_seconds": 14400.0, "rpo_seconds": 86400.0, "post_margin_seconds": 600.0},
        restore_points=rps,
        phases=phases,
        checks=checks,
        facts=facts,
        versions={
            "lotus": "1.28.1+mainnet (lotus-sim)" if simulated else "1.28.1+mainnet",
            "spdrill": "0.1.0",
        },
        environment={"host": "standby-1", "python": "3.11"},
        finished_at=rto_green + 5.0,
    )


@pytest.fixture
def journal() -> Journal:
    return make_journal()


@pytest.fixture
def failing_journal() -> Journal:
    return make_journal(passed=False, simulated=False)


@pytest.fixture
def logs() -> dict[str, str]:
    return {
        "daemon": f"starting daemon\nFULLNODE_API_INFO={FAKE_TOKEN}:/ip4/127.0.0.1/tcp/1234/http\nok\n",
        "miner": "lotus-miner run\nok\n",
    }


def without_structured(j: Journal) -> Journal:
    """The same journal as a drill without fence/reconciliation/exposure would leave."""
    return replace(j, facts={})


@dataclass(frozen=True)
class Kit:
    """What the evidence tests share (test modules cannot import conftest under --import-mode=importlib)."""

    make_journal: Callable[..., Journal] = make_journal
    without_structured: Callable[[Journal], Journal] = without_structured
    unavailable: Callable[[str], None] = unavailable
    token: str = FAKE_TOKEN
    reconciliation: dict[str, Any] = field(default_factory=lambda: RECONCILIATION)
    exposure: dict[str, Any] = field(default_factory=lambda: EXPOSURE)


@pytest.fixture
def kit() -> Kit:
    return Kit()
