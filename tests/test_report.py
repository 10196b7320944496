"""Reports: a real judged session as Markdown and HTML (inline SVG charts), escaping, the trainee
history written by `kiosk report`, and the CSV export."""

import copy
import csv
import io
import json
import re

from markupsafe import escape

from conftest import run_kiosk
from kiosk.history import export_csv, load_history, render_history_markdown, render_history_page
from analysis.delivery import pace_band
from kiosk.plots import anger_chart, contour_chart, rate_chart
from kiosk.report import (
    render_markdown,
    render_page_html,
    render_session_html,
    session_dict,
    tip_citation,
    write_reports,
)
from kiosk.store import Store
from scenarios.guide import load_guide
from scenarios.rubric import item_names

XSS = "<script>alert('x')</script>"


def test_session_report_has_tips_charts_and_quotes(judged_session, tmp_path):
    result, baseline = judged_session
    json_path, md_path = write_reports(result, tmp_path, baseline)
    html = (tmp_path / "report.html").read_text()
    md = md_path.read_text()
    report = json.loads(json_path.read_text())
    # A good first answer leaves nothing to fix yet, and the report says so.
    assert result.tips == () and "Nothing to fix this time" in md
    # A trainee reads words: no rubric id, verdict code, raw Markdown or guide file number.
    visible = re.sub(r"<[^>]+>", " ", html.split("</style>")[1])
    assert not re.search(r"guide \d{3}|\*\w+\*", visible, re.I)
    assert not {w for w in re.findall(r"\w+", visible) if "_" in w}, "an id on screen"
    assert "you said sorry" in visible.lower()
    # The trainee's words are quoted where they earned points.
    turn = result.turns[0]
    hits = [f for f in turn.analysis.content.items if f.hit]
    assert hits and all(f"“{f.evidence[0].quote}”" in md for f in hits)
    # Pitch and loudness against the calm band, pace against the band its verdict used, the anger curve.
    assert html.count('class="chart contour"') == 2 and html.count('class="calm-band"') >= 3
    assert 'class="chart rate"' in html and 'class="chart conversation"' in html
    assert "calm enough is 100 to " in html
    # Every answer's details are folded below the one-screen summary.
    assert html.count('<details class="turn">') == len(result.turns)
    # Charts describe themselves in words, with the numbers of this answer.
    assert f"{round(turn.analysis.delivery.wpm)} words per minute" in html
    curve = ", then ".join(str(a) for a in result.anger_curve)
    assert f"0 calm to 4 furious: {curve}." in html
    # Standalone: styles inlined, nothing fetched from anywhere.
    assert "<style>" in html and not re.search(r'(src|href)="(https?:)?//', html)
    assert report["scenario_id"] == "late-delivery"


def test_every_tip_is_in_both_reports_with_its_guide(engines, judged_session, tmp_path):
    """A weak answer to the same customer, with the real answer's measured delivery."""
    from analysis.content import score_content, typed_transcript
    from analysis.turn import TurnAnalysis
    from kiosk.session import PracticeSession
    from scenarios.library import load_library

    result, baseline = judged_session
    scenario = load_library().get("late-delivery")
    session = PracticeSession(scenario, engines, baseline)
    transcript = typed_transcript("Okay. Is there anything else?")
    session.react(
        TurnAnalysis(
            transcript,
            result.turns[0].analysis.delivery,
            score_content(transcript, engines.rubric, scenario.scoring_context()),
        )
    )
    weak = session.result()
    _, md_path = write_reports(weak, tmp_path, baseline)
    md, html = md_path.read_text(), (tmp_path / "report.html").read_text()
    assert 1 <= len(weak.tips) <= 3
    for tip in weak.tips:  # cited by the guide rule's name; a tap on it opens the rule's text
        citation = tip_citation(tip.to_dict())
        assert " \u2014 " in citation and f"*({citation})*" in md
        assert f"<summary>{escape(citation)}</summary>" in html
        assert tip.example is None or tip.example in scenario.model_answer
    assert not re.search(r"guide 0|(?<![\d.])00[0-4](?![\d.])", md + re.sub(r"<svg.*?</svg>", "", html, flags=re.S))


def test_names_and_transcripts_are_escaped_everywhere(judged_session):
    result, baseline = judged_session
    data = copy.deepcopy(session_dict(result, baseline))
    data["trainee"] = {"name": XSS}
    data["turns"][0]["transcript"]["text"] = f"I said {XSS} and <b>meant</b> it"
    data["tips"] = [{"id": "x", "text": "Say sorry", "quote": "<img src=x onerror=alert(1)>", "source": "003"}]
    html = render_page_html(XSS, render_session_html(data))
    assert "<script>" not in html and "<img" not in html and "<b>meant" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "&lt;b&gt;meant&lt;/b&gt;" in html


