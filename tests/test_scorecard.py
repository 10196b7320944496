"""The conversation's scorecard: items earned once and credited to the answer that earned them,
penalties where they happen, and a score that moves the same way as the conversation's ending.

Conversations are typed answers scored by the real rubric and reacted to by the real customer
inside a real ``PracticeSession`` (``react``), with delivery measured on a real espeak-ng
recording of a calm voice, so no Whisper run is needed per answer.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from analysis.delivery import DeliveryMeasures, Verdict
from analysis.scorecard import build_scorecard, called_for_goals, stage_of
from conftest import espeak
from conversation import turn as analysed
from kiosk.commands import DEMO_CLOSE, DEMO_STUMBLE
from kiosk.session import PracticeSession, model_answer_content
from scenarios.library import load_library
from scenarios.rubric import load_rubric
from scenarios.scorecard import load_rules
from scenarios.toml_source import DataFileError, TomlSource

LIBRARY = load_library()
RUBRIC = load_rubric()
RULES = load_rules(RUBRIC)
SCENARIOS = LIBRARY.sorted()
DONTS = (
    "Calm down. It's not my fault, you should have checked before you came in.",
    "Look, that's our policy, there's nothing I can do about it.",
    "Whatever. It's hardly the end of the world, is it?",
)


@pytest.fixture(scope="module")
def calm(engines, tmp_path_factory) -> DeliveryMeasures:
    """Real measures of a calm espeak-ng voice, judged calm against itself."""
    from kiosk.session import CALIBRATION_TEXT, analyze_answer

    clip = espeak(CALIBRATION_TEXT, tmp_path_factory.mktemp("calm") / "calm.wav", rate_wpm=150, pitch=45)
    base = analyze_answer(clip, engines).delivery
    return replace(
        base,
        lower_voice=Verdict("lower_voice", "pass", "as calm as your usual voice", "tip"),
        speak_slowly=Verdict("speak_slowly", "pass", "your usual pace", "tip"),
        mirroring=None,
    )


def converse(engines, scenario, say, delivery: DeliveryMeasures) -> PracticeSession:
    """Answer with ``say(session)`` until the customer ends it or their patience runs out."""
    session = PracticeSession(scenario, engines)
    while not session.finished and len(session.turns) < scenario.max_turns:
        session.react(analysed(scenario, say(session), delivery))
    return session


def model_conversation(session: PracticeSession) -> str:
    return DEMO_CLOSE if session.state.accepted else session.scenario.model_answer


def demo_conversation(session: PracticeSession) -> str:
    return DEMO_STUMBLE if not session.turns else model_conversation(session)


def donts_conversation(session: PracticeSession) -> str:
    return DONTS[len(session.turns) % len(DONTS)]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_score_moves_with_the_ending_in_every_scenario(engines, calm, scenario):
    model = converse(engines, scenario, model_conversation, calm).result()
    demo = converse(engines, scenario, demo_conversation, calm).result()
    donts = converse(engines, scenario, donts_conversation, calm).result()
    settled = ("escalated",) if scenario.safety else ("resolved", "escalated")
    assert model.ending in settled and model.score >= 90, (model.ending, model.scorecard.goals)
    assert demo.ending in settled and demo.score >= 70, (demo.ending, demo.scorecard)
    assert donts.ending == "walked_out" and donts.score <= 20, (donts.ending, donts.scorecard)


def test_an_item_is_earned_once_and_credited_to_the_answer_that_said_it(engines, calm):
    scenario = LIBRARY.get("late-delivery")
    session = PracticeSession(scenario, engines)
    first = session.react(analysed(scenario, "I'm really sorry, that's so frustrating after a day off.", calm))
    second = session.react(
        analysed(
            scenario,
            "I'm sorry again. I can book the first slot tomorrow morning, or refund the delivery charge today.",
            calm,
        )
    )
    card = session.result().scorecard
    apology = next(i for i in card.items if i.id == "apology")
    assert (apology.earned, apology.turn) == (True, 0) and "sorry" in apology.quote.lower()
    assert "apology" in {c.id for c in first.card.added}
    assert "apology" not in {c.id for c in second.card.added}  # said again, earned once
    assert "options" in {c.id for c in second.card.added}
    assert card.goal("sorry").turn == 0 and card.goal("way_forward").turn == 1


def test_a_penalty_counts_in_every_answer_that_commits_it(engines, calm):
    scenario = LIBRARY.get("late-delivery")
    session = PracticeSession(scenario, engines)
    session.react(analysed(scenario, "Calm down, please.", calm))
    session.react(analysed(scenario, "I said calm down.", calm))
    card = session.result().scorecard
    assert [(p.id, p.turn) for p in card.penalties if p.id == "calm_down"] == [("calm_down", 0), ("calm_down", 1)]
    assert all("calm down" in p.quote.lower() for p in card.penalties if p.id == "calm_down")


def test_a_closing_answer_is_not_marked_down_for_what_an_earlier_answer_did(engines, calm):
    scenario = LIBRARY.get("late-delivery")
    session = converse(engines, scenario, model_conversation, calm)
    close = session.turns[-1]
    assert close.card.stage == "closing" and close.card.still_missing == ()
    assert not close.card.broke
    # "I'll check in with you tomorrow" once settled is a follow-up, not an offer that misses.
    assert not any("does nothing for their problem" in r for r in close.reaction.reasons), close.reaction.reasons


def test_goals_a_scenario_does_not_call_for_never_cost_points(engines, calm):
    """A quieter spot or a supervisor fit some customers only: without them a good conversation
    still scores full marks, and with them it scores no more than full marks."""
    scenario = LIBRARY.get("late-delivery")
    assert not {"private_space", "give_space"} & {i for g in RULES.goals for i in g.items}
    called = called_for_goals(RULES.goals, model_answer_content(scenario, RUBRIC), scenario.safety)
    assert "security" not in called
    answers = [analysed(scenario, scenario.model_answer, calm), analysed(scenario, DEMO_CLOSE, calm)]
    card = build_scorecard(answers, ["opening", "closing"], RULES.goals, called)
    assert card.score == 100 and not card.goal("security").called_for


def test_the_close_counts_only_once_the_conversation_reaches_it(calm):
    scenario = LIBRARY.get("faulty-kettle")  # its model answer holds no close
    called = called_for_goals(RULES.goals, model_answer_content(scenario, RUBRIC), scenario.safety)
    opening = [analysed(scenario, scenario.model_answer, calm)]
    assert build_scorecard(opening, ["opening"], RULES.goals, called).score == 100
    with_close = [*opening, analysed(scenario, "Okay.", calm)]
    card = build_scorecard(with_close, ["opening", "closing"], RULES.goals, called)
    assert card.score < 100 and not card.goal("close").met and card.turns[-1].still_missing == ("close",)


def test_a_way_forward_is_owed_from_the_first_answer(calm):
    """Stopped after one answer that only said sorry, a conversation is not complete; the
    answer's own card still asks only for what an opening answer calls for."""
    scenario = LIBRARY.get("faulty-kettle")
    called = called_for_goals(RULES.goals, model_answer_content(scenario, RUBRIC), scenario.safety)
    sorry = build_scorecard(
        [analysed(scenario, "I'm so sorry, a new kettle tripping the power is worrying.", calm)],
        ["opening"],
        RULES.goals,
        called,
    )
    assert sorry.goal("sorry").met and not sorry.goal("way_forward").met and sorry.score < 100
    assert "way_forward" not in sorry.turns[0].still_missing


