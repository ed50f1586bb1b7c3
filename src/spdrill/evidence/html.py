"""The HTML report: one self-contained file (inline CSS and SVG, nothing fetched) built from the journal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from html import escape as _escape
from typing import Any

from spdrill.duration import format_duration
from spdrill.evidence.history import Regression
from spdrill.evidence.record import drill_record
from spdrill.evidence.svg import TrendPoint, timeline_svg, trend_svg
from spdrill.journal import Journal
from spdrill.redact import redact

LOG_TAIL_LINES = 200
# The CSP forbids every fetch: a report that tried to load anything would show broken, not phone home.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;
background:#fafafa}
main{max-width:960px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd}
.banner{background:#fff3cd;border:2px solid #d39e00;color:#5c4400;padding:10px 14px;font-weight:600;
text-align:center}
.banner.failover{background:#f8d7da;border-color:#b02a37;color:#58151c}
.verdict{display:inline-block;padding:4px 14px;border-radius:4px;color:#fff;font-weight:700;font-size:18px}
.verdict.pass{background:#2e7d32}.verdict.fail{background:#c62828}
.regression{background:#fdecea;border-left:4px solid #c62828;padding:6px 10px;margin:10px 0}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.fail td{background:#fdecea}tr.critical td:first-child{font-weight:700}
.ok{color:#2e7d32}.bad{color:#c62828}.muted{color:#666}
pre{background:#f4f4f4;padding:8px;overflow-x:auto;font-size:12px}svg{background:#fff;max-width:100%}
"""


def escape(text: str) -> str:
    """Redact, then escape: a mask inserted after escaping would turn into markup."""
    return _escape(redact(text))


def _dur(value: float | None) -> str:
    return "not reached" if value is None else format_duration(value)


def _when(iso: str) -> str:
    """The start time for people ("2026-11-26 13:15:00 UTC"); the record keeps the full ISO time."""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    zone = "UTC" if when.utcoffset() == timedelta(0) else f"{when:%z}"
    return f"{when:%Y-%m-%d %H:%M:%S} {zone}"


def _met(met: bool | None) -> str:
    if met is None:
        return '<span class="muted">no objective</span>'
    return '<span class="ok">met</span>' if met else '<span class="bad">MISSED</span>'


def _table(rows: Sequence[Mapping[str, Any]], *, table_id: str) -> str:
    cols: list[str] = []
    for row in rows:
        cols += [k for k in row if k not in cols]
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{escape(_cell(r.get(c)))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _kv(pairs: Mapping[str, Any], *, table_id: str) -> str:
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(_cell(v))}</td></tr>" for k, v in pairs.items())
    return f'<table id="{table_id}"><tbody>{rows}</tbody></table>'


def _summary(rec: Mapping[str, Any]) -> str:
    obj = rec["objectives"]
    rps = "<br>".join(f"{escape(rp['name'])} <span class=\"muted\">({escape(rp['kind'])}, "
                      f"{escape(rp['role'])}, taken {escape(rp['created'])})</span>"
                      for rp in rec["restore_points"]) or "none recorded"
    return (
        '<table id="summary"><tbody>'
        f'<tr><th>RTO</th><td id="rto">{_dur(rec["rto_seconds"])}</td><td>objective '
        f'{_dur(obj.get("rto_seconds"))} ({_met(rec["rto_met"])})</td></tr>'
        f'<tr><th>RPO</th><td id="rpo">{_dur(rec["rpo_seconds"])}</td><td>objective '
        f'{_dur(obj.get("rpo_seconds"))} ({_met(rec["rpo_met"])})</td></tr>'
        f'<tr><th>Critical path</th><td colspan="2" id="critical-path">'
        f'{escape(" > ".join(rec["critical_path"])) or "none"}</td></tr>'
        f'<tr><th>Restore point</th><td colspan="2">{rps}</td></tr>'
        f'<tr><th>Plan</th><td colspan="2">{escape(rec["plan"]["name"])} <span class="muted">'
        f'{escape(rec["plan"]["source"])} sha256 {escape(rec["plan"]["digest"])}</span></td></tr>'
        f'<tr><th>Miner</th><td colspan="2">{escape(rec["actor"])} on the {escape(rec["target"])} '
        "target</td></tr>"
        f'<tr><th>Started</th><td colspan="2">{escape(_when(rec["started_at"]))} '
        f'<span class="muted">harness overhead {_dur(rec["harness_overhead_seconds"])}</span></td></tr>'
        "</tbody></table>")


def _checks(rec: Mapping[str, Any]) -> str:
    rows = []
    for c in rec["checks"]:
        cls = "" if c["passed"] else ' class="fail"'
        mark = '<span class="ok">PASS</span>' if c["passed"] else '<span class="bad">FAIL</span>'
        green = "" if c["green_at"] is None else format_duration(c["green_at"])
        rows.append(f"<tr{cls}><td>{mark}</td><td>{escape(c['title'])}<br><span class=\"muted\">"
                    f"{escape(c['name'])} ({escape(c['kind'])})</span></td><td class=\"num\">{green}</td>"
                    f"<td>{escape(c['message'])}</td></tr>")
    return ('<table id="checks"><thead><tr><th></th><th>check</th><th>green at</th><th>message</th></tr>'
            f"</thead><tbody>{''.join(rows)}</tbody></table>")


