"""Small SVG charts drawn on the server: pitch and loudness against the calm band, pace against
the calm range, the customer's anger across turns, a trainee's scores over time.

Drawn here rather than by a JavaScript chart library so the kiosk stays offline with no build
step, and the kiosk screen, the trainer pages and a report file opened from a USB stick show
the very same picture. Every chart carries a text description (``aria-label``) for screen
readers, and colours come from CSS classes so the page's stylesheet decides them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from analysis.delivery import PaceBand

WIDTH, HEIGHT = 560, 170
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 14, 28
"""Plot margins in SVG units: room for the y labels on the left and the x labels below."""


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


class _Frame:
    """Maps data coordinates onto the plot area."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1.0
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1.0

    def x(self, value: float) -> float:
        return LEFT + (value - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        return HEIGHT - BOTTOM - (value - self.y0) / (self.y1 - self.y0) * (HEIGHT - TOP - BOTTOM)


def _svg(label: str, body: list[str], css: str, width: int = WIDTH, height: int = HEIGHT) -> Markup:
    return Markup(
        f'<svg class="chart {css}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>{"".join(body)}</svg>'
    )


def _text(x: float, y: float, text: str, css: str = "axis-label", anchor: str = "middle") -> str:
    return f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(text)}</text>'


def _axes(
    f: _Frame,
    y_ticks: Sequence[float],
    x_ticks: Sequence[float],
    y_unit: str,
    x_unit: str,
    y_names: dict[float, str] | None = None,
) -> list[str]:
    out = [f'<line class="axis" x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}"/>']
    for t in y_ticks:
        y = f.y(t)
        out.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>')
        name = (y_names or {}).get(t, f"{_fmt(t)}{y_unit}")
        out.append(_text(LEFT - 5, y + 4, name, anchor="end"))
    for t in x_ticks:
        out.append(_text(f.x(t), HEIGHT - BOTTOM + 16, f"{_fmt(t)}{x_unit}", anchor=_edge(f.x(t))))
    return out


def _edge(x: float) -> str:
    """Anchor labels at the plot's ends inward, so they are not cut off by the frame."""
    if x <= LEFT + 10:
        return "start"
    return "end" if x >= WIDTH - RIGHT - 10 else "middle"


def _ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    raw = (hi - lo) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.ceil(lo / step) * step
    return [round(start + i * step, 6) for i in range(int((hi - start) / step) + 1)]


def _polylines(f: _Frame, xs: Sequence[float], ys: Sequence[float | None], css: str) -> list[str]:
    """One polyline per unbroken run: gaps (unvoiced, silent) stay gaps instead of false lines."""
    out, run = [], []
    for x, y in zip(xs, ys):
        if y is None or not math.isfinite(float(y)):
            if run:
                out.append(run)
            run = []
        else:
            run.append(f"{f.x(x):.1f},{f.y(float(y)):.1f}")
    if run:
        out.append(run)
    svg = []
    for points in out:
        if len(points) == 1:
            cx, cy = points[0].split(",")
            svg.append(f'<circle class="{css}" cx="{cx}" cy="{cy}" r="2.5"/>')
        else:
            svg.append(f'<polyline class="{css}" points="{" ".join(points)}"/>')
    return svg


