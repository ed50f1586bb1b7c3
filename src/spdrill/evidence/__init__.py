"""Evidence a drill leaves behind: drill-level JUnit, the JSON record, redacted logs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from spdrill.evidence.junit import drill_junit
from spdrill.evidence.record import drill_record, record_json
from spdrill.journal import Journal
from spdrill.redact import redact

__all__ = ["drill_junit", "drill_record", "record_json", "write_drill_reports"]


def write_drill_reports(journal: Journal, logs: Mapping[str, str], folder: Path, *,
                        latest: Path | None = None) -> Path:
    """Write junit-drill.xml, drill.json and logs/ into `folder`; point `latest` at it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "junit-drill.xml").write_text(redact(drill_junit(journal)))
    (folder / "drill.json").write_text(redact(record_json(journal)))
    if logs:
        (folder / "logs").mkdir(exist_ok=True)
        for role, text in logs.items():
            (folder / "logs" / f"{role}.log").write_text(redact(text))
    if latest is not None:
        tmp = latest.with_name(latest.name + ".tmp")
        tmp.unlink(missing_ok=True)
        os.symlink(folder.name, tmp)
        os.replace(tmp, latest)
    return folder
