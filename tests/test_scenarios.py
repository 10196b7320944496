"""The scenario library, its validation, and what a trainer sees when a file is wrong."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, run_kiosk
from kiosk.commands import DEMO_TRAINEE
from scenarios.library import BUILTIN_DIR, load_library, validate_dir, validate_folder
from scenarios.guide import load_guide, practised_in
from scenarios.model import ENGLISH_VOICES, LINE_KINDS, Scenario, parse_scenario
from scenarios.rubric import load_rubric
from scenarios.toml_source import DataFileError, TomlSource, read_toml

LIBRARY = load_library()
RUBRIC = load_rubric()
GUIDE = load_guide()
TEMPLATE = (BUILTIN_DIR / "late-delivery.toml").read_text()

ISSUE_COVERAGE = {
    "guide 000: late delivery": "late-delivery",
    "guide 000: faulty product": "faulty-kettle",
    "guide 000: misread promotion": "misread-promotion",
    "return without a receipt": "no-receipt-return",
    "price mismatch at the till": "price-mismatch",
    "out of stock after an advert": "advert-out-of-stock",
    "long queue": "long-queue",
    "complaint about a rude colleague": "rude-colleague",
    "refund refused by policy": "refund-refused",
    "double charge": "double-charge",
    "damaged delivery": "damaged-delivery",
    "wrong order": "wrong-order",
    "warranty expired": "warranty-expired",
    "demands a manager": "demands-manager",
    "keeps repeating the same complaint": "repeating-complaint",
    "customer who is filming": "filming-customer",
    "customer who insults the trainee": "insulting-customer",
    "intoxicated customer": "intoxicated-customer",
    "customer who threatens violence": "threatening-customer",
    "customer who is partly wrong": "missed-parcel",
    "elderly or confused customer": "confused-elderly",
    "on the phone, cannot see the trainee": "phone-missing-refund",
}


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


# --- The built-in library ------------------------------------------------------------------


def test_the_library_has_at_least_24_valid_scenarios_each_named_by_its_id():
    assert LIBRARY.problems == ()
    assert len(LIBRARY.scenarios) >= 24
    for scenario in LIBRARY.scenarios.values():
        assert Path(scenario.path).stem == scenario.id


@pytest.mark.parametrize("situation", sorted(ISSUE_COVERAGE))
def test_every_situation_in_the_issue_has_a_scenario(situation):
    scenario = LIBRARY.get(ISSUE_COVERAGE[situation])
    assert scenario.source and scenario.facts and scenario.model_answer


def test_settings_difficulties_and_safety_are_spread_across_the_library():
    scenarios = LIBRARY.sorted()
    assert {"store_counter", "returns_desk", "checkout", "phone", "delivery", "restaurant"} <= {
        s.setting for s in scenarios
    }
    assert {s.difficulty for s in scenarios} == {1, 2, 3}
    assert {s.persona.anger for s in scenarios} >= {1, 2, 3, 4}
    assert {s.id for s in scenarios if s.safety} == {"intoxicated-customer", "threatening-customer"}
    for s in scenarios:
        assert ("security" in s.focus) == s.safety


def test_every_rubric_item_is_emphasised_by_some_scenario():
    emphasised = {item for s in LIBRARY.sorted() for item in (*s.focus, *s.weights)}
    assert RUBRIC.ids <= emphasised, sorted(RUBRIC.ids - emphasised)


@pytest.mark.parametrize("scenario", LIBRARY.sorted(), ids=lambda s: s.id)
def test_every_customer_has_something_to_say_in_every_situation(scenario: Scenario):
    """The complaint is told in several lines, so the customer can say more or repeat it."""
    kinds = {"opening", "threat", "handover", "walkout"} if scenario.safety else set(LINE_KINDS) - {"threat"}
    assert kinds <= set(scenario.lines), sorted(kinds - set(scenario.lines))
    varied = ("threat",) if scenario.safety else ("details", "repeat")
    for kind in varied:
        assert len(scenario.lines[kind]) >= 2 and len(set(scenario.lines[kind])) == len(scenario.lines[kind])
    assert len(scenario.facts) >= 2 or scenario.safety
    assert set(scenario.source) <= GUIDE.ids


def _espeak_variants() -> set[str]:
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout
    data = Path(re.search(r"Data at: (\S+)", out).group(1))
    return {p.name for p in (data / "voices" / "!v").iterdir()}


def test_customer_voices_are_real_espeak_voices_unlike_the_demo_trainee():
    variants = _espeak_variants()
    for s in LIBRARY.sorted():
        base, _, variant = s.persona.voice.partition("+")
        assert base in ENGLISH_VOICES and variant in variants, s.persona.voice
        assert s.persona.voice != DEMO_TRAINEE.name


def test_the_docs_coverage_table_is_true_to_the_data():
    """docs/scenarios.md maps each guide rule to the items that check it and the scenarios that
    practise it: one row per rule of the guide, named as the guide names it, listing exactly the
    scenarios whose `source` cites it, at least one of which emphasises the row's items."""
    doc = (ROOT / "docs" / "scenarios.md").read_text()
    table = doc[doc.index("## Guide rules and where they are practised") :]
    rows = [
        r for r in table.splitlines() if r.startswith("| ") and not r.startswith("| rule") and not r.startswith("| ---")
    ]
    citing = practised_in(LIBRARY.sorted())
    seen = []
    for row in rows:
        rule, name, checked, practised = [c.strip() for c in row.strip("|").split("|")]
        rule_id = rule.strip("`")
        assert rule_id in GUIDE.ids, f"not a rule of scenarios/guide.toml: {rule}"
        assert name == GUIDE.rule(rule_id).name, rule_id
        seen.append(rule_id)
        items = set(re.findall(r"`([a-z_]+)`", checked)) & RUBRIC.ids
        ids = re.findall(r"`([a-z0-9-]+)`", practised)
        assert sorted(ids) == sorted(citing.get(rule_id, [])), f"{rule_id}: the scenarios citing it"
        if items:
            assert any(items & {*LIBRARY.get(i).focus, *LIBRARY.get(i).weights} for i in ids), rule_id
    assert sorted(seen) == sorted(GUIDE.ids), "one row per rule"
    checked_items = set(re.findall(r"`([a-z_]+)`", table))
    assert RUBRIC.ids <= checked_items, f"items no guide rule maps to: {RUBRIC.ids - checked_items}"
    for sid in LIBRARY.scenarios:
        assert f"`{sid}`" in doc, f"{sid} is not in docs/scenarios.md"