def contour_chart(
    times_s: Sequence[float],
    values: Sequence[float | None],
    *,
    what: str,
    unit: str,
    band: tuple[float, float] | None,
    reference: float | None,
    ends: tuple[str, str] | None = None,
) -> Markup:
    """A measure over the answer (10 points a second) against the trainee's calm band.

    ``band`` is the range that still counts as calm, ``reference`` the calm value itself; both
    None when the trainee has no baseline yet, and the chart says so. ``ends`` names the bottom
    and top of the scale in words ("lower", "higher") instead of numbers: a trainee reads the
    line against the band, and hertz or decibels would only be jargon.
    """
    data = _finite(values)
    if not times_s or not data:
        return _svg(
            f"No {what} could be measured in this answer.",
            [_text(WIDTH / 2, HEIGHT / 2, f"no {what} measured")],
            "contour empty",
        )
    lo, hi = min(data), max(data)
    if band is not None:
        lo, hi = min(lo, band[0]), max(hi, band[1])
    pad = max((hi - lo) * 0.1, 1.0)
    f = _Frame((0.0, max(times_s[-1], 0.5)), (lo - pad, hi + pad))
    body = []
    if band is not None:
        top, bottom = f.y(band[1]), f.y(band[0])
        body.append(
            f'<rect class="calm-band" x="{LEFT}" y="{top:.1f}" width="{WIDTH - LEFT - RIGHT}" '
            f'height="{bottom - top:.1f}"/>'
        )
        body.append(_text(WIDTH - RIGHT - 4, top + 12, "your calm range", "band-label", "end"))
    if reference is not None:
        y = f.y(reference)
        body.append(f'<line class="calm-line" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>')
    y_ticks = _ticks(f.y0, f.y1)
    names = {t: "" for t in y_ticks} | {y_ticks[0]: ends[0], y_ticks[-1]: ends[1]} if ends and y_ticks else None
    body += _axes(f, y_ticks, _ticks(0.0, f.x1, 5), f" {unit}" if unit == "Hz" else "", " s", names)
    body += _polylines(f, times_s, values, "series")
    above = sum(1 for v in data if band is not None and v > band[1])
    if band is None:
        summary = f"no calm baseline to compare with yet (median {_fmt(sorted(data)[len(data) // 2])} {unit})"
    else:
        summary = (
            f"{round(100 * above / len(data))} % of the answer above your calm range "
            f"({_fmt(band[0])} to {_fmt(band[1])} {unit})"
        )
    return _svg(f"Your {what} over the answer: {summary}.", body, "contour")


def rate_chart(wpm: float | None, band: PaceBand, baseline_wpm: float | None = None) -> Markup:
    """Words per minute on a scale from hesitant to rushed, with the band the speak_slowly verdict
    passes shaded (``analysis.delivery.pace_band``): a dot outside it is the verdict's "needs
    work", so the picture cannot say otherwise than the words beside it."""
    f = _Frame((60.0, 220.0), (0.0, 1.0))
    y_top, y_bottom = TOP + 18, HEIGHT - BOTTOM - 40
    lo, hi = round(f.x(band.low_wpm), 1), round(f.x(min(band.high_wpm, 220.0)), 1)
    body = [
        f'<rect class="calm-band" x="{lo:.1f}" y="{y_top}" width="{hi - lo:.1f}" height="{y_bottom - y_top}"/>',
        _text((lo + hi) / 2, y_top - 5, "calm enough", "band-label"),
        f'<line class="axis" x1="{LEFT}" y1="{y_bottom}" x2="{WIDTH - RIGHT}" y2="{y_bottom}"/>',
    ]
    for t in range(60, 221, 20):
        body.append(_text(f.x(t), y_bottom + 16, str(t)))
    body.append(_text(LEFT, y_bottom + 32, "hesitant", "axis-label", "start"))
    body.append(_text(WIDTH - RIGHT, y_bottom + 32, "rushed", "axis-label", "end"))
    body.append(_text(WIDTH / 2, y_bottom + 32, "words per minute"))
    if baseline_wpm:
        x = f.x(min(max(baseline_wpm, 60.0), 220.0))
        body.append(f'<line class="calm-line" x1="{x:.1f}" y1="{y_top}" x2="{x:.1f}" y2="{y_bottom}"/>')
    if wpm is None or not math.isfinite(wpm):
        label = "Your pace could not be measured in this answer."
    else:
        x = f.x(min(max(wpm, 60.0), 220.0))
        body.append(f'<circle class="marker" cx="{x:.1f}" cy="{(y_top + y_bottom) / 2:.1f}" r="8"/>')
        body.append(
            _text(min(max(x, LEFT + 14), WIDTH - RIGHT - 14), (y_top + y_bottom) / 2 - 12, f"{wpm:.0f}", "value-label")
        )
        verdict = "rushed" if wpm > band.high_wpm else "calm enough"
        label = (
            f"Your pace: {wpm:.0f} words per minute, {verdict}; calm enough is {band.low_wpm:.0f} to "
            f"{band.high_wpm:.0f}" + (f", your own calm pace {baseline_wpm:.0f}" if baseline_wpm else "") + "."
        )
    return _svg(label, body, "rate")


