"""Session reports as JSON (for machines), Markdown and HTML (for people), written atomically.

Reports are rendered from the session's JSON form (``SessionResult.to_dict()``, which is also
what the store keeps), so a report written at the end of a session and one rebuilt months later
from the database are the same report. HTML goes through Jinja2 with autoescaping: a trainee's
name or a transcript can never become markup. Charts are inline SVG (kiosk.plots). Guide rules
are cited by name and group ("Apologise for what went wrong — Defusing, step 5"), never by id or
file number; the HTML opens a rule's text on a tap, the Markdown lists the rules cited with theirs.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from jinja2 import ChainableUndefined, Environment, FileSystemLoader
from markupsafe import Markup

from analysis.delivery import EFFORT_DB, HIGHER_ST, LOUDER_DB, Baseline, pace_band
from kiosk import plain, plots
from kiosk.session import SessionResult
from scenarios.guide import load_guide

TEMPLATES_DIR = Path(__file__).with_name("templates")
REPORT_CSS = TEMPLATES_DIR / "report.css"

ENDINGS = {
    "resolved": "Resolved: the customer accepted your offer",
    "escalated": "Escalated to a supervisor or security",
    "walked_out": "The customer walked out",
    "incomplete": "Interrupted: the kiosk stopped during this session",
    None: "Stopped before the end",
}


def write_text_atomic(path: Path, text: str) -> Path:
    """Write a whole file or nothing: a full disk never leaves a truncated report behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def session_dict(result: SessionResult | dict, baseline: Baseline | dict | None = None) -> dict:
    """The JSON form of a session, with the calm baseline it was judged against (for the charts)."""
    data = result.to_dict() if isinstance(result, SessionResult) else dict(result)
    if baseline is not None:
        data["baseline"] = baseline.to_dict() if isinstance(baseline, Baseline) else baseline
    return data


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def turn_charts(turn: dict, baseline: dict | None) -> dict[str, Markup]:
    """Pitch and loudness over the answer against the calm band, and pace against the calm range.

    The bands are the thresholds the delivery verdicts use (analysis.delivery), so the picture
    and the verdict cannot disagree.
    """
    d = turn.get("delivery") or {}
    times = d.get("contour_times_s") or []
    f0_ref = _number((baseline or {}).get("median_f0_hz"))
    level_ref = _number((baseline or {}).get("level_db"))
    f0_band = (f0_ref * 2 ** (-HIGHER_ST / 12), f0_ref * 2 ** (HIGHER_ST / 12)) if f0_ref else None
    level_band = (level_ref - LOUDER_DB, level_ref + LOUDER_DB) if level_ref is not None else None
    return {
        "pitch": plots.contour_chart(
            times,
            d.get("f0_contour_hz") or [],
            what="pitch",
            unit="Hz",
            band=f0_band,
            reference=f0_ref,
            ends=("lower", "higher"),
        ),
        "level": plots.contour_chart(
            times,
            d.get("level_contour_db") or [],
            what="loudness",
            unit="dBFS",
            band=level_band,
            reference=level_ref,
            ends=("quieter", "louder"),
        ),
        "rate": plots.rate_chart(
            _number(d.get("wpm")), pace_band(_number((baseline or {}).get("wpm"))), _number((baseline or {}).get("wpm"))
        ),
    }


def voice_rise(delivery: dict) -> float | None:
    """How far the voice rose, as a fraction of the limit the verdict allows (1.0 = the edge of
    calm): the largest of pitch, level and strain over their limits (analysis.delivery), so the
    conversation chart's calm band is the verdict's. None when the voice was not judged."""
    v = (delivery.get("lower_voice") or {}).get("status")
    if v not in ("pass", "needs_work"):
        return None
    parts = [
        delivery.get(k) / limit
        for k, limit in (("f0_delta_st", HIGHER_ST), ("level_delta_db", LOUDER_DB), ("balance_delta_db", EFFORT_DB))
        if _number(delivery.get(k)) is not None
    ]
    rise = max(parts) if parts else 0.0
    # A trend or an overloaded microphone also fails the verdict: the marker must be above the band.
    return max(rise, 1.3) if v == "needs_work" else min(rise, 1.0)