# --- Validation: file, line, field ---------------------------------------------------------

MUTATIONS = [
    # (what, old text, new text, field, message fragment, line needle or None for line 1)
    (
        "unknown rubric item",
        '"keepable_promise"]',
        '"keep_promise"]',
        "focus",
        "unknown rubric item 'keep_promise'",
        "focus =",
    ),
    (
        "missing source",
        'source = [\n  "method-stay-calm",\n',
        'sources = [\n  "method-stay-calm",\n',
        "source",
        "missing",
        None,
    ),
    ("anger outside 0-4", "anger = 3", "anger = 7", "persona.anger", "from 0 to 4", "anger = 7"),
    (
        "empty line",
        '  "I have asked you three times now. Where is my sofa?",',
        '  "   ",',
        "lines.repeat.1",
        "empty line",
        '  "   ",',
    ),
    (
        "missing line kind",
        'accept = "Fine. Tomorrow morning, and you call me if anything changes."\n',
        "",
        "lines.accept",
        "missing",
        "[lines]",
    ),
    ("unknown line kind", "manager = ", "shout = ", "lines.shout", "unknown kind of line", "shout ="),
    ("unknown field", "difficulty = 1\n", 'difficulty = 1\ncolour = "red"\n', "colour", "unknown field", "colour ="),
    ("bad difficulty", "difficulty = 1", "difficulty = 4", "difficulty", "1, 2 or 3", "difficulty ="),
    ("bad setting", 'setting = "delivery"', 'setting = "garage"', "setting", "must be one of", "setting ="),
    ("unknown guide rule", '  "method-options",', '  "003",', "source.1", "unknown guide rule '003'", '  "003",'),
    (
        "voice pyttsx3 cannot select",
        'voice = "en-us+f3"',
        'voice = "en-gb+f3"',
        "persona.voice",
        "unknown voice 'en-gb+f3'",
        "voice =",
    ),
    (
        "threat outside a safety scenario",
        "[lines]\n",
        '[lines]\nthreat = "Watch it."\n',
        "lines.threat",
        "safety = true",
        "threat =",
    ),
    (
        "item that cannot apply",
        '"keepable_promise"]',
        '"keepable_promise", "security"]',
        "focus",
        "only scored in safety scenarios",
        "focus =",
    ),
    (
        "bad weight",
        "focus = [",
        'weights = { apology = "lots" }\nfocus = [',
        "weights.apology",
        "number from 0 to 5",
        "weights =",
    ),
    (
        "turns out of range",
        "difficulty = 1\n",
        "difficulty = 1\nmax_turns = 9\n",
        "max_turns",
        "from 2 to 5",
        "max_turns =",
    ),
    (
        "needs_heard out of range",
        "anger = 3\n",
        "anger = 3\nneeds_heard = 0\n",
        "persona.needs_heard",
        "from 1 to 3",
        "needs_heard =",
    ),
    (
        "TOML syntax",
        'title = "The sofa that never came"',
        'title = "The sofa that never came',
        "syntax",
        "not valid TOML",
        "title =",
    ),
    ("no resolution table", "[resolution]\n", "[unsaid]\n", "resolution", "missing: add a [resolution]", None),
    ("no remedies", "remedies = [\n", "cures = [\n", "resolution.remedies", "missing", "[resolution]"),
    (
        "one remedy only",
        "remedies = [\n",
        'remedies = ["I can rebook the delivery."]\nold_remedies = [\n',
        "resolution.remedies",
        "at least 2",
        "remedies = [",
    ),
    (
        "a remedy that is also a miss",
        "not_remedies = [\n",
        'not_remedies = [\n  "I can waive the delivery charge.",\n',
        "resolution.not_remedies",
        "is also a remedy",
        "not_remedies = [",
    ),
    ("no misfit line", "misfit = [", "misfits = [", "lines.misfit", "missing", "[lines]"),
]


