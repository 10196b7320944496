"""Offers judged against this customer's problem (analysis.offer_fit, scenarios.customer).

Every scenario is played through the real scoring (rubric, MiniLM encoder, offer fit) with
typed answers: its own model answer and a civil close settle it; the model answer of every other
scenario, spoken here, does not; a bare apology calms by one level at most and settles nothing;
the don'ts anger. ``cross_outcomes`` is also what scripts/offer_table.py prints into
docs/scenarios.md.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from analysis.content import ScoringContext, score_content, typed_transcript
from analysis.delivery import DeliveryMeasures, Verdict
from analysis.offer_fit import judge_offers
from conftest import espeak
from conversation import play
from conversation import turn as answer
from scenarios.customer import IN_WORDS
from scenarios.library import load_library
from scenarios.model import Scenario
from scenarios.rubric import load_rubric

LIBRARY = load_library()
RUBRIC = load_rubric()
SCENARIOS = LIBRARY.sorted()
SETTLEABLE = [s for s in SCENARIOS if not s.safety]

CLOSE = "Thank you for your patience while we sorted this out. I'll call you tomorrow to check it all went well."
BARE_APOLOGY = "I'm really sorry."
FILLER = ("I've finished.", "Okay.", "Right, so.", "I've finished.")
DONTS = (
    "Calm down. It's not my fault, you should have checked before you came in.",
    "That's our policy, there's nothing I can do.",
    "I'm sorry you feel that way.",
)


def model_answer_conversation(scenario: Scenario, text: str) -> list[str]:
    """A model answer said as often as this customer needs to feel heard, then a civil close."""
    return [text] * scenario.persona.needs_heard + [CLOSE]


def cross_outcomes(delivery: DeliveryMeasures) -> dict[tuple[str, str], str]:
    """(scenario, whose model answer) -> how the conversation ended ("open" if it had not)."""
    out = {}
    for scenario in SCENARIOS:
        for other in SCENARIOS:
            states, _ = play(scenario, model_answer_conversation(scenario, other.model_answer), delivery)
            out[scenario.id, other.id] = states[-1].ending or "open"
    return out


def calm_delivery(calibration_clip, engines) -> DeliveryMeasures:
    """Real measures of a calm espeak-ng recording, voice and pace both judged calm: the most
    soothing delivery there is, so content alone has to keep the customer from settling."""
    from kiosk.session import analyze_answer

    base = analyze_answer(calibration_clip, engines).delivery
    return replace(
        base,
        lower_voice=Verdict("lower_voice", "pass", "voice pass", "tip"),
        speak_slowly=Verdict("speak_slowly", "pass", "pace pass", "tip"),
    )


@pytest.fixture(scope="module")
def calm(tmp_path_factory, engines) -> DeliveryMeasures:
    from kiosk.session import CALIBRATION_TEXT

    clip = espeak(CALIBRATION_TEXT, tmp_path_factory.mktemp("calm") / "calm.wav", rate_wpm=150, pitch=45)
    return calm_delivery(clip, engines)


@pytest.fixture(scope="module")
def outcomes(calm) -> dict[tuple[str, str], str]:
    return cross_outcomes(calm)


# --- Every scenario against every model answer -------------------------------------------------

HANDED_OVER = {
    "demands-manager": "the customer came for the manager, and the model answer fetches her",
    "rude-colleague": "a complaint about staff goes to the store manager, who calls back",
}
"""Scenarios whose model answer hands the customer to a supervisor (ending escalated)."""


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_its_own_model_answer_settles_it(outcomes, scenario):
    expected = "escalated" if scenario.safety or scenario.id in HANDED_OVER else "resolved"
    assert outcomes[scenario.id, scenario.id] == expected


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_no_other_scenarios_model_answer_resolves_it(outcomes, scenario):
    resolved = [
        other
        for (here, other), ending in outcomes.items()
        if here == scenario.id and other != scenario.id and ending == "resolved"
    ]
    assert resolved == []


@pytest.mark.parametrize("scenario", SETTLEABLE, ids=lambda s: s.id)
def test_the_model_answers_offers_fit_with_the_remedy_as_evidence(calm, scenario):
    turn = answer(scenario, scenario.model_answer, calm)
    assert any(o.fits for o in turn.offers), turn.offers
    fitting = [f for f in turn.content.items if f.id in ("options", "keepable_promise") and f.hit]
    assert fitting
    remedies = set(scenario.resolution.remedies)
    for f in fitting:
        for e in f.evidence:
            assert "fits the remedy" in e.matched and any(r in e.matched for r in remedies)


# --- Sympathy alone and the don'ts ------------------------------------------------------------


@pytest.mark.parametrize("scenario", SETTLEABLE, ids=lambda s: s.id)
def test_a_bare_apology_then_filler_calms_by_one_level_at_most_and_settles_nothing(calm, scenario):
    states, reactions = play(scenario, [BARE_APOLOGY, *FILLER], calm)
    start = scenario.persona.anger
    assert reactions[0].anger_after >= start - 1
    assert min(s.anger for s in states) >= start - 1
    assert states[-1].ending != "resolved"
    assert all(r.kind != "accept" for r in reactions)


@pytest.mark.parametrize("scenario", SETTLEABLE, ids=lambda s: s.id)
def test_apologies_alone_never_settle_it(calm, scenario):
    states, reactions = play(scenario, [BARE_APOLOGY] * scenario.max_turns, calm)
    assert min(s.anger for s in states) >= scenario.persona.anger - 1
    assert states[-1].ending == "walked_out"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
@pytest.mark.parametrize("dont", DONTS, ids=["calm-down", "policy", "sorry-you-feel"])
def test_the_donts_escalate(calm, scenario, dont):
    states, reactions = play(scenario, [dont], calm)
    assert reactions[0].anger_after > reactions[0].anger_before or reactions[0].anger_before == 4
    assert reactions[0].kind in {"repeat", "manager", "threat", "walkout"}
    assert states[-1].ending in {None, "walked_out"}


# --- The misfit reaction ----------------------------------------------------------------------


def test_a_sofa_offer_to_the_television_customer_gets_the_misfit_line(calm):
    """The case from the issue: the late sofa's offer, word for word, to the leaflet TV."""
    scenario = LIBRARY.get("advert-out-of-stock")
    text = "I'm really sorry. I can book the first slot tomorrow morning or refund the delivery charge today."
    turn = answer(scenario, text, calm)
    assert turn.misfits and not any(o.fits for o in turn.offers)
    assert not any(f.hit for f in turn.content.items if f.id in ("options", "keepable_promise"))
    states, reactions = play(scenario, [text, CLOSE, text, CLOSE], calm)
    assert reactions[0].kind == "misfit" and reactions[0].line == scenario.line("misfit")
    assert any("does nothing for their problem" in r for r in reactions[0].reasons)
    assert states[-1].ending != "resolved"


