"""The coaching guide: every rule the kiosk cites exists, docs/guide.md is the data, a bad guide
file is reported by file, line and field, and trainees read rules by name, never by number."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analysis.delivery import VERDICT_RULES
from kiosk.history import to_work_on
from kiosk.report import render_markdown, render_session_html
from scenarios.guide import cited_by, guide_markdown, load_guide, parse_guide, practised_in
from scenarios.library import BUILTIN_DIR, load_library, validate_dir
from scenarios.rubric import load_rubric
from scenarios.scorecard import load_rules
from scenarios.toml_source import DataFileError, read_toml

ROOT = Path(__file__).resolve().parents[1]
GUIDE = load_guide()
RUBRIC = load_rubric()
LIBRARY = load_library()
FILE_NUMBER = re.compile(r"\b00[0-4]\b")
"""How the five source guides used to be cited ("guide 003"): a trainee cannot open a file."""


def test_every_cited_rule_exists_in_the_guide():
    cited = {i.source for i in RUBRIC.items} | set(VERDICT_RULES.values())
    cited |= {g.source for g in load_rules(RUBRIC).goals}
    cited |= {rule for s in LIBRARY.scenarios.values() for rule in s.source}
    assert cited <= GUIDE.ids, sorted(cited - GUIDE.ids)
    assert {s.id for s in GUIDE.sources} == {r.source for r in GUIDE.rules}, "a source without rules"


def test_every_rule_is_practised_by_a_scenario_and_documented():
    doc = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
    scenarios = sorted(validate_dir(BUILTIN_DIR, RUBRIC)[0], key=lambda s: s.id)
    cited = cited_by(RUBRIC, load_rules(RUBRIC).goals)
    assert doc == guide_markdown(GUIDE, cited, practised_in(scenarios)), "run: python scripts/guide_doc.py"
    unpractised = GUIDE.ids - set(practised_in(scenarios))
    assert not unpractised, sorted(unpractised)
    for rule in GUIDE.rules:
        assert f"`{rule.id}` · {rule.group}" in doc and rule.text in doc


def test_a_rule_is_cited_by_name_and_group():
    assert GUIDE.citation("defuse-apologise") == "Apologise for what went wrong \u2014 Defusing, step 5"
    assert GUIDE.name("dos-no-argue") == "Don't argue"
    assert GUIDE.text("defuse-slow-down").startswith("Emotions spread")
    # Sessions stored before the guide cite a file prefix: named by its source, nothing to open.
    assert GUIDE.citation("003") == "Twelve steps to defuse" and GUIDE.text("003") == ""


def _guide_file(tmp_path: Path, rules: str) -> Path:
    path = tmp_path / "guide.toml"
    path.write_text(
        '[[source]]\nid = "defuse"\ntitle = "Twelve steps"\nabout = "A."\nlegacy = "003"\n\n' + rules, encoding="utf-8"
    )
    return path


@pytest.mark.parametrize(
    "rule,field,line,message",
    [
        (
            '[[rule]]\nid = "defuse-x"\nname = "X"\ngroup = "G"\ntext = "One. Two."\n'
            '[[rule]]\nid = "defuse-x"\nname = "Y"\ngroup = "G"\ntext = "One. Two."\n',
            "rule.1.id",
            13,
            "duplicate id 'defuse-x'",
        ),
        (
            '[[rule]]\nid = "calm-x"\nname = "X"\ngroup = "G"\ntext = "One. Two."\n',
            "rule.0.id",
            8,
            "must start with a source id and a dash: defuse",
        ),
        (
            '[[rule]]\nid = "defuse-x"\nname = ""\ngroup = "G"\ntext = "One. Two."\n',
            "rule.0.name",
            9,
            "must be non-empty text",
        ),
        (
            '[[rule]]\nid = "defuse-x"\nname = "X"\ngroup = "G"\ntext = "A. B. C. D. E."\n',
            "rule.0.text",
            11,
            "2 to 4 sentences",
        ),
        (
            '[[rule]]\nid = "defuse-x"\nname = "X"\ngroup = "G"\ntext = "One. Two."\nsource = "003"\n',
            "rule.0.source",
            12,
            "unknown field",
        ),
    ],
)
def test_a_bad_guide_file_is_reported_with_file_line_and_field(tmp_path, rule, field, line, message):
    path = _guide_file(tmp_path, rule)
    with pytest.raises(DataFileError) as err:
        parse_guide(read_toml(path))
    assert f"{path}:{line}: {field}: {message}" in str(err.value)


def _legacy_session() -> dict:
    """A session as the store kept it before the guide existed: every citation a file prefix."""
    verdict = {
        "id": "speak_slowly",
        "status": "needs_work",
        "detail": "190 words/min",
        "tip": "Slow down.",
        "source": "003",
    }
    finding = {
        "id": "apology",
        "hit": False,
        "points": 0,
        "max_points": 12,
        "source": "003",
        "description": "Apologise sincerely for what went wrong, on behalf of the store.",
        "evidence": [],
    }
    penalty = {
        "id": "argue",
        "hit": True,
        "points": -10,
        "max_points": 10,
        "source": "001",
        "description": "Arguing with the customer.",
        "evidence": [{"quote": "that's not true"}],
    }
    return {
        "scenario_id": "late-delivery",
        "scenario_title": "The sofa that never came",
        "ending": "walked_out",
        "score": 20,
        "anger_curve": [3, 4],
        "tips": [{"id": "argue", "text": "Don't argue the point.", "quote": "that's not true", "source": "001"}],
        "turns": [
            {
                "index": 0,
                "customer": {"text": "Where is my sofa?", "anger": 3},
                "transcript": {"text": "that's not true"},
                "delivery": {"wpm": 190.0, "speak_slowly": verdict},
                "content": {"score": 20, "items": [finding], "penalties": [penalty]},
                "reaction": {"anger_before": 3, "anger_after": 4, "line": "Unbelievable.", "reasons": []},
            }
        ],
    }


def test_a_stored_session_from_before_the_guide_names_its_sources_in_words():
    session = _legacy_session()
    html, md = str(render_session_html(session)), render_markdown(session)
    for text in (html, md):
        assert not FILE_NUMBER.search(text) and "guide 00" not in text.lower()
        assert "Dos and don'ts" in text.replace("&#39;", "'")
    assert to_work_on(session["turns"][0]) == "Dos and don'ts; Twelve steps to defuse"


def test_a_tip_with_a_rule_and_a_citation_opens_the_rules_text():
    session = _legacy_session()
    session["tips"] = [
        {
            "id": "apology",
            "text": "Apologise for what went wrong, on behalf of the store.",
            "quote": None,
            "rule": "defuse-apologise",
            "citation": GUIDE.citation("defuse-apologise"),
        },
        {"id": "speak_slowly", "text": "Slow down.", "quote": None, "source": "defuse-slow-down"},
    ]
    html = str(render_session_html(session))
    tips = html[html.index('<ol class="tips">') : html.index("</ol>")]
    assert tips.count('<details class="cite">') == 2
    assert "<summary>Apologise for what went wrong \u2014 Defusing, step 5</summary>" in tips
    assert f'<p class="rule-text">{GUIDE.text("defuse-apologise")}</p>' in tips
    assert "<summary>Speak slowly \u2014 Defusing, step 4</summary>" in tips
    assert "defuse-" not in tips.replace('class="', "")
    md = render_markdown(session)
    assert "*(Apologise for what went wrong \u2014 Defusing, step 5)*" in md
    assert f"**Speak slowly \u2014 Defusing, step 4**: {GUIDE.text('defuse-slow-down')}" in md
