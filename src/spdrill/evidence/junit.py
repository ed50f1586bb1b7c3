"""The drill-level JUnit report: one testsuite per drill, phases and checks as testcases (junit-xml)."""

from __future__ import annotations

from junit_xml import TestCase, TestSuite, to_xml_report_string

from spdrill.evidence.record import measured_rto
from spdrill.journal import Journal, Outcome
from spdrill.phases import critical_path


def drill_junit(journal: Journal) -> str:
    """JUnit XML text for one drill: phases (classname `phase`) then checks (classname `check`)."""
    cases: list[TestCase] = []
    for p in journal.phases:
        tc = TestCase(p.name, classname=f"{journal.plan_name}.phase", elapsed_sec=p.duration,
                      stdout=p.detail or None)
        if p.outcome is Outcome.FAILED or p.outcome is Outcome.ABORTED:
            tc.add_failure_info(message=p.detail or p.outcome.value)
        elif p.outcome is Outcome.BLOCKED:
            tc.add_skipped_info(message=p.detail)
        cases.append(tc)
    for c in journal.checks:
        tc = TestCase(c.name, classname=f"{journal.plan_name}.check", elapsed_sec=c.duration)
        if not c.passed:
            tc.add_failure_info(message=c.message or "failed")
        cases.append(tc)
    for skipped in journal.skipped:  # as pytest's JUnit and the record list them: not run, never green
        tc = TestCase(skipped.title, classname=f"{journal.plan_name}.check")
        tc.add_skipped_info(message=skipped.reason or "skipped")
        cases.append(tc)
    measured = measured_rto(journal)
    rps = [rp.age_seconds for rp in journal.restore_points]
    props = {
        "drill_id": journal.drill_id,
        "plan_digest": journal.plan_digest,
        "actor": journal.actor,
        "target": journal.target,
        "rto_seconds": "" if measured is None else f"{measured:.3f}",
        "rpo_seconds": "" if not rps else f"{max(rps):.0f}",
        "restore_point": ", ".join(rp.name for rp in journal.restore_points),
        "critical_path": " > ".join(p.name for p in critical_path(journal.phases, until=measured)),
        "simulated": str(journal.simulated).lower(),
        "mode": str(journal.facts.get("mode") or "drill"),  # "failover" for a `spdrill run --failover` hand-over
    }
    for component, version in sorted(journal.versions.items()):
        props[f"version_{component}"] = version
    suite = TestSuite(f"spdrill {journal.plan_name}", cases, timestamp=journal.started_at.isoformat(),
                      properties=props, id=journal.drill_id)
    return str(to_xml_report_string([suite], prettyprint=True))
