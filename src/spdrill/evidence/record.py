"""The JSON drill record: a pure function of the journal."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from enum import Enum
from typing import Any

from spdrill.journal import Journal
from spdrill.phases import critical_path, overhead, rto

RECORD_VERSION = 1


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def drill_record(journal: Journal) -> dict[str, Any]:
    """The record as plain JSON data, with the derived figures (RTO, critical path, RPO, verdict)."""
    measured = rto(journal.checks)
    rec: dict[str, Any] = {"record_version": RECORD_VERSION, **_plain(journal)}
    rec["rto_seconds"] = measured
    rec["critical_path"] = [p.name for p in critical_path(journal.phases, until=measured)]
    rec["rpo_seconds"] = max((rp.age_seconds for rp in journal.restore_points), default=None)
    rec["harness_overhead_seconds"] = (overhead(journal.phases, journal.finished_at)
                                       if journal.finished_at is not None else None)
    rec["verdict"] = "pass" if journal.checks and all(c.passed for c in journal.checks) else "fail"
    return rec


def record_json(journal: Journal) -> str:
    return json.dumps(drill_record(journal), indent=2, sort_keys=False) + "\n"
