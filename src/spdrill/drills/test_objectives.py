"""Objectives: the measured RTO and RPO against the plan's."""

import pytest

from spdrill.drill import Drill
from spdrill.duration import format_duration
from spdrill.phases import critical_path, rto


@pytest.mark.objective
def test_rto_within_objective(drill: Drill) -> None:
    """Recovery time (drill start → every readiness check green) is within the plan's RTO."""
    checks = drill.checks()
    measured = rto(checks)
    failed = [c.name for c in checks if c.kind == "readiness" and not c.passed]
    assert measured is not None, f"no RTO: the standby never became ready ({', '.join(failed) or 'no checks ran'})"
    path = " > ".join(p.name for p in critical_path(drill.journal.phases(), until=measured))
    drill.journal.fact("rto_seconds", round(measured, 3))
    assert measured <= drill.plan.objectives.rto, (
        f"RTO {format_duration(measured)} exceeds the objective {format_duration(drill.plan.objectives.rto)}; "
        f"critical path: {path}")


@pytest.mark.objective
def test_rpo_within_objective(drill: Drill) -> None:
    """The restore point's age at drill start is within the plan's RPO."""
    restore = drill.stage("restore")
    if restore.not_applicable:  # the attach target restored nothing: there is no restore point to age
        pytest.skip(f"restore: {restore.detail}")
    points = drill.journal.freeze().restore_points
    assert points, "no restore point was used: the restore failed"
    worst = max(points, key=lambda rp: rp.age_seconds)
    assert worst.age_seconds <= drill.plan.objectives.rpo, (
        f"RPO {format_duration(worst.age_seconds)} ({worst.name}) exceeds the objective "
        f"{format_duration(drill.plan.objectives.rpo)}: take restore points more often")