def test_the_same_offer_settles_the_customer_it_was_written_for(calm):
    scenario = LIBRARY.get("late-delivery")
    text = "I'm really sorry. I can book the first slot tomorrow morning or refund the delivery charge today."
    states, reactions = play(scenario, [text, CLOSE], calm)
    assert [r.kind for r in reactions] == ["accept", "resolved"]


def test_reasons_name_what_was_said_in_words_not_rubric_ids(calm):
    scenario = LIBRARY.get("late-delivery")
    _, reactions = play(scenario, [scenario.model_answer, DONTS[0]], calm)
    text = " ".join(r for reaction in reactions for r in reaction.reasons)
    assert "apologised" in text
    assert not any(item_id in text for item_id in RUBRIC.ids if "_" in item_id)
    assert set(IN_WORDS) >= {
        i.id
        for i in RUBRIC.items
        if i.id not in {"security", "positive_language", "transparency", "give_space", "private_space"}
    }


# --- Without the encoder ----------------------------------------------------------------------


def test_without_the_encoder_shared_words_decide():
    tv, sofa = LIBRARY.get("advert-out-of-stock"), LIBRARY.get("late-delivery")
    for scenario, text, fits in [
        (tv, "I can order the television from our other branch at the leaflet price.", True),
        (tv, "I can arrange the first delivery slot for your sofa tomorrow morning.", False),
        (sofa, "I can arrange the first delivery slot for your sofa tomorrow morning.", True),
    ]:
        transcript = typed_transcript(text)
        content = score_content(transcript, RUBRIC, scenario.scoring_context(), encoder=None)
        _, offers = judge_offers(transcript, content, scenario.scoring_context(), encoder=None)
        assert offers and offers[0].fits is fits, offers


def test_a_context_without_remedies_judges_nothing():
    transcript = typed_transcript("I can book the first slot tomorrow morning.")
    content = score_content(transcript, RUBRIC, ScoringContext())
    assert judge_offers(transcript, content, ScoringContext()) == (content, ())


def test_the_cross_table_counts_are_what_the_docs_print(outcomes):
    """docs/scenarios.md carries this table (scripts/offer_table.py); here its invariant."""
    foreign = Counter(here for (here, other), ending in outcomes.items() if here != other and ending == "resolved")
    assert sum(foreign.values()) == 0
