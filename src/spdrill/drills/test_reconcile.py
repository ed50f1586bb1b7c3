"""Reconciliation: the restored miner against the chain, and what the measured RTO would cost in deadlines.

Both checks read the bring-up's ``reconcile`` stage, whose finding (`ReconcileFinding`) holds the
:class:`spdrill.reconcile.ReconciliationReport`.
"""


import pytest

from spdrill.bringup import GRAPH
from spdrill.drill import Drill
from spdrill.exposure import deadline_problem, exposure_facts, exposure_now, worst_case
from spdrill.findings import ReconcileFinding
from spdrill.phases import rto
from spdrill.reconcile import ReconciliationReport, provable_problem

# Inert (nothing collected, nothing skipped) until the bring-up has the stage these checks read.
__test__ = "reconcile" in GRAPH


def _report(drill: Drill) -> ReconciliationReport:
    __tracebackhide__ = True
    result = drill.stage("reconcile")
    if result.not_applicable:
        pytest.skip(f"reconcile: {result.detail}")
    found = drill.finding("reconcile", ReconcileFinding)
    if found is None or found.report is None:
        raise AssertionError(f"reconcile: {result.detail}. The chain could not be compared with the restored "
                             "miner; fix what the stage reports and drill again")
    return found.report


@pytest.mark.readiness
def test_every_live_sector_provable(drill: Drill) -> None:
    """Every on-chain live sector is provable on the standby."""
    problem = provable_problem(_report(drill))
    assert problem is None, problem


@pytest.mark.objective
def test_rto_misses_no_must_not_miss_deadline(drill: Drill) -> None:
    """The measured RTO misses no must-not-miss deadline if the primary failed now."""
    report = _report(drill)
    measured = rto(drill.checks())
    assert measured is not None, "no RTO: the standby never became ready, so every deadline would be missed"
    now = exposure_now(report.loads(), report.clock, measured, report.block_delay)
    worst = worst_case(report.loads(), report.clock, measured, report.block_delay)
    facts = exposure_facts(now, worst)
    drill.journal.section("exposure", facts)
    drill.journal.fact("fil_at_risk_at_rto", facts["fil_at_risk"])
    problem = deadline_problem(now, drill.plan.objectives.must_not_miss)
    assert problem is None, problem