def _phases(rec: Mapping[str, Any]) -> str:
    rows = []
    for p in rec["phases"]:
        cls = " ".join(c for c in ("critical" if p["critical"] else "", "fail" if p["outcome"] in
                                   ("failed", "aborted") else "") if c)
        rows.append(f'<tr class="{cls}"><td>{escape(p["name"])}</td><td>{escape(p["branch"])}</td>'
                    f'<td class="num">{format_duration(p["start"])}</td><td class="num">'
                    f'{format_duration(p["duration"])}</td><td>{escape(p["outcome"])}</td>'
                    f'<td>{escape(p["detail"])}</td></tr>')
    return ('<table id="phases"><thead><tr><th>phase</th><th>branch</th><th>start</th><th>duration</th>'
            f"<th>outcome</th><th>detail</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _logs(logs: Mapping[str, str]) -> str:
    parts = []
    for role, text in sorted(logs.items()):
        tail = "\n".join(text.splitlines()[-LOG_TAIL_LINES:])
        parts.append(f"<details><summary>{escape(role)} (last {LOG_TAIL_LINES} lines)</summary>"
                     f"<pre>{escape(tail)}</pre></details>")
    return "".join(parts)


def render_html(journal: Journal, *, logs: Mapping[str, str] | None = None, trend: Sequence[TrendPoint] = (),
                regression: Regression | None = None) -> str:
    """The report as one HTML document; redacted, and a pure function of its arguments."""
    rec = drill_record(journal)
    verdict = rec["verdict"]
    title = f"spdrill {rec['plan']['name']} {rec['drill_id']} {verdict.upper()}"
    body = []
    if rec["simulated"]:
        body.append('<div class="banner" id="simulated-banner">SIMULATED: the standby was the lotus-sim '
                    "stand-in, not real Lotus. This report is not evidence about a real miner.</div>")
    facts = rec["facts"]
    if facts.get("mode") == "failover":
        cid = facts.get("failover_change_peer_id_cid") or "none recorded"
        body.append('<div class="banner failover" id="failover-banner">FAILOVER MODE: not a drill. '
                    f"lotus-miner init restore ran; ChangePeerID message {escape(str(cid))}. Next step: "
                    f"{escape(str(facts.get('failover_next_step', '')))}</div>")
    body.append(f"<main><h1>Restore drill {escape(rec['drill_id'])}</h1>"
                f'<div id="verdict" class="verdict {verdict}">{verdict.upper()}</div>')
    if regression is not None:
        body.append(f'<div class="regression" id="regression">{escape(regression.message)}</div>')
    body.append("<h2>Summary</h2>" + _summary(rec))
    critical = set(rec["critical_path"])
    body.append("<h2>Phase timeline</h2>" + timeline_svg(journal.phases, critical, rto=rec["rto_seconds"],
                                                         objective=rec["objectives"].get("rto_seconds"))
                + '<p class="muted">Outlined bars (&#9656;) are the critical path that decided the RTO.</p>'
                + _phases(rec))
    body.append("<h2>Checks</h2>" + _checks(rec))
    body.append("<h2>Safety fence</h2>" + (f'<p id="fence">{escape(rec["fence"])}</p>' if rec["fence"]
                                           else '<p id="fence" class="muted">not recorded</p>'))
    if "reconciliation" in rec:
        recon = dict(rec["reconciliation"])
        rows = recon.pop("deadlines", [])
        body.append("<h2>Reconciliation with the chain</h2>"
                    + (_table(rows, table_id="reconciliation") if isinstance(rows, list) and rows else "")
                    + _kv(recon, table_id="reconciliation-totals"))
    if "exposure" in rec:
        body.append("<h2>Fault-fee exposure at the measured RTO</h2>"
                    + _kv(rec["exposure"], table_id="exposure"))
    if trend:
        body.append("<h2>RTO and RPO trend</h2><div id=\"trend\">"
                    + trend_svg(trend, rto_objective=rec["objectives"].get("rto_seconds")) + "</div>")
    env = {**{f"version {k}": v for k, v in rec["versions"].items()}, **rec["environment"],
           "simulated": str(rec["simulated"]).lower()}
    body.append("<h2>Environment</h2>" + _kv(env, table_id="environment"))
    if rec["facts"]:
        body.append("<h2>Facts</h2>" + _kv(rec["facts"], table_id="facts"))
    if logs:
        body.append("<h2>Logs</h2>" + _logs(logs))
    body.append(f'<p class="muted">record version {rec["record_version"]}; generated by spdrill from the '
                "drill journal.</p></main>")
    doc = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
           f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
           '<meta name="viewport" content="width=device-width,initial-scale=1">'
           f"<title>{escape(title)}</title>"
           f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n")
    return redact(doc)
