"""A trainee's practice history as a report (HTML + Markdown) and everyone's turns as CSV.

Built from the store only, so a trainer can write a report for anyone who ever practised at a
kiosk of the chain, with no audio and no engine loaded.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from kiosk import plain
from kiosk.report import environment, render_markdown, render_page_html, render_session_html, write_text_atomic
from kiosk.store import SessionSummary, Store, Trainee, UnknownTrainee
from scenarios.guide import load_guide
from scenarios.rubric import item_names

CSV_FIELDS = (
    "trainee",
    "session",
    "started_at",
    "scenario",
    "round",
    "turn",
    "score",
    "anger_before",
    "anger_after",
    "ending",
    "wpm",
    "median_f0_hz",
    "level_db",
    "speak_slowly",
    "lower_voice",
    "to_work_on",
    "transcript",
    "tips",
)
"""The fixed columns; after them one column per rubric item (its trainee-facing name): from the
session's scorecard when it has one, "yes" when the conversation had earned the item by this
answer or, for a penalty, this answer did it; without one, what this answer said; "no" when not,
empty where the item did not apply.
Values are words a spreadsheet reader understands ("needs work", "walked out"), numbers bare
with the unit in the column name; `to_work_on` names the guide rules the answer went against."""


@dataclass(frozen=True)
class History:
    trainee: Trainee
    summaries: tuple[SessionSummary, ...]
    """Newest first."""
    sessions: tuple[dict, ...]
    """Full reports of the newest sessions (as many as asked for)."""

    @property
    def progress(self) -> list[tuple[str, int | None]]:
        """(date, score) per session, oldest first, for the progress chart."""
        return [(s.started_at.strftime("%d %b"), s.score) for s in reversed(self.summaries)]


def load_history(store: Store, name_or_id: str | int, last: int = 5) -> History:
    trainee = store.trainee(name_or_id) if isinstance(name_or_id, int) else store.find_trainee(name_or_id)
    if trainee is None:
        raise UnknownTrainee(name_or_id)
    summaries = tuple(store.sessions(trainee.id))
    reports = tuple(store.session_report(s.id) for s in summaries[: max(0, last)])
    return History(trainee, summaries, reports)


def render_history_html(history: History, link=None) -> Markup:
    """The history fragment (baseline, progress chart, sessions table); ``link`` maps a session
    id to a URL on the trainer pages."""
    return Markup(
        environment()
        .get_template("_history.html")
        .render(t=history.trainee, summaries=history.summaries, progress=history.progress, link=link)
    )


def render_history_page(history: History) -> str:
    body = render_history_html(history) + Markup("").join(render_session_html(s) for s in history.sessions)
    return render_page_html(f"Practice history: {history.trainee.name}", body)


def render_history_markdown(history: History) -> str:
    t = history.trainee
    out = [f"# Practice history: {_md(t.name)}", ""]
    if t.baseline:
        out.append(
            f"Calm baseline: pitch {t.baseline.median_f0_hz:.0f} Hz, level {t.baseline.level_db:.1f} dBFS, "
            f"pace {t.baseline.wpm:.0f} words/min."
        )
    else:
        out.append("Calm baseline: not measured yet.")
    out += ["", "| when | scenario | answers | score | ending | final anger |", "| --- | --- | --- | --- | --- | --- |"]
    for s in history.summaries:
        out.append(
            f"| {s.started_at:%Y-%m-%d %H:%M} | {_md(s.scenario_title)} | {s.turns} | "
            f"{'–' if s.score is None else s.score} | {plain.ending_words(s.ending, s.round_id)} | "
            f"{'–' if s.final_anger is None else s.final_anger} |"
        )
    if not history.summaries:
        out.append("| – | no practice yet | | | | |")
    for session in history.sessions:
        out += ["", render_markdown(session, level=2).rstrip()]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    """Names go into tables: a | or a newline would break the row."""
    return " ".join(str(text).split()).replace("|", "\\|")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:40] or "trainee"


def write_history(history: History, out_dir: Path) -> tuple[Path, Path]:
    html = write_text_atomic(out_dir / "report.html", render_history_page(history))
    md = write_text_atomic(out_dir / "report.md", render_history_markdown(history))
    return html, md


def _cell(value: object) -> object:
    """Spreadsheets run cells starting with = + - @ as formulas: a name like "=HYPERLINK(...)"
    must stay text (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _earned(data: dict, card: dict | None, turn: int) -> dict[str, str]:
    """Rubric item id -> "yes"/"no" for one stored answer (0-based ``turn``): what the answer said
    (its content findings), and for items, when the session has a scorecard, whether the
    conversation had earned them by this answer."""
    content = data.get("content") or {}
    out = {f["id"]: "yes" if f.get("hit") else "no" for f in (*content.get("items", []), *content.get("penalties", []))}
    if card:
        out.update(
            {
                i["id"]: "yes" if i.get("earned") and (i.get("turn") or 0) <= turn else "no"
                for i in card.get("items", [])
            }
        )
    return out


def to_work_on(turn: dict) -> str:
    """The guide rules a turn went against (penalties it cost, delivery verdicts that need work),
    by name and group, once each: what a trainer reads in a spreadsheet column."""
    guide = load_guide()
    content, delivery = turn.get("content") or {}, turn.get("delivery") or {}
    cited = [f.get("source") for f in content.get("penalties") or [] if f.get("hit")]
    cited += [v.get("source") for v in delivery.values() if isinstance(v, dict) and v.get("status") == "needs_work"]
    return "; ".join(dict.fromkeys(guide.citation(rule) for rule in cited if rule))


def export_csv(store: Store) -> str:
    items = list(item_names().items())
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([*CSV_FIELDS, *(name for _, name in items)])
    for row in store.export_turns():
        data = row.pop("data") or {}
        d = data.get("delivery") or {}
        earned = _earned(data, row.pop("scorecard", None), row["turn"] - 1)
        row.update(
            wpm=d.get("wpm"),
            median_f0_hz=d.get("median_f0_hz"),
            level_db=d.get("level_db"),
            speak_slowly=plain.status_words((d.get("speak_slowly") or {}).get("status")),
            lower_voice=plain.status_words((d.get("lower_voice") or {}).get("status")),
            ending=plain.ending_words(row.get("ending"), row.get("round")),
            to_work_on=to_work_on(data),
            tips=" | ".join(plain.unmarked(plain.tip_text(t.get("text", ""))) for t in row.get("tips") or []),
        )
        writer.writerow(
            [_cell("" if row.get(k) is None else row.get(k)) for k in CSV_FIELDS]
            + [earned.get(item_id, "") for item_id, _ in items]
        )
    return buf.getvalue()