def anger_chart(curve: Sequence[int], max_anger: int = 4) -> Markup:
    """The customer's anger at the start and after each answer."""
    if not curve:
        return _svg("No answers yet.", [_text(WIDTH / 2, HEIGHT / 2, "no answers yet")], "anger empty")
    f = _Frame((0.0, max(len(curve) - 1, 1)), (0.0, float(max_anger)))
    names = {0.0: "calm", float(max_anger): "furious"}
    body = _axes(f, [float(a) for a in range(max_anger + 1)], [], "", "", names)
    for i in range(len(curve)):
        body.append(_text(f.x(i), HEIGHT - BOTTOM + 16, "start" if i == 0 else f"answer {i}", anchor=_edge(f.x(i))))
    body += _polylines(f, range(len(curve)), curve, "series")
    body += [f'<circle class="marker" cx="{f.x(i):.1f}" cy="{f.y(a):.1f}" r="5"/>' for i, a in enumerate(curve)]
    label = "Customer anger, 0 calm to 4 furious: " + ", then ".join(str(a) for a in curve) + "."
    return _svg(label, body, "anger")


def progress_chart(points: Sequence[tuple[str, int | None]]) -> Markup:
    """Content scores of a trainee's sessions, oldest first; ``points`` are (date label, score)."""
    scored = [(label, s) for label, s in points if s is not None]
    if not scored:
        return _svg("No scored sessions yet.", [_text(WIDTH / 2, HEIGHT / 2, "no sessions yet")], "progress empty")
    f = _Frame((0.0, max(len(scored) - 1, 1)), (0.0, 100.0))
    body = _axes(f, [0.0, 25.0, 50.0, 75.0, 100.0], [], "", "")
    body.append(_text(f.x(0), HEIGHT - BOTTOM + 16, scored[0][0], anchor="start"))
    if len(scored) > 1:
        body.append(_text(f.x(len(scored) - 1), HEIGHT - BOTTOM + 16, scored[-1][0], anchor="end"))
    body += _polylines(f, range(len(scored)), [s for _, s in scored], "series")
    body += [f'<circle class="marker" cx="{f.x(i):.1f}" cy="{f.y(s):.1f}" r="4"/>' for i, (_, s) in enumerate(scored)]
    label = (
        f"Scores of {len(scored)} sessions, oldest first: " + ", ".join(str(s) for _, s in scored) + " (out of 100)."
    )
    return _svg(label, body, "progress")


CONV_WIDTH = 480
"""The conversation chart is drawn narrower than the others, so at the width the feedback gives
it (at most 760 px on a 1280 px screen, the whole width on a phone) its 15-unit labels stay
readable: at least 14 px on the kiosk screen, about 10 px on a 390 px phone."""
_LANE_LEFT = 78