def test_charts_show_gaps_bands_and_missing_baselines():
    times = [0.05, 0.15, 0.25, 0.35, 0.45, 0.55]
    f0 = [100.0, 104.0, None, None, 150.0, 152.0]  # a pause, then a raised voice
    svg = contour_chart(times, f0, what="pitch", unit="Hz", band=(89.1, 112.2), reference=100.0)
    assert svg.count("<polyline") == 2  # the unvoiced gap is not bridged
    assert "50 % of the answer above your calm range" in svg
    bare = contour_chart(times, f0, what="pitch", unit="Hz", band=None, reference=None)
    assert "calm-band" not in bare and "no calm baseline" in bare
    assert "No pitch could be measured" in contour_chart(
        times, [None] * 6, what="pitch", unit="Hz", band=None, reference=None
    )
    assert "could not be measured" in rate_chart(None, pace_band(None))
    assert anger_chart([3, 2, 1]).count('class="marker"') == 3


def test_kiosk_report_writes_a_trainees_history(judged_session, tmp_path):
    result, baseline = judged_session
    data_dir = tmp_path / "data"
    store = Store.open(f"sqlite:///{data_dir / 'kiosk.db'}")
    ana, _ = store.find_or_create_trainee(f"Ana {XSS}")
    store.set_baseline(ana.id, baseline)
    for _ in range(2):
        sid = store.start_session(ana.id, result.scenario_id, result.scenario_title, baseline)
        store.add_turn(sid, result.turns[0].to_dict())
        store.finish_session(sid, result.to_dict())
    history = load_history(store, f"ana {XSS}")
    assert len(history.summaries) == 2 and len(history.progress) == 2
    page = render_history_page(history)
    assert "<script>alert" not in page and 'class="chart progress"' in page
    assert render_history_markdown(history).count("## Practice report") == 2
    store.close()

    out = tmp_path / "out"
    env = {"KIOSK_DATA_DIR": str(data_dir)}
    done = run_kiosk("report", f"ana {XSS}", "--last", "1", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    html, md = (out / "report.html").read_text(), (out / "report.md").read_text()
    assert html.count('class="report-session"') == 1 and md.count("## Practice report") == 1
    assert result.turns[0].analysis.transcript.text in md
    missing = run_kiosk("report", "Nobody", env=env)
    assert missing.returncode == 2 and missing.stderr.startswith("error: no trainee called 'Nobody'")
    assert missing.stderr.count("\n") == 1


def test_csv_export_keeps_formulas_out_of_spreadsheets(judged_session, tmp_path):
    result, _ = judged_session
    store = Store.open(f"sqlite:///{tmp_path / 'k.db'}")
    t, _ = store.find_or_create_trainee('=HYPERLINK("http://x")')
    sid = store.start_session(t.id, result.scenario_id, result.scenario_title)
    store.add_turn(sid, result.turns[0].to_dict())
    rows = list(csv.DictReader(io.StringIO(export_csv(store))))
    assert len(rows) == 1
    assert rows[0]["trainee"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["transcript"] == result.turns[0].analysis.transcript.text
    assert float(rows[0]["wpm"]) == result.turns[0].analysis.delivery.wpm
    assert rows[0]["speak_slowly"] in ("calm", "needs work", "not judged")
    # The guide rules the answer went against, by name: what a trainer can act on.
    analysis, guide = result.turns[0].analysis, load_guide()
    d = analysis.delivery
    went_against = {guide.citation(f.source) for f in analysis.content.penalties if f.hit}
    went_against |= {
        guide.citation(v.source)
        for v in (d.speak_slowly, d.lower_voice, d.mirroring)
        if v is not None and v.status == "needs_work"
    }
    assert set(filter(None, rows[0]["to_work_on"].split("; "))) == went_against
    # Never an empty ending (this session was left open), one column per rubric item.
    assert rows[0]["ending"] == "stopped before the end"
    hits = {f.id for f in result.turns[0].analysis.content.items if f.hit}
    names = item_names()
    assert {rows[0][names[i]] for i in hits} == {"yes"}
    assert all(rows[0][names[i]] in ("yes", "no", "") for i in names)
    # Once the session is finished its scorecard says what the conversation had earned by then.
    store.finish_session(sid, result.to_dict())
    [row] = list(csv.DictReader(io.StringIO(export_csv(store))))
    card = result.scorecard
    assert {row[names[i.id]] for i in card.items if i.earned and i.turn == 0} == {"yes"}
    assert {row[names[i.id]] for i in card.items if not i.earned} <= {"no"}
    store.close()


def test_markdown_of_a_session_without_answers_or_tips():
    md = render_markdown(
        {
            "scenario_id": "x",
            "scenario_title": "X",
            "ending": None,
            "score": 0,
            "anger_curve": [3],
            "tips": [],
            "turns": [],
        }
    )
    assert "stopped early" in md and "Nothing to fix" in md


def test_the_scorecard_is_a_compact_list_when_the_session_carries_one():
    session = {
        "scenario_id": "x",
        "scenario_title": "X",
        "ending": "walked_out",
        "score": 40,
        "anger_curve": [3, 4],
        "tips": [],
        "turns": [],
        "scorecard": {
            "score": 40,
            "items": [
                {"id": "apology", "earned": True, "turn": 0, "quote": "I'm so sorry"},
                {"id": "options", "earned": False, "turn": None, "quote": None},
            ],
            "penalties": [{"id": "calm_down", "turn": 0, "quote": "calm down"}],
        },
    }
    html = render_session_html(session)
    card = html.split('<details class="scorecard">')[1].split("</details>")[0]
    assert "(1 of 2 done, 1 to avoid)" in card
    assert "You said sorry <q>I&#39;m so sorry</q>" in card and "(answer 1)" in card
    assert "You offered a choice: not yet" in card
    assert "You told them to calm down <q>calm down</q>" in card
    assert "the customer walked out" in html.lower() and "walked_out" not in html.replace("ending-walked_out", "")
    assert '<details class="scorecard">' not in render_session_html({**session, "scorecard": None})


def test_the_scorecard_goals_and_each_answers_card_are_in_words():
    turn = {
        "index": 0,
        "customer": {"text": "Where is it?"},
        "transcript": {"text": "Sorry, calm down."},
        "delivery": {"wpm": 170.0, "speak_slowly": {"status": "needs_work"}},
        "reaction": {
            "anger_before": 3,
            "anger_after": 4,
            "line": "Don't tell me to calm down.",
            "reasons": ["was provoked (calm_down), which spoiled the rest"],
        },
        "card": {
            "turn": 0,
            "stage": "opening",
            "added": [{"id": "apology", "quote": "Sorry"}],
            "broke": [
                {"id": "calm_down", "turn": 0, "quote": "calm down", "points": 10.0},
                {"id": "speak_slowly", "turn": 0, "quote": "170 words/min", "points": 5.0},
            ],
        },
    }
    session = {
        "scenario_id": "x",
        "scenario_title": "X",
        "ending": None,
        "score": 5,
        "anger_curve": [3, 4],
        "tips": [],
        "turns": [turn],
        "scorecard": {
            "score": 5,
            "items": [],
            "penalties": [turn["card"]["broke"][0]],
            "goals": [
                {
                    "id": "sorry",
                    "name": "You said sorry for what went wrong",
                    "called_for": True,
                    "met": True,
                    "turn": 0,
                    "quote": "Sorry",
                },
                {
                    "id": "way_forward",
                    "name": "You offered a way forward",
                    "called_for": True,
                    "met": False,
                    "turn": None,
                    "quote": None,
                },
                {"id": "security", "name": "You called security", "called_for": False},
            ],
        },
    }
    html = str(render_session_html(session))
    card = html.split('<details class="scorecard">')[1].split("</details>")[0]
    assert "(1 of 2 done, 1 to avoid)" in card and "You called security" not in card
    assert "You offered a way forward: not yet" in card and "You told them to calm down <q>calm down</q>" in card
    assert "You said sorry <q>Sorry</q>" in html and "You rushed <span" in html and "10 points off" in html
    assert "was provoked (you told them to calm down)" in html
    visible = re.sub(r"<[^>]+>", " ", html)
    assert not [w for w in re.findall(r"\w+", visible) if "_" in w]


def test_trainee_facing_text_cites_guide_rules_by_name_never_by_number(judged_session):
    """The report, the kiosk's feedback screen (the same HTML) and the customer's reasons: a
    trainee cannot open "guide 003", so no file number and no rule or rubric id reaches them."""
    result, baseline = judged_session
    data = session_dict(result, baseline)
    html = re.sub(r"<svg.*?</svg>", "", str(render_session_html(data)), flags=re.S)  # chart coordinates
    for text in (html, render_markdown(data)):
        assert "guide 00" not in text.lower() and not re.search(r"(?<![\d.])00[0-4](?![\d.])", text)
    for turn in data["turns"]:
        for reason in turn["reaction"]["reasons"]:
            assert not re.search(r"\b[a-z]+(_[a-z]+)+\b|\b[a-z]+(-[a-z]+)+\b", reason), reason
