"""The HTML report's content and self-containment, checked on the markup (Chromium renders it elsewhere)."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser
from typing import Any

from spdrill.evidence.history import Regression
from spdrill.evidence.html import render_html
from spdrill.evidence.svg import TrendPoint
from spdrill.journal import Journal, Outcome, Phase

FETCHING_TAGS = {
    "script",
    "link",
    "img",
    "iframe",
    "object",
    "embed",
    "audio",
    "video",
    "source",
    "base",
    "frame",
}
URL_ATTRS = {"src", "href", "srcset", "action", "data", "poster", "xlink:href"}


class _Fetches(HTMLParser):
    """Collects what in a page could make a browser fetch: tags, URL attributes, CSS url()/@import."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FETCHING_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name in URL_ATTRS and value and not value.startswith(("#", "data:")):
                self.found.append(f"{tag}[{name}={value}]")
            if name == "style" and value and re.search(r"url\(|@import", value):
                self.found.append(f"{tag}[style]")
        self._in_style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._in_style and re.search(r"url\(|@import", data):
            self.found.append("<style> url()/@import")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False


def fetches(html: str) -> list[str]:
    p = _Fetches()
    p.feed(html)
    return p.found


def test_report_fetches_nothing(journal: Journal) -> None:
    html = render_html(journal, logs={"daemon": "x"}, trend=_trend(5))
    assert fetches(html) == []
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_fetch_detector_catches_external_references() -> None:
    bad = (
        '<html><head><link rel="stylesheet" href="https://cdn.example/x.css"><style>body{background:'
        'url(https://t.example/p.png)}</style></head><body><img src="http://t.example/p.gif">'
        '<script src="/x.js"></script></body></html>'
    )
    assert len(fetches(bad)) >= 4


def test_report_shows_verdict_rto_rpo_phases_checks(journal: Journal) -> None:
    html = render_html(journal)
    assert 'id="verdict" class="verdict pass">PASS<' in html
    assert 'id="rto">1m35s<' in html and "objective 4h00m" in html
    assert 'id="rpo">12h15m<' in html
    assert "2026-11-26 13:15:00 UTC" in html
    for name in (
        "restore",
        "start-daemon",
        "import-chain",
        "sync",
        "start-worker",
        "start-miner",
        "post-dry-run",
    ):
        assert f'data-phase="{name}"' in html
    crit = re.findall(r'class="phase critical" data-phase="([^"]+)"', html)
    assert crit == ["restore", "start-daemon", "import-chain", "sync", "start-miner", "post-dry-run"]
    assert 'class="phase" data-phase="start-worker"' in html
    assert "WindowPoSt dry-run succeeds" in html and "chain is synced" in html
    assert 'class="rto-line"' in html


def test_failing_report_shows_the_failure(failing_journal: Journal) -> None:
    html = render_html(failing_journal)
    assert 'class="verdict fail">FAIL<' in html
    assert 'id="rto">not reached<' in html and "MISSED" in html
    assert "PoSt failed: 3 sectors unreadable" in html
    assert 'data-outcome="failed"' in html


def test_simulated_banner_only_when_simulated(kit: Any) -> None:
    assert 'id="simulated-banner"' in render_html(kit.make_journal(simulated=True))
    assert "SIMULATED" not in render_html(kit.make_journal(simulated=False))


def test_reconciliation_exposure_and_fence_shown_when_present(kit: Any, journal: Journal) -> None:
    html = render_html(journal)
    assert 'id="reconciliation"' in html and "<th>provable</th>" in html
    assert 'id="exposure"' in html and "fil_per_day" in html and "0.0123" in html
    assert 'id="fence">verified' in html
    bare = render_html(kit.without_structured(journal))
    assert 'id="reconciliation"' not in bare and 'id="exposure"' not in bare
    assert 'id="fence" class="muted">not recorded' in bare


def test_text_is_escaped(journal: Journal) -> None:
    evil = Phase("restore", "main", 0.0, 1.0, Outcome.FAILED, '<script>alert("x")</script>')
    html = render_html(replace(journal, phases=(evil,)))
    assert "<script>" not in html and "&lt;script&gt;" in html


def _trend(n: int) -> list[TrendPoint]:
    return [
        TrendPoint(
            f"d{i}",
            f"2026-11-{10 + i:02d}T01:00:00+00:00",
            90.0 + 5 * i,
            40000.0 + i,
            "pass" if i % 3 else "fail",
        )
        for i in range(n)
    ]


def test_trend_and_regression(journal: Journal) -> None:
    html = render_html(
        journal,
        trend=_trend(6),
        regression=Regression(rto_seconds=200.0, median_seconds=100.0, tolerance=0.2, window=5),
    )
    assert 'class="trend"' in html and 'class="series-rto"' in html and 'class="series-rpo"' in html
    assert len(re.findall(r'class="point-rto"', html)) == 6
    assert 'id="regression">RTO regression: 3m20s is 100% above the median 1m40s' in html
    assert "trend-empty" in render_html(journal, trend=_trend(1))
    assert 'id="trend"' not in render_html(journal)


def test_html_is_a_pure_function(kit: Any) -> None:
    assert render_html(kit.make_journal()) == render_html(kit.make_journal())
