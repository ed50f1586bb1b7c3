"""Inline SVG charts for the HTML report: the phase timeline with its critical path, and the RTO/RPO trend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape as _escape

from spdrill.duration import format_duration
from spdrill.journal import Outcome, Phase
from spdrill.redact import redact

WIDTH = 920
LABEL_W = 170
ROW_H = 22
COLORS = {Outcome.OK: "#3a7d44", Outcome.FAILED: "#c0392b", Outcome.BLOCKED: "#9e9e9e",
          Outcome.ABORTED: "#e67e22"}


def escape(text: str) -> str:
    """Redact, then escape (phase names and drill ids are not secret, but nothing is assumed)."""
    return _escape(redact(text))


@dataclass(frozen=True)
class TrendPoint:
    """One earlier (or this) drill in the trend chart."""

    drill_id: str
    started_at: str
    rto_seconds: float | None
    rpo_seconds: float | None
    verdict: str


def _x(t: float, span: float) -> float:
    return LABEL_W + (WIDTH - LABEL_W - 80) * (t / span if span > 0 else 0.0)


def timeline_svg(phases: Sequence[Phase], critical: set[str], *, rto: float | None,
                 objective: float | None) -> str:
    """Gantt-style bars, one row per phase in start order; critical-path bars outlined, RTO as a line."""
    rows = sorted(phases, key=lambda p: (p.start, p.end))
    span = max([p.end for p in rows] + [rto or 0.0, 1e-9])
    if objective is not None and objective <= span * 1.5:  # show the objective only when it fits the scale
        span = max(span, objective)
    height = 30 + ROW_H * len(rows) + 24
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" width="{WIDTH}" '
           f'height="{height}" viewBox="0 0 {WIDTH} {height}" aria-label="phase timeline">']
    for i, p in enumerate(rows):
        y = 20 + i * ROW_H
        x0, x1 = _x(p.start, span), _x(p.end, span)
        crit = p.name in critical
        cls = "phase critical" if crit else "phase"
        stroke = ' stroke="#111" stroke-width="2.5"' if crit else ""
        label = f"{p.name} ({p.branch}) {format_duration(p.duration)} {p.outcome.value}"
        out.append(f'<g class="{cls}" data-phase="{escape(p.name)}" data-outcome="{p.outcome.value}">'
                   f"<title>{escape(label)}{' - critical path' if crit else ''}</title>"
                   f'<text x="{LABEL_W - 6}" y="{y + 14}" text-anchor="end" font-size="12">'
                   f"{'&#9656; ' if crit else ''}{escape(p.name)}</text>"
                   f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 2.0):.1f}" height="{ROW_H - 6}" '
                   f'fill="{COLORS[p.outcome]}"{stroke}/>'
                   f'<text x="{max(x1, x0 + 2) + 4:.1f}" y="{y + 14}" font-size="11" fill="#444">'
                   f"{format_duration(p.duration)}</text></g>")
    bottom = 20 + ROW_H * len(rows)
    for t, cls, colour, text in ((rto, "rto-line", "#1f4e9c", "RTO"), (objective, "objective-line", "#b00",
                                                                        "objective")):
        if t is None or t > span:
            continue
        x = _x(t, span)
        out.append(f'<g class="{cls}"><line x1="{x:.1f}" y1="12" x2="{x:.1f}" y2="{bottom + 4}" '
                   f'stroke="{colour}" stroke-dasharray="5,3"/><text x="{x + 3:.1f}" y="{bottom + 18}" '
                   f'font-size="11" fill="{colour}">{text} {format_duration(t)}</text></g>')
    out.append("</svg>")
    return "".join(out)


def trend_svg(points: Sequence[TrendPoint], *, rto_objective: float | None) -> str:
    """RTO and RPO of the last drills as two polylines over drill order; failed drills marked red."""
    if len(points) < 2:
        return '<p class="trend-empty">The RTO/RPO trend appears once the history holds two drills.</p>'
    w, h, left, top, bottom = WIDTH, 220, 60, 16, 40
    values = [v for p in points for v in (p.rto_seconds, p.rpo_seconds) if v is not None]
    if rto_objective is not None:
        values.append(rto_objective)
    top_v = max(values + [1.0]) * 1.1

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (w - left - 20) * i / (len(points) - 1)
        return x, top + (h - top - bottom) * (1 - v / top_v)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" role="img" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" aria-label="RTO and RPO trend">',
           f'<line x1="{left}" y1="{h - bottom}" x2="{w - 10}" y2="{h - bottom}" stroke="#888"/>',
           f'<text x="4" y="{top + 10}" font-size="11">{format_duration(top_v)}</text>',
           f'<text x="4" y="{h - bottom}" font-size="11">0</text>']
    if rto_objective is not None:
        _, y = xy(0, rto_objective)
        out.append(f'<line class="objective-line" x1="{left}" y1="{y:.1f}" x2="{w - 10}" y2="{y:.1f}" '
                   f'stroke="#b00" stroke-dasharray="5,3"/>')
    for series, colour, column in (("rto", "#1f4e9c", [p.rto_seconds for p in points]),
                                   ("rpo", "#7d3c98", [p.rpo_seconds for p in points])):
        pts = [(i, v) for i, v in enumerate(column) if v is not None]
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in pts))
        out.append(f'<polyline class="series-{series}" points="{coords}" fill="none" stroke="{colour}" '
                   f'stroke-width="2"/>')
        for i, v in pts:
            x, y = xy(i, v)
            fill = colour if points[i].verdict == "pass" else "#c0392b"
            out.append(f'<circle class="point-{series}" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{fill}">'
                       f"<title>{escape(points[i].drill_id)} {series.upper()} {format_duration(v)}</title>"
                       "</circle>")
    for i, p in enumerate(points):
        x, _ = xy(i, 0)
        out.append(f'<text x="{x:.1f}" y="{h - bottom + 16}" font-size="10" text-anchor="middle">'
                   f"{escape(p.started_at[:10])}</text>")
    out.append(f'<text x="{left}" y="{h - 6}" font-size="11" fill="#1f4e9c">&#9644; RTO</text>'
               f'<text x="{left + 70}" y="{h - 6}" font-size="11" fill="#7d3c98">&#9644; RPO</text>'
               f'<text x="{left + 140}" y="{h - 6}" font-size="11" fill="#b00">- - RTO objective</text>')
    out.append("</svg>")
    return "".join(out)