@pytest.mark.parametrize("what,old,new,field,message,needle", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_a_bad_file_is_reported_with_file_line_and_field(tmp_path, what, old, new, field, message, needle):
    assert old in TEMPLATE
    text = TEMPLATE.replace(old, new, 1)
    path = write(tmp_path, "mine.toml", text)
    good, problems = validate_dir(tmp_path, RUBRIC)
    assert good == []
    problem = next((p for p in problems if p.field == field), None)
    assert problem is not None, [str(p) for p in problems]
    assert message in problem.message
    assert problem.line == (line_of(text, needle) if needle else 1)
    assert str(problem).startswith(f"{path}:{problem.line}: {field}: ")


def test_every_problem_in_a_file_is_reported_at_once(tmp_path):
    text = (
        TEMPLATE.replace("anger = 3", "anger = -1")
        .replace('"keepable_promise"]', '"charm"]')
        .replace('setting = "delivery"', 'setting = "moon"')
    )
    write(tmp_path, "mine.toml", text)
    _, problems = validate_dir(tmp_path, RUBRIC)
    assert {p.field for p in problems} == {"persona.anger", "focus", "setting"}


def test_safety_scenarios_need_threat_and_handover_lines_but_no_accept(tmp_path):
    text = (BUILTIN_DIR / "intoxicated-customer.toml").read_text()
    assert "accept" not in read_toml(BUILTIN_DIR / "intoxicated-customer.toml").data["lines"]
    stripped = re.sub(r"(?ms)^threat = \[.*?^\]\n", "", text)
    write(tmp_path, "drunk.toml", stripped)
    _, problems = validate_dir(tmp_path, RUBRIC)
    assert [p.field for p in problems] == ["lines.threat"]


def test_safety_scenarios_say_what_they_need_and_are_not_settled_by_an_offer(tmp_path):
    text = (BUILTIN_DIR / "threatening-customer.toml").read_text()
    assert LIBRARY.get("threatening-customer").resolution.needs
    offered = text.replace("[resolution]\n", '[resolution]\nremedies = ["A refund.", "A voucher."]\n')
    write(tmp_path, "threat.toml", offered)
    _, problems = validate_dir(tmp_path, RUBRIC)
    assert [p.field for p in problems] == ["resolution.remedies"] and "security" in problems[0].message


def test_every_scenario_knows_what_it_needs_and_every_other_scenarios_remedies_are_rivals():
    for s in LIBRARY.sorted():
        assert s.resolution.needs
        if not s.safety:
            assert len(s.resolution.remedies) >= 2 and s.resolution.not_remedies
            others = {t for o in LIBRARY.sorted() if o.id != s.id for t in o.resolution.remedies}
            assert set(s.resolution.rivals) == others - set(s.resolution.remedies)
            assert s.line("misfit")


def test_duplicate_ids_are_reported_in_a_folder_and_against_the_built_ins(tmp_path):
    mine = TEMPLATE.replace('id = "late-delivery"', 'id = "my-sofa"')
    write(tmp_path, "a.toml", mine)
    second = write(tmp_path, "b.toml", mine)
    write(tmp_path, "c.toml", TEMPLATE)  # same id as a built-in
    good, problems = validate_folder(tmp_path, RUBRIC)
    assert [s.id for s in good] == ["my-sofa"]
    assert {(p.file, p.field) for p in problems} == {(str(second), "id"), (str(tmp_path / "c.toml"), "id")}
    assert any("already used by" in p.message and p.message.endswith("a.toml") for p in problems)
    assert all(p.line == line_of(TEMPLATE, "id =") for p in problems)


def test_line_numbers_skip_multi_line_strings_and_find_array_elements(tmp_path):
    path = write(
        tmp_path,
        "x.toml",
        'model_answer = """Sorry [really\nfocus = not a key\n"""\n'
        'facts = [\n  "one [x] \\" quoted",  # a [ comment\n  "", \'three\', "four",\n]\n',
    )
    src = read_toml(path)
    assert "focus" not in src.lines
    assert (src.line("facts"), src.line("facts.0"), src.line("facts.1"), src.line("facts.3")) == (4, 5, 6, 6)


def test_a_windows_bom_is_not_an_error(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + TEMPLATE.replace('id = "late-delivery"', 'id = "bom-sofa"').encode())
    good, problems = validate_dir(tmp_path, RUBRIC)
    assert problems == [] and [s.id for s in good] == ["bom-sofa"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
TEMPLATE_DATA = read_toml(BUILTIN_DIR / "late-delivery.toml").data


@settings(max_examples=300, deadline=None)
@given(
    key=st.sampled_from(
        sorted(
            {
                *TEMPLATE_DATA,
                "weights",
                "safety",
                "max_turns",
                "extra",
                "persona.anger",
                "persona.voice",
                "persona.needs_heard",
                "lines.repeat",
                "lines.threat",
            }
        )
    ),
    value=json_values,
)
def test_any_broken_value_is_a_data_error_never_a_crash(key, value):
    data = json.loads(json.dumps(TEMPLATE_DATA))
    table, _, sub = key.partition(".")
    if sub and isinstance(data.get(table), dict):
        data[table][sub] = value
    else:
        data[table] = value
    try:
        scenario = parse_scenario(TomlSource(Path("x.toml"), data, {}), RUBRIC)
    except DataFileError as exc:
        assert exc.problems and all(p.file == "x.toml" and p.line == 1 for p in exc.problems)
    else:
        assert isinstance(scenario, Scenario)


# --- Trainer folders -------------------------------------------------------------------------


def _trainer_folder(root: Path) -> tuple[Path, Path]:
    folder = root / "trainer"
    write(folder, "good.toml", TEMPLATE.replace('id = "late-delivery"', 'id = "trainer-sofa"'))
    bad = write(
        folder,
        "bad.toml",
        TEMPLATE.replace('id = "late-delivery"', 'id = "trainer-bad"').replace("anger = 3", "anger = 9"),
    )
    write(folder, ".#good.toml", "an editor's lock file, not TOML")
    write(folder, "notes.txt", "not a scenario")
    return folder, bad


def test_an_invalid_trainer_file_is_skipped_and_the_rest_still_load(tmp_path):
    folder, bad = _trainer_folder(tmp_path)
    library = load_library([folder, tmp_path / "missing"])
    assert "trainer-sofa" in library.scenarios and "trainer-bad" not in library.scenarios
    assert len(library.scenarios) == len(LIBRARY.scenarios) + 1
    assert [(p.file, p.field) for p in library.problems] == [
        (str(bad), "persona.anger"),
        (str(tmp_path / "missing"), "folder"),
    ]


def test_kiosk_scenarios_list_reports_skipped_files_and_lists_the_rest(tmp_path):
    folder, bad = _trainer_folder(tmp_path)
    result = run_kiosk("scenarios", "list", env={"KIOSK_SCENARIOS_DIR": str(folder)})
    assert result.returncode == 0, result.stderr
    assert "trainer-sofa" in result.stdout and "threatening-customer" in result.stdout
    line = line_of(bad.read_text(), "anger = 9")
    assert f"skipped: {bad}:{line}: persona.anger: must be a whole number from 0 to 4" in result.stderr
    assert "Traceback" not in result.stderr

    as_json = run_kiosk("scenarios", "list", "--json", env={"KIOSK_SCENARIOS_DIR": str(folder)})
    listed = {s["id"]: s for s in json.loads(as_json.stdout)}
    assert listed["trainer-sofa"]["path"] == str(folder / "good.toml")
    assert listed["threatening-customer"]["safety"] is True and listed["late-delivery"]["anger"] == 3


def test_kiosk_scenarios_validate_names_each_problem_and_fails(tmp_path):
    folder, bad = _trainer_folder(tmp_path)
    result = run_kiosk("scenarios", "validate", str(folder))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{bad}:{line_of(bad.read_text(), 'anger = 9')}: persona.anger: must be a whole number from 0 to 4"
    ]
    assert "1 valid, 1 with problems" in result.stderr
    bad.unlink()
    assert run_kiosk("scenarios", "validate", str(folder)).returncode == 0
    assert run_kiosk("scenarios", "validate").returncode == 0  # the built-in library


def test_a_trainer_scenario_is_used_by_the_kiosk(tmp_path):
    folder, _ = _trainer_folder(tmp_path)
    result = run_kiosk(
        "score",
        "--scenario",
        "trainer-sofa",
        "--text",
        "I'm so sorry, let me check.",
        "--json",
        env={"KIOSK_SCENARIOS_DIR": str(folder)},
    )
    assert result.returncode == 0, result.stderr
    assert 0 < json.loads(result.stdout)["content"]["score"] <= 100
