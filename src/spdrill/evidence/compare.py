"""Pre-change validation: a drill on the baseline Lotus and one on a candidate, compared."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape as _escape
from pathlib import Path
from typing import Any

from spdrill.duration import format_duration
from spdrill.evidence.history import DEFAULT_TOLERANCE
from spdrill.evidence.html import CSP, CSS
from spdrill.evidence.record import drill_record
from spdrill.journal import Journal
from spdrill.redact import redact


def escape(text: str) -> str:
    """Redact, then escape (a mask added after escaping would become markup)."""
    return _escape(redact(text))


def _side(rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "drill_id": rec["drill_id"],
        "verdict": rec["verdict"],
        "rto_seconds": rec["rto_seconds"],
        "rpo_seconds": rec["rpo_seconds"],
        "versions": rec["versions"],
        "simulated": rec["simulated"],
        "restore_points": [rp["name"] for rp in rec["restore_points"]],
    }


def _last(phases: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for p in phases:  # a retried phase: its last record counts
        out[p["name"]] = p
    return out


def comparison(
    baseline: Journal, candidate: Journal, *, tolerance: float = DEFAULT_TOLERANCE
) -> dict[str, Any]:
    """Verdicts, RTO and each phase and check side by side, and what got worse (the change's regressions)."""
    b, c = drill_record(baseline), drill_record(candidate)
    bp, cp = _last(b["phases"]), _last(c["phases"])
    phases = []
    for name in [*bp, *(n for n in cp if n not in bp)]:
        x, y = bp.get(name), cp.get(name)
        bs, cs = (x or {}).get("duration"), (y or {}).get("duration")
        phases.append(
            {
                "name": name,
                "baseline_seconds": bs,
                "candidate_seconds": cs,
                "delta_seconds": None if bs is None or cs is None else cs - bs,
                "baseline_outcome": (x or {}).get("outcome"),
                "candidate_outcome": (y or {}).get("outcome"),
            }
        )
    bc = {k["name"]: k for k in b["checks"]}
    cc = {k["name"]: k for k in c["checks"]}
    checks = [
        {
            "name": n,
            "title": (bc.get(n) or cc[n])["title"],
            "baseline_passed": bc[n]["passed"] if n in bc else None,
            "candidate_passed": cc[n]["passed"] if n in cc else None,
            "candidate_message": cc[n]["message"] if n in cc else "",
        }
        for n in [*bc, *(n for n in cc if n not in bc)]
    ]
    worse = [
        f"check {k['name']} passes on the baseline but not on the candidate"
        for k in checks
        if k["baseline_passed"] and not k["candidate_passed"]
    ]
    worse += [
        f"phase {p['name']} ended {p['candidate_outcome']} on the candidate "
        f"(baseline {p['baseline_outcome']})"
        for p in phases
        if p["baseline_outcome"] == "ok" and p["candidate_outcome"] not in ("ok", None)
    ]
    brto, crto = b["rto_seconds"], c["rto_seconds"]
    if brto is not None and (crto is None or crto > brto * (1 + tolerance)):
        worse.append(
            f"RTO {'not reached' if crto is None else format_duration(crto)} on the candidate against "
            f"{format_duration(brto)} on the baseline (tolerance {tolerance:.0%})"
        )
    same_rp = _side(b)["restore_points"] == _side(c)["restore_points"]
    if not same_rp:
        worse.append("the two drills used different restore points: the comparison is not like for like")
    return {
        "baseline": _side(b),
        "candidate": _side(c),
        "same_restore_point": same_rp,
        "rto_delta_seconds": None if brto is None or crto is None else crto - brto,
        "phases": phases,
        "checks": checks,
        "regressions": worse,
        "verdict": "safe" if not worse else "regressed",
        "simulated": b["simulated"] or c["simulated"],
    }


def _d(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "-"
    return ("+" if signed and value > 0 else "") + format_duration(value)


def _rto(value: float | None, delta: float | None = None) -> str:
    if value is None:
        return "not reached"
    return format_duration(value) + ("" if delta is None else f" ({_d(delta, signed=True)})")


def _bars(phases: Sequence[dict[str, Any]]) -> str:
    """Two bars per phase (baseline above, candidate below) on one scale."""
    span = max([p[k] or 0.0 for p in phases for k in ("baseline_seconds", "candidate_seconds")] + [1e-9])
    w, label, row = 920, 170, 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="compare" role="img" width="{w}" '
        f'height="{row * len(phases) + 30}" aria-label="phase durations, baseline and candidate">'
    ]
    for i, p in enumerate(phases):
        y = 8 + i * row
        out.append(
            f'<text x="{label - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(p["name"])}</text>'
        )
        for j, (key, colour) in enumerate(
            (("baseline_seconds", "#7f8c8d"), ("candidate_seconds", "#1f4e9c"))
        ):
            v = p[key]
            if v is not None:
                bw = max((w - label - 80) * v / span, 2.0)
                out.append(
                    f'<rect class="{key.split("_")[0]}" data-phase="{escape(p["name"])}" x="{label}" '
                    f'y="{y + j * 12}" width="{bw:.1f}" height="10" fill="{colour}"><title>'
                    f"{key.split('_')[0]} {format_duration(v)}</title></rect>"
                )
    out.append(
        f'<text x="{label}" y="{row * len(phases) + 24}" font-size="11"><tspan fill="#7f8c8d">'
        '&#9644; baseline</tspan> <tspan fill="#1f4e9c">&#9644; candidate</tspan></text></svg>'
    )
    return "".join(out)


def render_comparison_html(
    baseline: Journal, candidate: Journal, *, tolerance: float = DEFAULT_TOLERANCE
) -> str:
    """One self-contained HTML page comparing the baseline and candidate drills."""
    cmp = comparison(baseline, candidate, tolerance=tolerance)
    b, c = cmp["baseline"], cmp["candidate"]
    body = []
    if cmp["simulated"]:
        body.append(
            '<div class="banner" id="simulated-banner">SIMULATED: at least one drill ran on the lotus-sim '
            "stand-in, not real Lotus.</div>"
        )
    ok = cmp["verdict"] == "safe"
    body.append(
        f'<main><h1>Pre-change validation</h1><div id="verdict" class="verdict {"pass" if ok else "fail"}">'
        f"{'NO REGRESSION' if ok else 'REGRESSED'}</div>"
    )
    if cmp["regressions"]:
        body.append(
            '<ul id="regressions">'
            + "".join(f'<li class="bad">{escape(r)}</li>' for r in cmp["regressions"])
            + "</ul>"
        )
    versions = sorted(set(b["versions"]) | set(c["versions"]))
    rows = "".join(
        f"<tr><th>version {escape(v)}</th><td>{escape(b['versions'].get(v, '-'))}</td>"
        f"<td>{escape(c['versions'].get(v, '-'))}</td></tr>"
        for v in versions
    )
    body.append(
        '<h2>Drills</h2><table id="sides"><thead><tr><th></th><th>baseline</th><th>candidate</th></tr>'
        f"</thead><tbody><tr><th>drill</th><td>{escape(b['drill_id'])}</td><td>{escape(c['drill_id'])}</td>"
        f'</tr><tr><th>verdict</th><td class="v-base">{b["verdict"].upper()}</td><td class="v-cand">'
        f'{c["verdict"].upper()}</td></tr><tr><th>RTO</th><td id="rto-baseline">{_rto(b["rto_seconds"])}</td>'
        f'<td id="rto-candidate">{_rto(c["rto_seconds"], cmp["rto_delta_seconds"])}</td>'
        f"</tr><tr><th>restore point</th><td>{escape(', '.join(b['restore_points']))}</td><td>"
        f"{escape(', '.join(c['restore_points']))}</td></tr>{rows}</tbody></table>"
    )
    prow = "".join(
        f'<tr data-phase="{escape(p["name"])}"><td>{escape(p["name"])}</td><td class="num">'
        f'{_d(p["baseline_seconds"])}</td><td class="num">{_d(p["candidate_seconds"])}</td>'
        f'<td class="num">{_d(p["delta_seconds"], signed=True)}</td><td>{escape(str(p["baseline_outcome"]))}'
        f"</td><td>{escape(str(p['candidate_outcome']))}</td></tr>"
        for p in cmp["phases"]
    )
    body.append(
        "<h2>Phases</h2>" + _bars(cmp["phases"]) + '<table id="phases"><thead><tr><th>phase</th>'
        "<th>baseline</th><th>candidate</th><th>change</th><th>baseline outcome</th>"
        f"<th>candidate outcome</th></tr></thead><tbody>{prow}</tbody></table>"
    )
    mark = {True: '<span class="ok">PASS</span>', False: '<span class="bad">FAIL</span>', None: "-"}
    crow = "".join(
        f"<tr><td>{escape(k['title'])}</td><td>{mark[k['baseline_passed']]}</td>"
        f"<td>{mark[k['candidate_passed']]}</td><td>{escape(k['candidate_message'])}</td></tr>"
        for k in cmp["checks"]
    )
    body.append(
        '<h2>Checks</h2><table id="checks"><thead><tr><th>check</th><th>baseline</th><th>candidate</th>'
        f"<th>candidate message</th></tr></thead><tbody>{crow}</tbody></table></main>"
    )
    return redact(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv='
        f'"Content-Security-Policy" content="{CSP}"><title>spdrill pre-change validation</title>'
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )


def write_comparison(baseline: Journal, candidate: Journal, folder: Path, *,
                     tolerance: float = DEFAULT_TOLERANCE) -> Path:
    """Write compare.json and compare.html into `folder` (redacted); return the HTML's path."""
    folder.mkdir(parents=True, exist_ok=True)
    data = comparison(baseline, candidate, tolerance=tolerance)
    (folder / "compare.json").write_text(redact(json.dumps(data, indent=2)) + "\n")
    html = folder / "compare.html"
    html.write_text(render_comparison_html(baseline, candidate, tolerance=tolerance))
    return html
