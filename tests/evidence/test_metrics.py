"""Prometheus text-file metrics, parsed back with prometheus_client's own parser."""

from __future__ import annotations

import math
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from spdrill.errors import InputError
from spdrill.evidence.metrics import metrics_text, write_metrics
from spdrill.journal import Journal


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        assert fam.type == "gauge" and fam.documentation
        for s in fam.samples:
            out[
                (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("plan", "actor"))))
            ] = s.value
    return out


def test_metrics_of_a_passing_drill(tmp_path: Path, journal: Journal) -> None:
    path = write_metrics(journal, tmp_path / "spdrill.prom")
    got = samples(path.read_text())
    assert got[("spdrill_rto_seconds", ())] == 95.0
    assert got[("spdrill_rpo_seconds", ())] == 44100.0
    assert got[("spdrill_rto_objective_seconds", ())] == 14400.0
    finished = journal.started_at.timestamp() + 100.0
    assert got[("spdrill_last_success_timestamp_seconds", ())] == finished
    assert got[("spdrill_drill_success", ())] == 1.0 and got[("spdrill_simulated", ())] == 1.0
    for check in ("test_chain_synced", "test_post_dry_run", "test_rto_objective"):
        assert got[("spdrill_check_ok", (("check", check),))] == 1.0
    assert got[("spdrill_phase_duration_seconds", (("phase", "sync"),))] == 30.0
    fam = next(f for f in text_string_to_metric_families(path.read_text()) if f.name == "spdrill_rto_seconds")
    assert fam.samples[0].labels == {"plan": "nightly f01234", "actor": "f01234"}


def test_a_failed_drill_keeps_the_last_success(
    tmp_path: Path, journal: Journal, failing_journal: Journal
) -> None:
    path = tmp_path / "spdrill.prom"
    write_metrics(journal, path)
    before = samples(path.read_text())[("spdrill_last_success_timestamp_seconds", ())]
    later = replace(failing_journal, started_at=journal.started_at.replace(day=27))
    write_metrics(later, path)
    got = samples(path.read_text())
    assert got[("spdrill_last_success_timestamp_seconds", ())] == before
    assert math.isnan(got[("spdrill_rto_seconds", ())])
    assert got[("spdrill_drill_success", ())] == 0.0
    assert got[("spdrill_check_ok", (("check", "test_post_dry_run"),))] == 0.0
    assert got[("spdrill_check_ok", (("check", "test_chain_synced"),))] == 1.0
    assert got[("spdrill_last_run_timestamp_seconds", ())] > before


def test_no_success_yet_means_no_last_success_sample(failing_journal: Journal) -> None:
    assert "spdrill_last_success_timestamp_seconds" not in metrics_text(failing_journal)


def test_label_values_are_escaped(journal: Journal) -> None:
    j = replace(journal, plan_name='weird "plan"\\ with\nnewline')
    fam = next(f for f in text_string_to_metric_families(metrics_text(j)) if f.name == "spdrill_rto_seconds")
    assert fam.samples[0].labels["plan"] == 'weird "plan"\\ with\nnewline'


def test_write_is_atomic_and_leaves_no_temporary(tmp_path: Path, journal: Journal) -> None:
    path = tmp_path / "textfile" / "spdrill.prom"
    path.parent.mkdir()
    path.write_text("# old\n")
    inode = path.stat().st_ino
    write_metrics(journal, path)
    assert path.stat().st_ino != inode  # replaced by rename, not rewritten in place
    assert sorted(os.listdir(path.parent)) == ["spdrill.prom"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_unwritable_path_is_an_input_error(tmp_path: Path, journal: Journal, kit: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="cannot write the metrics file"):
        write_metrics(journal, blocker / "spdrill.prom")
