"""The JSON drill record: schema-valid, derived figures right, optional sections only when present."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from spdrill.evidence.record import RECORD_VERSION, drill_record, record_json, schema
from spdrill.journal import Journal


def validator() -> jsonschema.Draft202012Validator:
    s = schema()
    jsonschema.Draft202012Validator.check_schema(s)
    return jsonschema.Draft202012Validator(s, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def errors(rec: dict[str, Any]) -> list[str]:
    return [e.message for e in validator().iter_errors(rec)]


def test_schema_is_draft_2020_12_and_versioned() -> None:
    s = schema()
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert s["properties"]["record_version"] == {
        "const": RECORD_VERSION,
        "description": s["properties"]["record_version"]["description"],
    }


@pytest.mark.parametrize("passed", [True, False])
def test_record_of_a_drill_validates(kit: Any, passed: bool) -> None:
    rec = json.loads(record_json(kit.make_journal(passed=passed)))
    assert errors(rec) == []


def test_record_without_optional_sections_validates(kit: Any, journal: Journal) -> None:
    rec = drill_record(kit.without_structured(journal))
    assert "reconciliation" not in rec and "exposure" not in rec and rec["fence"] is None
    assert errors(rec) == []


@pytest.mark.parametrize(
    "fault",
    [
        "drop-plan",
        "bad-verdict",
        "bad-outcome",
        "extra-key",
        "bad-digest",
        "negative-rto",
        "bad-date",
        "recon-deadline",
    ],
)
def test_schema_rejects_a_broken_record(journal: Journal, fault: str) -> None:
    rec = copy.deepcopy(drill_record(journal))
    if fault == "drop-plan":
        del rec["plan"]
    elif fault == "bad-verdict":
        rec["verdict"] = "maybe"
    elif fault == "bad-outcome":
        rec["phases"][0]["outcome"] = "fine"
    elif fault == "extra-key":
        rec["surprise"] = 1
    elif fault == "bad-digest":
        rec["plan"]["digest"] = "xyz"
    elif fault == "negative-rto":
        rec["rto_seconds"] = -1
    elif fault == "bad-date":
        rec["started_at"] = "yesterday"
    elif fault == "recon-deadline":
        rec["reconciliation"]["deadlines"][0]["deadline"] = 48
    assert errors(rec), f"the schema accepted a record with fault {fault}"


def test_derived_figures(kit: Any, journal: Journal) -> None:
    rec = drill_record(journal)
    assert rec["verdict"] == "pass" and rec["simulated"] is True
    assert rec["rto_seconds"] == 95.0 and rec["rto_met"] is True
    assert rec["critical_path"] == [
        "restore",
        "start-daemon",
        "import-chain",
        "sync",
        "start-miner",
        "post-dry-run",
    ]
    assert [p["name"] for p in rec["phases"] if p["critical"]] == rec["critical_path"]
    assert rec["rpo_seconds"] == 44100.0 and rec["rpo_met"] is True
    assert rec["plan"] == {"name": "nightly f01234", "source": "/etc/spdrill/plan.toml", "digest": "a" * 64}
    assert rec["finished_at"] == "2026-11-26T13:16:40+00:00"
    assert rec["reconciliation"] == kit.reconciliation and rec["exposure"] == kit.exposure
    assert rec["fence"].startswith("verified")
    assert "reconciliation" not in rec["facts"] and "fence" in rec["facts"]


def test_failing_drill(failing_journal: Journal) -> None:
    rec = drill_record(failing_journal)
    assert rec["verdict"] == "fail" and rec["rto_seconds"] is None and rec["rto_met"] is False
    assert rec["simulated"] is False


def test_missed_objectives_are_flagged(journal: Journal) -> None:
    tight = replace(journal, objectives={"rto_seconds": 60.0, "rpo_seconds": 3600.0})
    rec = drill_record(tight)
    assert rec["rto_met"] is False and rec["rpo_met"] is False


def test_no_checks_is_a_failure(journal: Journal) -> None:
    assert drill_record(replace(journal, checks=()))["verdict"] == "fail"


def test_unparsable_structured_fact_is_kept_not_dropped(journal: Journal) -> None:
    j = replace(journal, facts={"reconciliation": "not json {"})
    rec = drill_record(j)
    assert rec["reconciliation"] == {"unparsed": "not json {"}
    assert errors(rec) == []


def test_non_finite_fact_becomes_null_and_json_stays_standard(journal: Journal) -> None:
    j = replace(journal, facts={"ratio": float("nan"), "inf": float("inf")})
    text = record_json(j)
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["facts"] == {"ratio": None, "inf": None}


def test_record_is_a_pure_function_of_the_journal(kit: Any) -> None:
    assert record_json(kit.make_journal()) == record_json(kit.make_journal())


def test_phase_facts_may_hold_lists_and_tables(journal: Journal) -> None:
    """Real drills note lists (GPU models) in phase facts; the record keeps them as JSON and stays valid."""
    # Phase.facts is typed as scalars, but PhaseNote.facts (Any) lets bring-up note lists: model that.
    facts: dict[str, Any] = {"gpus": ["NVIDIA H100 80GB HBM3"], "t": {"a": (1, 2)}, "s": {"b", "a"}}
    p = replace(journal.phases[0], facts=facts)
    rec = drill_record(replace(journal, phases=(p, *journal.phases[1:])))
    assert rec["phases"][0]["facts"] == {
        "gpus": ["NVIDIA H100 80GB HBM3"],
        "t": {"a": [1, 2]},
        "s": ["a", "b"],
    }
    assert errors(rec) == []
    json.dumps(rec, allow_nan=False)
