"""Prometheus text-file metrics for node_exporter's textfile collector: RTO, RPO, last success, each check."""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from spdrill.errors import InputError
from spdrill.evidence.record import measured_rto, rpo_seconds, verdict
from spdrill.journal import Journal

_LAST_SUCCESS = re.compile(r"^spdrill_last_success_timestamp_seconds(?:\{[^}]*\})?\s+(\S+)", re.MULTILINE)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(base: Mapping[str, str], **more: str) -> str:
    items = {**base, **more}
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in items.items()) + "}"


def _num(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "NaN"  # "not measured": alert rules compare against NaN as false, and absent() still works
    return repr(float(value))


def previous_last_success(path: Path) -> float | None:
    """The last-success timestamp an earlier drill left in the file, so a failed drill does not erase it."""
    try:
        m = _LAST_SUCCESS.search(path.read_text(encoding="utf-8"))
    except OSError:
        return None
    try:
        return float(m.group(1)) if m else None
    except ValueError:
        return None


def metrics_text(journal: Journal, *, last_success: float | None = None) -> str:
    """The exposition text for one drill; `last_success` is carried over when this drill failed."""
    base = {"plan": journal.plan_name, "actor": journal.actor}
    passed = verdict(journal) == "pass"
    end = journal.started_at + timedelta(seconds=journal.finished_at or 0.0)
    if passed:
        last_success = end.timestamp()
    obj = journal.objectives
    gauges: list[tuple[str, str, list[tuple[str, str]]]] = [
        ("spdrill_rto_seconds", "Measured RTO of the last drill: start to every readiness check green (NaN: "
         "not reached).", [(_labels(base), _num(measured_rto(journal)))]),
        ("spdrill_rto_objective_seconds", "The plan's RTO objective.", [(_labels(base), _num(obj.get(
            "rto_seconds")))]),
        ("spdrill_rpo_seconds", "Age of the restore point the last drill used.",
         [(_labels(base), _num(rpo_seconds(journal)))]),
        ("spdrill_rpo_objective_seconds", "The plan's RPO objective.", [(_labels(base), _num(obj.get(
            "rpo_seconds")))]),
        ("spdrill_last_run_timestamp_seconds", "When the last drill finished (Unix time).",
         [(_labels(base), _num(end.timestamp()))]),
        ("spdrill_drill_success", "1 when the last drill passed every check, else 0.",
         [(_labels(base), "1" if passed else "0")]),
        ("spdrill_simulated", "1 when the last drill ran against the lotus-sim stand-in, not real Lotus.",
         [(_labels(base), "1" if journal.simulated else "0")]),
        ("spdrill_check_ok", "1 when the check passed in the last drill, else 0.",
         [(_labels(base, check=c.name), "1" if c.passed else "0") for c in journal.checks]),
        ("spdrill_phase_duration_seconds", "Duration of each phase of the last drill.",
         [(_labels(base, phase=p.name), _num(p.duration)) for p in journal.phases]),
    ]
    if last_success is not None:
        gauges.insert(4, ("spdrill_last_success_timestamp_seconds", "When a drill last passed (Unix time).",
                          [(_labels(base), _num(last_success))]))
    lines: list[str] = []
    for name, help_text, samples in gauges:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines += [f"{name}{labels} {value}" for labels, value in samples]
    return "\n".join(lines) + "\n"


def write_metrics(journal: Journal, path: Path) -> Path:
    """Write the metrics atomically (temporary file, then rename) so the collector never reads half a file."""
    text = metrics_text(journal, last_success=previous_last_success(path))
    # The collector only reads *.prom: a temporary name without that suffix is never scraped half-written.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise InputError(f"{path}: cannot write the metrics file ({exc.strerror}); pass a writable path with "
                         "--metrics or [reports] metrics (node_exporter's --collector.textfile.directory)") \
            from None
    return path
