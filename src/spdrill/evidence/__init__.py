"""Evidence a drill leaves behind: JUnit, JSON record, HTML, history, metrics, webhook, signed bundle."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from spdrill.errors import DrillError
from spdrill.evidence.compare import comparison, render_comparison_html
from spdrill.evidence.history import History, Regression
from spdrill.evidence.html import render_html
from spdrill.evidence.junit import drill_junit
from spdrill.evidence.keys import load_private_key
from spdrill.evidence.metrics import write_metrics
from spdrill.evidence.notify import post_webhook, summary
from spdrill.evidence.record import drill_record, record_json
from spdrill.evidence.sign import make_bundle, verify_bundle
from spdrill.evidence.svg import TrendPoint
from spdrill.journal import Journal
from spdrill.plan import Plan
from spdrill.redact import redact

__all__ = ["comparison", "drill_junit", "drill_record", "record_json", "render_comparison_html",
           "render_html", "seal", "verify_bundle", "write_drill_reports"]

log = logging.getLogger("spdrill.evidence")
TREND_LIMIT = 20


def seal(folder: Path, key_path: Path) -> Path:
    """Sign the drill folder's reports into folder/evidence.tar.gz (again after junit-pytest.xml lands)."""
    return make_bundle(folder, load_private_key(key_path))


def _history(journal: Journal, plan: Plan) -> tuple[list[TrendPoint], Regression | None]:
    if plan.evidence.history is None:
        return [], None
    store = History(plan.evidence.history)
    regression = store.add(json.loads(redact(record_json(journal))), tolerance=plan.evidence.regression_tolerance,
                           window=plan.evidence.regression_window)
    return store.trend(journal.plan_name, limit=TREND_LIMIT), regression


def write_drill_reports(journal: Journal, logs: Mapping[str, str], folder: Path, *,
                        latest: Path | None = None, plan: Plan | None = None) -> Path:
    """Write junit-drill.xml, drill.json, report.html and logs/ into `folder`; with a plan, also keep history,
    write metrics, notify the webhook and sign the bundle as plan.evidence says; point `latest` at the folder.

    A failing optional step (history, metrics, webhook, bundle) is logged and the others still run: the
    drill's own reports must not be lost to a full disk or a webhook that is down.
    """
    folder.mkdir(parents=True, exist_ok=True)
    clean_logs = {role: redact(text) for role, text in logs.items()}
    (folder / "junit-drill.xml").write_text(redact(drill_junit(journal)))
    (folder / "drill.json").write_text(redact(record_json(journal)))
    if clean_logs:
        (folder / "logs").mkdir(exist_ok=True)
        for role, text in clean_logs.items():
            (folder / "logs" / f"{role}.log").write_text(text)
    trend: list[TrendPoint] = []
    regression: Regression | None = None
    problems: list[str] = []
    if plan is not None:
        try:
            trend, regression = _history(journal, plan)
        except DrillError as exc:
            problems.append(f"history: {exc}")
    html = render_html(journal, logs=clean_logs, trend=trend, regression=regression)
    (folder / "report.html").write_text(html)
    if plan is not None:
        ev = plan.evidence
        if ev.metrics is not None:
            try:
                write_metrics(journal, ev.metrics)
            except DrillError as exc:
                problems.append(f"metrics: {exc}")
        if ev.sign_key is not None:
            try:
                seal(folder, ev.sign_key)
            except DrillError as exc:
                problems.append(f"bundle: {exc}")
        if ev.webhook is not None:
            try:
                post_webhook(ev.webhook, summary(journal, regression=regression,
                                                 report=str((folder / "report.html").resolve())))
            except DrillError as exc:
                problems.append(f"webhook: {exc}")
    for p in problems:
        log.error("evidence: %s", redact(p))
    if problems:
        (folder / "evidence-errors.txt").write_text(redact("\n".join(problems) + "\n"))
    if latest is not None:
        tmp = latest.with_name(latest.name + ".tmp")
        tmp.unlink(missing_ok=True)
        os.symlink(folder.name, tmp)
        os.replace(tmp, latest)
    return folder
