"""Session reports as JSON (for machines) and Markdown (for people), written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from kiosk.session import SessionResult

GUIDE_TITLES = {
    "000": "How to handle a difficult customer situation (six steps, worked cases)",
    "001": "Dos and don'ts of managing difficult customers",
    "002": "Advanced techniques for difficult customer situations",
    "003": "How to defuse a situation with a difficult customer (12 steps)",
    "004": "Handling difficult customers: interview framing",
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


def _fmt(value: object, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.1f}{unit}"
    return f"{value}{unit}"


def render_markdown(result: SessionResult) -> str:
    out = [f"# Practice report: {result.scenario_title}", "",
           f"- Scenario: `{result.scenario_id}`",
           f"- Ending: **{result.ending or 'stopped early'}**",
           f"- Content score: **{result.score}/100**",
           f"- Customer anger: {' → '.join(str(a) for a in result.anger_curve)} (0 calm, 4 furious)", ""]
    out += ["## Tips", ""]
    if not result.tips:
        out.append("Nothing to fix this time: well done.")
    for n, tip in enumerate(result.tips, 1):
        out.append(f"{n}. {tip.text} *(guide {tip.source})*")
    for turn in result.turns:
        a, d = turn.analysis, turn.analysis.delivery
        out += ["", f"## Turn {turn.index + 1}", "",
                f"**Customer** (anger {turn.customer.anger}): {turn.customer.text}", "",
                f"**You**: {a.transcript.text}", "",
                "| measure | value |", "| --- | --- |",
                f"| speaking rate | {_fmt(d.wpm, ' wpm')} |",
                f"| median pitch | {_fmt(d.median_f0_hz, ' Hz')} |",
                f"| level | {_fmt(d.level_db, ' dBFS')} |",
                f"| pauses | {d.pause_count} ({_fmt(d.pause_total_s, ' s')}) |",
                f"| fillers | {', '.join(d.fillers) or 'none'} |"]
        for v in (d.speak_slowly, d.lower_voice):
            if v is not None:
                out.append(f"| {v.id.replace('_', ' ')} | {v.status.replace('_', ' ')}: {v.detail} |")
        out += ["", f"Content score {a.content.score}/100:", ""]
        for f in a.content.items:
            quote = f" — “{f.evidence[0].quote}”" if f.evidence else ""
            out.append(f"- {'✔' if f.hit else '✘'} {f.id} ({f.points:g}/{f.max_points:g}, guide {f.source}){quote}")
        for f in a.content.penalties:
            if f.hit:
                out.append(f"- ⚠ {f.id} ({f.points:g}, guide {f.source}) — “{f.evidence[0].quote}”")
        r = turn.reaction
        out += ["", f"**Customer reacts** (anger {r.anger_before} → {r.anger_after}): {r.line}"]
        if r.reasons:
            out.append(f"*Why: {'; '.join(r.reasons)}*")
    out += ["", "## Guides cited", ""]
    cited = sorted({t.source for t in result.tips} | {f.source for t in result.turns
                                                          for f in t.analysis.content.items})
    out += [f"- {g}: {GUIDE_TITLES.get(g, g)}" for g in cited]
    return "\n".join(out) + "\n"


def write_reports(result: SessionResult, out_dir: Path) -> tuple[Path, Path]:
    json_path = write_text_atomic(out_dir / "report.json", json.dumps(result.to_dict(), indent=2) + "\n")
    md_path = write_text_atomic(out_dir / "report.md", render_markdown(result))
    return json_path, md_path