def test_a_rushed_or_raised_answer_costs_points(calm):
    scenario = LIBRARY.get("late-delivery")
    called = called_for_goals(RULES.goals, model_answer_content(scenario, RUBRIC), scenario.safety)
    rushed = replace(calm, speak_slowly=Verdict("speak_slowly", "needs_work", "190 words a minute", "tip"))
    calm_card = build_scorecard(
        [analysed(scenario, scenario.model_answer, calm)],
        ["opening"],
        RULES.goals,
        called,
        delivery_points=RULES.delivery_points,
    )
    rushed_card = build_scorecard(
        [analysed(scenario, scenario.model_answer, rushed)],
        ["opening"],
        RULES.goals,
        called,
        delivery_points=RULES.delivery_points,
    )
    assert rushed_card.score == calm_card.score - RULES.delivery_points["speak_slowly"]
    assert [(p.id, p.quote) for p in rushed_card.penalties] == [("speak_slowly", "190 words a minute")]


def test_the_same_conversation_always_gets_the_same_scorecard(engines, calm):
    scenario = LIBRARY.get("faulty-kettle")
    first = converse(engines, scenario, demo_conversation, calm).result()
    second = converse(engines, scenario, demo_conversation, calm).result()
    assert first.scorecard == second.scorecard and first.tips == second.tips


def test_stages_follow_the_conversation():
    assert [stage_of(0, False, False), stage_of(1, False, False), stage_of(2, True, False)] == [
        "opening",
        "solving",
        "closing",
    ]
    assert stage_of(0, False, True) == stage_of(3, True, True) == "safety"


def test_tips_ask_only_for_what_the_conversation_missed_with_this_scenarios_words(engines, calm):
    scenario = LIBRARY.get("advert-out-of-stock")
    session = PracticeSession(scenario, engines)
    session.react(analysed(scenario, "Okay. Is there anything else?", calm))
    result = session.result()
    missed = {g.id for g in result.scorecard.goals if g.called_for and not g.met}
    assert {t.id for t in result.tips} <= missed | {p.id for p in result.scorecard.penalties}
    examples = [t.example for t in result.tips if t.example]
    assert examples and all(e in scenario.model_answer for e in examples)
    assert len(result.tips) <= 3


def test_a_good_conversation_gets_no_tip_asking_for_what_it_did(engines, calm):
    scenario = LIBRARY.get("late-delivery")
    result = converse(engines, scenario, model_conversation, calm).result()
    assert result.tips == ()


def test_report_json_carries_the_scorecard(engines, calm):
    scenario = LIBRARY.get("late-delivery")
    data = converse(engines, scenario, demo_conversation, calm).result().to_dict()
    card = data["scorecard"]
    assert card["score"] == data["score"]
    assert {"id", "earned", "turn", "quote"} <= set(card["items"][0])
    assert all({"id", "turn", "quote"} <= set(p) for p in card["penalties"]) and card["penalties"]
    assert all("card" in t and "score_after" in t for t in data["turns"])


def test_a_scorecard_file_with_mistakes_names_each_one(tmp_path):
    from scenarios.scorecard import parse_rules

    src = TomlSource(
        tmp_path / "scorecard.toml",
        {
            "goal": [
                {
                    "id": "x",
                    "name": "You did x",
                    "items": ["nope", "calm_down"],
                    "stage": "later",
                    "weight": 0,
                    "source": "009",
                    "tip": "Do x",
                }
            ],
            "delivery": {"shouting": 5},
        },
        {},
    )
    with pytest.raises(DataFileError) as err:
        parse_rules(src, RUBRIC)
    message = str(err.value)
    for expected in (
        "no rubric item 'nope'",
        "'calm_down' is a penalty",
        "stage",
        "weight",
        "source",
        "delivery.shouting",
    ):
        assert expected in message
