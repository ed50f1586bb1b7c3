"""Property tests: any plan name survives the metrics round trip; no text in a journal becomes markup."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from spdrill.evidence.html import render_html
from spdrill.evidence.metrics import metrics_text
from spdrill.journal import Check

TEXT = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)
# The kit fixture is stateless, so reusing it across generated examples is safe.
SAFE = [HealthCheck.function_scoped_fixture]


@settings(max_examples=60, deadline=None, suppress_health_check=SAFE)
@given(name=TEXT)
def test_any_plan_name_round_trips_through_the_metrics(kit: Any, name: str) -> None:
    j = replace(kit.make_journal(), plan_name=name)
    fams = {f.name: f for f in text_string_to_metric_families(metrics_text(j))}
    assert fams["spdrill_rto_seconds"].samples[0].labels["plan"] == name


@settings(max_examples=60, deadline=None, suppress_health_check=SAFE)
@given(message=TEXT)
def test_no_check_message_becomes_markup(kit: Any, message: str) -> None:
    j = kit.make_journal()
    j = replace(j, checks=(*j.checks, Check("test_x", "x", "readiness", False, "<b>" + message, None)))
    html = render_html(j)
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9-]*)", html))
    assert "b" not in tags  # the planted <b> was escaped, whatever followed it
