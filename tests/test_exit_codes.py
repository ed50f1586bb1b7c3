"""What a stage's error means for the exit code (docs/exit-codes.md), judged by the bring-up on a FakeTarget:
1 when anything spdrill started or attached to dies or answers wrongly; 3 only when spdrill could not run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spdrill.bringup import BringUp
from spdrill.clock import FakeClock
from spdrill.errors import (
    CannotRunError,
    DrillError,
    LotusAuthError,
    LotusRPCError,
    LotusUnreachableError,
    TargetError,
    UsageError,
)
from spdrill.journal import Journal, JournalBuilder
from spdrill.plan import parse_plan
from spdrill.targets.fake import FakeTarget

DISCONNECTED = LotusUnreachableError("ChainHead: Server disconnected without sending a response")


def bringup(*, brings_up: bool = True) -> tuple[BringUp, FakeTarget]:
    plan = parse_plan('[drill]\nactor = "f01000"\n')
    target = FakeTarget(brings_up=brings_up)
    base = Journal(drill_id="d1", plan_name="p", plan_source="p.toml", plan_digest="0" * 64, actor="f01000",
                   target="fake", started_at=datetime(2026, 11, 26, tzinfo=UTC), simulated=True, objectives={})
    bu = BringUp(plan, target, JournalBuilder(base, FakeClock()))
    bu.standby.death_grace = 0.0
    return bu, target


def test_a_started_role_that_died_is_a_finding_whatever_the_transport_said() -> None:
    """The daemon-dies-mid-sync fault: the next call gets "Server disconnected"; the death is the finding (1)."""
    bu, target = bringup()
    bu.standby.spawn("daemon", ["lotus", "daemon"], env={}, port=1234)
    target.exit("daemon", 1)
    for exc in (DISCONNECTED, TargetError("docker exec: container is not running")):
        verdict = bu._judge("sync", exc)
        assert not verdict.cannot_run
        assert verdict.detail.startswith("the standby daemon process exited (code 1); ")


def test_a_started_role_that_stops_answering_is_a_finding() -> None:
    bu, _ = bringup()
    bu.standby.spawn("miner", ["lotus-miner", "run"], env={}, port=2345)
    assert bu._judge("check-provable", DISCONNECTED).cannot_run is False


@pytest.mark.parametrize("exc", [LotusRPCError("StateMinerInfo", 1, "actor not found"),
                                 LotusAuthError("missing permission to invoke 'WalletList' (need 'write')")])
def test_an_api_that_answered_with_an_error_is_a_finding_on_every_target(exc: DrillError) -> None:
    for brings_up in (True, False):
        bu, _ = bringup(brings_up=brings_up)
        assert bu._judge("start-daemon", exc).cannot_run is False


def test_the_attach_targets_api_unreachable_at_first_contact_is_could_not_run() -> None:
    bu, _ = bringup(brings_up=False)
    assert bu._judge("start-daemon", DISCONNECTED).cannot_run is True
    assert bu._judge("start-miner", DISCONNECTED).cannot_run is True
    # it answered once (the stage after first contact): the attached standby misbehaves, a finding
    assert bu._judge("sync", DISCONNECTED).cannot_run is False


def test_a_target_that_fails_before_anything_started_is_could_not_run() -> None:
    bu, _ = bringup()
    assert bu._judge("restore", TargetError("no Docker engine answers")).cannot_run is True
    assert bu._judge("restore", CannotRunError("ssh: host unreachable")).cannot_run is True


def test_a_bug_is_a_finding_named_by_its_type() -> None:
    bu, _ = bringup()
    verdict = bu._judge("storage", KeyError("paths"))
    assert verdict == (verdict.detail, False) and verdict.detail == "KeyError: 'paths'"


def test_a_usage_error_inside_a_stage_is_not_could_not_run() -> None:
    bu, _ = bringup()
    assert bu._judge("import-chain", UsageError("no chain snapshot")).cannot_run is False


def test_the_bring_up_reports_the_first_could_not_run_error() -> None:
    bu, _ = bringup(brings_up=False)
    bu.runner.cannot_run = DISCONNECTED
    assert bu.cannot_run is DISCONNECTED  # kept as it is: its class says what could not be reached