def conversation_chart(session: dict) -> Markup:
    """The feedback's one chart: anger across the conversation, each answer's pace and voice."""
    baseline_wpm = _number((session.get("baseline") or {}).get("wpm"))
    pace = pace_band(baseline_wpm)  # the band the speak_slowly verdict passes
    band = (pace.low_wpm, pace.high_wpm)
    label = f"{'calm for you' if baseline_wpm else 'calm enough'}: {band[0]:.0f} to {band[1]:.0f}"
    answers = []
    for turn in session.get("turns") or []:
        d = turn.get("delivery") or {}
        answers.append(
            {
                "wpm": _number(d.get("wpm")),
                "pace_status": (d.get("speak_slowly") or {}).get("status"),
                "voice": voice_rise(d),
                "voice_status": (d.get("lower_voice") or {}).get("status"),
            }
        )
    return plots.conversation_chart(session.get("anger_curve") or [], answers, band, label)


def tip_rule(tip: dict) -> str:
    """The guide rule a tip cites: ``rule``, or ``source`` in sessions stored before tips had one."""
    return str(tip.get("rule") or tip.get("source") or "")


def tip_citation(tip: dict) -> str:
    return tip.get("citation") or load_guide().citation(tip_rule(tip))


def _fmt(value: object, unit: str = "", nd: int = 1) -> str:
    number = _number(value)
    if number is None:
        return "n/a"
    return f"{number:.{nd}f}{unit}" if isinstance(value, float) else f"{value}{unit}"


@lru_cache(maxsize=4)
def environment(*extra_dirs: Path) -> Environment:
    """Jinja2 with autoescaping on everything; unknown fields render empty rather than crash
    (other engineers add fields to the results while the reports stay put)."""
    env = Environment(
        loader=FileSystemLoader([*map(str, extra_dirs), str(TEMPLATES_DIR)]),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=ChainableUndefined,
    )
    env.globals.update(
        turn_charts=turn_charts,
        anger_chart=plots.anger_chart,
        progress_chart=plots.progress_chart,
        guide=load_guide(),
        endings=ENDINGS,
        fmt=_fmt,
        conversation_chart=conversation_chart,
        plain=plain,
    )
    env.filters["words"] = lambda s: str(s).replace("_", " ")
    env.filters["markdown"] = plain.markdown
    env.filters["reason"] = plain.reason
    return env


def render_session_html(session: dict, audio: dict | None = None, model_answer: str | None = None) -> Markup:
    """The session as an HTML fragment (the kiosk's feedback screen, a trainer's session page).

    ``audio`` may map "answers" to a list of URLs per turn (None where there is nothing to play),
    "model" to the model answer's URL and "download" to True when the answers may be saved (the
    trainer's kept recordings). ``model_answer`` is the scenario's model answer in words, shown
    beside its play button because a noisy shop floor may not hear it.
    """
    return Markup(
        environment().get_template("_session.html").render(s=session, audio=audio or {}, model_answer=model_answer)
    )


def render_page_html(title: str, body: Markup) -> str:
    """A standalone page: styles inlined, nothing fetched, so it opens offline from any folder."""
    return (
        environment()
        .get_template("report_page.html")
        .render(title=title, body=body, css=Markup(REPORT_CSS.read_text(encoding="utf-8")))
    )


def render_markdown(session: SessionResult | dict, level: int = 1) -> str:
    s = session_dict(session)
    h = "#" * level
    out = [
        f"{h} Practice report: {s.get('scenario_title', '')}",
        "",
        f"- Scenario: `{s.get('scenario_id', '')}`",
        f"- Ending: **{s.get('ending') or 'stopped early'}**",
        f"- Score: **{s.get('score', 0)}/100** (the whole conversation)",
        f"- Customer anger: {' → '.join(str(a) for a in s.get('anger_curve', []))} (0 calm, 4 furious)",
    ]
    if s.get("trainee"):
        out.insert(2, f"- Trainee: {s['trainee'].get('name', '')}")
    if s.get("started_at"):
        out.insert(2, f"- Started: {s['started_at']}")
    out += ["", f"{h}# Tips", ""]
    if not s.get("tips"):
        out.append("Nothing to fix this time: well done.")
    for n, tip in enumerate(s.get("tips", []), 1):
        quote = tip.get("quote")
        quoted = f" (you said “{quote}”)" if quote and quote not in tip.get("text", "") else ""
        out.append(f"{n}. {tip.get('text', '')}{quoted} *({tip_citation(tip)})*")
    out += _scorecard_markdown(s.get("scorecard") or {}, h)
    for turn in s.get("turns", []):
        out += _turn_markdown(turn, h)
    out += _rules_markdown(s, h)
    return "\n".join(out) + "\n"


