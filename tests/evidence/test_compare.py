"""Pre-change validation: baseline and candidate drills compared per phase and check, in data and HTML."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from spdrill.evidence.compare import comparison, render_comparison_html, write_comparison
from spdrill.journal import Journal, Outcome, RestorePointRecord


def candidate_of(j: Journal, **kw: Any) -> Journal:
    return replace(
        j, drill_id="20261126T140000Z-c4nd1d", versions={"lotus": "1.29.0-rc1", "spdrill": "0.1.0"}, **kw
    )


def test_same_result_is_safe(kit: Any) -> None:
    base = kit.make_journal(simulated=False)
    cmp = comparison(base, candidate_of(base))
    assert cmp["verdict"] == "safe" and cmp["regressions"] == [] and cmp["same_restore_point"]
    assert cmp["rto_delta_seconds"] == 0.0
    assert [p["name"] for p in cmp["phases"]][:2] == ["restore", "start-daemon"]
    assert all(p["delta_seconds"] == 0.0 for p in cmp["phases"])


def test_a_failing_candidate_is_a_regression_naming_check_phase_and_rto(kit: Any) -> None:
    base = kit.make_journal(simulated=False)
    bad = kit.make_journal(passed=False, simulated=False)
    cmp = comparison(base, candidate_of(bad))
    assert cmp["verdict"] == "regressed"
    text = "\n".join(cmp["regressions"])
    assert "check test_post_dry_run passes on the baseline but not on the candidate" in text
    assert "phase post-dry-run ended failed on the candidate (baseline ok)" in text
    assert "RTO not reached on the candidate" in text


def test_slower_candidate_beyond_tolerance(kit: Any) -> None:
    base = kit.make_journal(rto_green=100.0)
    slow = kit.make_journal(rto_green=200.0)
    cmp = comparison(base, candidate_of(slow))
    assert cmp["rto_delta_seconds"] == 100.0
    assert any(r.startswith("RTO 3m20s on the candidate against 1m40s") for r in cmp["regressions"])
    assert comparison(base, candidate_of(slow), tolerance=1.5)["verdict"] == "safe"
    post = next(p for p in cmp["phases"] if p["name"] == "post-dry-run")
    assert post["delta_seconds"] == 100.0


def test_different_restore_points_are_not_like_for_like(kit: Any) -> None:
    base = kit.make_journal()
    rp = replace(base.restore_points[0], name="tank/lotus@other")
    cmp = comparison(base, candidate_of(base, restore_points=(rp,)))
    assert not cmp["same_restore_point"] and cmp["verdict"] == "regressed"
    assert isinstance(rp, RestorePointRecord)


def test_comparison_html(kit: Any) -> None:
    base = kit.make_journal()
    bad = kit.make_journal(passed=False)
    html = render_comparison_html(base, candidate_of(bad))
    assert 'id="verdict" class="verdict fail">REGRESSED<' in html
    assert 'id="rto-baseline">1m35s<' in html and 'id="rto-candidate">not reached<' in html
    assert "<td>1.28.1+mainnet (lotus-sim)</td><td>1.29.0-rc1</td>" in html
    assert len(re.findall(r'<rect class="baseline"', html)) == len(base.phases)
    assert 'id="simulated-banner"' in html
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert kit.token not in html
    good = render_comparison_html(base, candidate_of(base))
    assert "NO REGRESSION" in good and 'id="regressions"' not in good
    assert 'id="rto-candidate">1m35s (0.0s)<' in good
    assert Outcome.OK.value in good


def test_write_comparison(tmp_path: Path, kit: Any) -> None:
    import json

    base = kit.make_journal()
    html = write_comparison(base, candidate_of(kit.make_journal(passed=False)), tmp_path / "cmp")
    data = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert data["verdict"] == "regressed" and html.name == "compare.html" and html.is_file()
    assert kit.token not in (tmp_path / "cmp" / "compare.json").read_text()
