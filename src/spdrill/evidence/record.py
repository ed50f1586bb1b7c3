"""The JSON drill record (version 1): a pure function of the journal, per drill-record.schema.json."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from spdrill.journal import Check, Journal, Phase, RestorePointRecord
from spdrill.phases import critical_path, overhead, rto

RECORD_VERSION = 1
SCHEMA_ID = "https://spdrill.dev/schemas/drill-record-v1.schema.json"
# Sections another part of spdrill (fence/reconciliation/exposure) leaves in journal.facts as JSON text.
STRUCTURED_FACTS = ("reconciliation", "exposure")


def schema() -> dict[str, Any]:
    """The shipped JSON Schema (draft 2020-12) every record validates against."""
    text = resources.files("spdrill").joinpath("data/drill-record.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def verdict(journal: Journal) -> str:
    """"pass" when every drill ran and passed (or was turned off); "fail" otherwise.

    No checks proves nothing, and neither does an interrupted run: a drill stopped half way has only
    passing checks so far, and must not read as a pass.
    """
    if not journal.checks or not all(c.passed for c in journal.checks):
        return "fail"
    return "pass" if _complete(journal) else "fail"


def _complete(journal: Journal) -> bool:
    return journal.complete


def measured_rto(journal: Journal) -> float | None:
    """The drill's RTO, or None when it was interrupted or a check never ran (then nothing was measured)."""
    return rto(journal.checks) if _complete(journal) else None


def rpo_seconds(journal: Journal) -> float | None:
    """The drill's RPO: the age of its oldest restore point (a snapshot set is as old as its oldest part)."""
    return max((rp.age_seconds for rp in journal.restore_points), default=None)


def structured_fact(journal: Journal, key: str) -> dict[str, Any] | None:
    """A structured section (reconciliation, exposure), or a fact holding one as JSON text (a journal made by an
    older spdrill); None when absent or not an object."""
    if key in journal.sections:
        return _facts(journal.sections[key])
    raw = journal.facts.get(key)
    if not isinstance(raw, str):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return {"unparsed": raw}  # keep what the drill said rather than dropping it
    return value if isinstance(value, dict) else {"value": value}


def _phase(p: Phase, critical: set[str]) -> dict[str, Any]:
    return {"name": p.name, "branch": p.branch, "start": p.start, "end": p.end, "duration": p.duration,
            "outcome": p.outcome.value, "detail": p.detail, "after": list(p.after), "facts": _facts(p.facts),
            "critical": p.name in critical}


def _check(c: Check) -> dict[str, Any]:
    return {"name": c.name, "title": c.title, "kind": c.kind, "passed": c.passed, "message": c.message,
            "green_at": c.green_at, "duration": c.duration}


def _restore_point(rp: RestorePointRecord) -> dict[str, Any]:
    return {"role": rp.role, "kind": rp.kind, "name": rp.name, "created": _iso(rp.created),
            "age_seconds": rp.age_seconds, "facts": _facts(rp.facts)}


def _iso(when: datetime) -> str:
    # Naive times come from UTC clocks in spdrill; say so, since the schema requires an offset.
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).isoformat()


def _jsonable(value: Any) -> Any:
    """Plain JSON for a fact: phase notes may hold lists and tables; JSON has no NaN, so those become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return [_jsonable(v) for v in sorted(value, key=str)]  # sorted: the record must be reproducible
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return _iso(value)
    return str(value)


def _facts(facts: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): _jsonable(v) for k, v in facts.items()}


def _met(value: float | None, objective: float | None) -> bool | None:
    if value is None or objective is None:
        return None if objective is None else False
    return value <= objective


def drill_record(journal: Journal) -> dict[str, Any]:
    """The record as plain JSON data with the derived figures (verdict, RTO, critical path, RPO)."""
    measured = measured_rto(journal)
    path = critical_path(journal.phases, until=measured)
    rpo = rpo_seconds(journal)
    obj = {str(k): float(v) for k, v in journal.objectives.items()}
    finished = _iso(journal.started_at + timedelta(seconds=journal.finished_at)) \
        if journal.finished_at is not None else None
    rec: dict[str, Any] = {
        "$schema": SCHEMA_ID,
        "record_version": RECORD_VERSION,
        "drill_id": journal.drill_id,
        "simulated": journal.simulated,
        "verdict": verdict(journal),
        "plan": {"name": journal.plan_name, "source": journal.plan_source, "digest": journal.plan_digest},
        "actor": journal.actor,
        "target": journal.target,
        "started_at": _iso(journal.started_at),
        "finished_at": finished,
        "duration_seconds": journal.finished_at,
        "objectives": obj,
        "rto_seconds": measured,
        "rto_met": _met(measured, obj.get("rto_seconds")),
        "critical_path": [p.name for p in path],
        "rpo_seconds": rpo,
        "rpo_met": _met(rpo, obj.get("rpo_seconds")),
        "harness_overhead_seconds": (overhead(journal.phases, journal.finished_at)
                                     if journal.finished_at is not None else None),
        "restore_points": [_restore_point(rp) for rp in journal.restore_points],
        "phases": [_phase(p, {c.name for c in path}) for p in journal.phases],
        "checks": [_check(c) for c in journal.checks],
        "fence": None if journal.facts.get("fence") is None else str(journal.facts["fence"]),
        "versions": dict(journal.versions),
        "environment": dict(journal.environment),
        "facts": _facts({**{k: v for k, v in journal.facts.items() if k not in STRUCTURED_FACTS},
                         **journal.run_facts()}),
    }
    for key in STRUCTURED_FACTS:
        section = structured_fact(journal, key)
        if section is not None:
            rec[key] = section
    return rec


def record_json(journal: Journal) -> str:
    """The record as indented JSON text (not yet redacted: the writer redacts every file it writes)."""
    return json.dumps(drill_record(journal), indent=2, allow_nan=False) + "\n"