def _rules_markdown(s: dict, h: str) -> list[str]:
    """The guide rules the tips cite, each with its text: a printed report has no tap to open one."""
    guide = load_guide()
    cited = dict.fromkeys(tip_rule(t) for t in s.get("tips", []))
    if not any(cited):
        return []
    out = ["", f"{h}# Guide rules cited", ""]
    for rule in filter(None, cited):
        text = guide.text(rule)
        out.append(f"- **{guide.citation(rule)}**" + (f": {text}" if text else ""))
    return out


def _scorecard_markdown(card: dict, h: str) -> list[str]:
    """The conversation's goals with the answer and words that met each, then the penalties."""
    if not card:
        return []
    out = ["", f"{h}# Scorecard", ""]
    for g in card.get("goals", []):
        if not g.get("called_for"):
            continue
        if g.get("met"):
            out.append(
                f"- ✔ {g.get('name')}: answer {g.get('turn', 0) + 1}, “{g.get('quote', '')}” "
                f"({g.get('points', 0):g}/{g.get('max_points', 0):g})"
            )
        else:
            out.append(f"- ✘ {g.get('name')}: not yet (0/{g.get('max_points', 0):g})")
    for p in card.get("penalties", []):
        out.append(
            f"- ⚠ {plain.item_name(p.get('id', ''))}: answer {p.get('turn', 0) + 1}, "
            f"“{p.get('quote', '')}” (−{p.get('points', 0):g})"
        )
    return out


def _card_markdown(card: dict) -> list[str]:
    """What one answer added to the conversation and what it broke."""
    out = ["", "What this answer did:", ""]
    for c in card.get("added", []):
        out.append(f"- ✔ {plain.item_name(c.get('id', ''))}: “{c.get('quote', '')}”")
    for p in card.get("broke", []):
        out.append(f"- ⚠ {plain.item_name(p.get('id', ''))}: “{p.get('quote', '')}” (−{p.get('points', 0):g})")
    if not card.get("added") and not card.get("broke"):
        out.append("- nothing new")
    return out


def _turn_markdown(turn: dict, h: str) -> list[str]:
    d = turn.get("delivery") or {}
    customer = turn.get("customer") or {}
    out = [
        "",
        f"{h}# Turn {turn.get('index', 0) + 1}",
        "",
        f"**Customer** (anger {customer.get('anger', '?')}): {customer.get('text', '')}",
        "",
        f"**You**: {(turn.get('transcript') or {}).get('text', '')}",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| speaking rate | {_fmt(d.get('wpm'), ' wpm')} |",
        f"| median pitch | {_fmt(d.get('median_f0_hz'), ' Hz')} |",
        f"| level | {_fmt(d.get('level_db'), ' dBFS')} |",
        f"| pauses | {d.get('pause_count', 0)} ({_fmt(d.get('pause_total_s'), ' s')}) |",
        f"| fillers | {', '.join(d.get('fillers') or []) or 'none'} |",
    ]
    out.append(f"| pace | {plain.pace(d)} |")
    out.append(f"| voice | {plain.voice(d)} |")
    if turn.get("card"):
        out += _card_markdown(turn["card"])
    r = turn.get("reaction") or {}
    out += ["", f"**Customer reacts** (anger {r.get('anger_before')} → {r.get('anger_after')}): {r.get('line', '')}"]
    if r.get("reasons"):
        out.append(f"*Why: the customer {'; '.join(map(plain.reason, r['reasons']))}.*")
    return out


def write_reports(result: SessionResult, out_dir: Path, baseline: Baseline | None = None) -> tuple[Path, Path]:
    """report.json, report.md and report.html in ``out_dir``; returns the JSON and Markdown paths."""
    data = session_dict(result, baseline)
    json_path = write_text_atomic(out_dir / "report.json", json.dumps(result.to_dict(), indent=2) + "\n")
    md_path = write_text_atomic(out_dir / "report.md", render_markdown(data))
    write_text_atomic(
        out_dir / "report.html",
        render_page_html(f"Practice report: {data.get('scenario_title', '')}", render_session_html(data)),
    )
    return json_path, md_path