def conversation_chart(
    curve: Sequence[int],
    answers: Sequence[dict],
    pace_band: tuple[float, float],
    pace_band_label: str,
    max_anger: int = 4,
) -> Markup:
    """One picture of the whole conversation: the customer's anger at the start and after each
    answer, and under it each answer's pace and voice against the calm band, on the same columns.

    ``answers`` holds per answer ``wpm`` (or None), ``pace_status``, ``voice`` (how far the voice
    rose against its own limit: 1.0 is the edge of calm, None when not judged) and
    ``voice_status``. Lanes say "calm", "rushed", "raised" in words; numbers are the markers' labels.
    """
    if not curve:
        return _svg(
            "No answers yet.",
            [_text(CONV_WIDTH / 2, 60, "no answers yet")],
            "conversation empty",
            width=CONV_WIDTH,
            height=120,
        )
    height = 340
    columns = max(len(curve) - 1, 1)
    right = 30

    def x(i: int) -> float:
        return _LANE_LEFT + 22 + i * (CONV_WIDTH - _LANE_LEFT - 22 - right) / columns

    body: list[str] = []
    # Anger: 0 (calm) at the bottom of its panel, max at the top.
    a_top, a_bottom = 34.0, 120.0

    def ay(a: float) -> float:
        return a_bottom - a / max_anger * (a_bottom - a_top)

    body.append(_text(8, 18, "Customer's anger", "lane-title", "start"))
    for a, name in ((0, "calm"), (2, "upset"), (max_anger, "furious")):
        body.append(f'<line class="grid" x1="{_LANE_LEFT}" y1="{ay(a):.1f}" x2="{CONV_WIDTH - 8}" y2="{ay(a):.1f}"/>')
        body.append(_text(_LANE_LEFT - 6, ay(a) + 5, name, "lane-label", "end"))
    points = " ".join(f"{x(i):.1f},{ay(a):.1f}" for i, a in enumerate(curve))
    body.append(f'<polyline class="series anger-line" points="{points}"/>')
    body += [
        f'<circle class="marker anger-marker" cx="{x(i):.1f}" cy="{ay(a):.1f}" r="6"/>' for i, a in enumerate(curve)
    ]

    # Pace: a lane from slow to rushed with the calm band shaded; each answer's words a minute.
    p_top, p_bottom = 192.0, 240.0
    p_lo, p_hi = min(60.0, pace_band[0] - 30), max(220.0, pace_band[1] + 30)

    def py(wpm: float) -> float:
        w = min(max(wpm, p_lo), p_hi)
        return p_bottom - (w - p_lo) / (p_hi - p_lo) * (p_bottom - p_top)

    body.append(_text(8, p_top - 34, "Your pace (words a minute)", "lane-title", "start"))
    body.append(
        f'<rect class="calm-band" x="{_LANE_LEFT}" y="{py(pace_band[1]):.1f}" '
        f'width="{CONV_WIDTH - 8 - _LANE_LEFT}" height="{py(pace_band[0]) - py(pace_band[1]):.1f}"/>'
    )
    body.append(_text(_LANE_LEFT - 6, py(p_hi) + 6, "rushed", "lane-label", "end"))
    body.append(_text(_LANE_LEFT - 6, py(sum(pace_band) / 2) + 5, "calm", "lane-label calm-text", "end"))
    body.append(_text(_LANE_LEFT - 6, py(p_lo), "slow", "lane-label", "end"))
    # Voice: how far it rose against its own limit; the band is calm (up to the limit).
    v_top, v_bottom, v_lo, v_hi = 290.0, 318.0, -1.0, 2.0

    def vy(v: float) -> float:
        v = min(max(v, v_lo), v_hi)
        return v_bottom - (v - v_lo) / (v_hi - v_lo) * (v_bottom - v_top)

    body.append(_text(8, v_top - 20, "Your voice", "lane-title", "start"))
    judged = [a for a in answers if a.get("voice") is not None]
    if judged:
        body.append(
            f'<rect class="calm-band" x="{_LANE_LEFT}" y="{vy(1.0):.1f}" '
            f'width="{CONV_WIDTH - 8 - _LANE_LEFT}" height="{vy(v_lo) - vy(1.0):.1f}"/>'
        )
        body.append(_text(_LANE_LEFT - 6, vy(v_hi) + 6, "raised", "lane-label", "end"))
        body.append(_text(_LANE_LEFT - 6, vy(0.0) + 5, "calm", "lane-label calm-text", "end"))
    else:
        body.append(
            _text(
                (_LANE_LEFT + CONV_WIDTH) / 2,
                (v_top + v_bottom) / 2 + 5,
                "not judged: no calm voice recorded",
                "lane-label",
            )
        )
    for i, a in enumerate(answers, start=1):
        if i >= len(curve):
            break
        wpm = a.get("wpm")
        if isinstance(wpm, (int, float)) and math.isfinite(wpm):
            cls = f"marker status-{escape(a.get('pace_status') or 'unknown')}"
            body.append(f'<circle class="{cls}" cx="{x(i):.1f}" cy="{py(wpm):.1f}" r="7"/>')
            last = i == len(curve) - 1  # above its marker; the last one leans left, off the edge
            body.append(
                _text(
                    x(i) + 8 if last else x(i),
                    py(wpm) - 12,
                    f"{wpm:.0f}/min",
                    "value-label",
                    "end" if last else "middle",
                )
            )
        if a.get("voice") is not None:
            cls = f"marker status-{escape(a.get('voice_status') or 'unknown')}"
            body.append(f'<circle class="{cls}" cx="{x(i):.1f}" cy="{vy(a["voice"]):.1f}" r="7"/>')
    for i in range(len(curve)):
        name = "start" if i == 0 else (f"answer {i}" if len(curve) <= 4 else str(i))
        anchor = "start" if i == 0 else ("end" if i == len(curve) - 1 else "middle")
        body.append(_text(x(i) + (12 if anchor == "end" else 0), height - 6, name, "lane-label", anchor))
    paces = [f"{a['wpm']:.0f}" for a in answers if isinstance(a.get("wpm"), (int, float))]
    label = (
        "Customer anger, 0 calm to 4 furious: "
        + ", then ".join(str(a) for a in curve)
        + ". "
        + (f"Your pace in words per minute: {', '.join(paces)} ({pace_band_label}). " if paces else "")
        + (
            "Your voice: "
            + ", ".join(
                {"pass": "calm", "needs_work": "raised"}.get(a.get("voice_status"), "not judged") for a in answers
            )
            + "."
            if judged
            else "Your voice was not judged: no calm voice recorded."
        )
    )
    return _svg(label, body, "conversation", width=CONV_WIDTH, height=height)
