"""scenarios.customer: the customer reacts to what was said and how, and the conversation ends.

Most conversations here are driven by typed answers scored with the real rubric
(``score_content``) plus delivery verdicts set on real measures, so a state-machine test costs
no Whisper run. A few are spoken: recordings made with the espeak-ng command line go through
VAD endpointing, Whisper and delivery analysis in a real ``PracticeSession``. The trainee's
voice comes from the espeak-ng CLI rather than pyttsx3 so its rate and pitch are exactly what
the test asks for.

Answers are plain, natural sentences; the assertions are about the customer's behaviour (anger
direction, the kind of the next line, the ending), not about content scores.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from audio.capture import record_answer
from audio.clip import Clip
from audio.source import chunks_from_clip
from analysis.delivery import DeliveryMeasures, Verdict
from analysis.turn import TurnAnalysis
from conftest import espeak
from conversation import play, turn
from scenarios import customer
from scenarios.customer import HEARD, WAY_FORWARD
from scenarios.library import load_library
from scenarios.model import MAX_ANGER, Scenario
from scenarios.rubric import load_rubric

LIBRARY = load_library()
RUBRIC = load_rubric()
SCENARIOS = LIBRARY.sorted()

CLOSE = "Thank you for your patience while we sorted this out. I'll call you tomorrow to check it all went well."
PROVOKE = "Calm down. It's not my fault, you should have checked before you came in."
SHRUG = "Okay. Is there anything else?"
EMPATHY_ONLY = "I understand why you're frustrated. That sounds really annoying."
SECURITY = "I'm going to step back now and call security."
SUPERVISOR = "I'll get my supervisor for you right away."

# Phrase pools for the property tests: clear, natural sentences of each sort.
HEARD_PHRASES = (
    "I'm really sorry about this.",
    "That sounds incredibly frustrating.",
    "I hear you, and thank you for telling me.",
    "So if I understand you, it still hasn't been put right.",
    "Can you tell me what happened?",
)
WAY_PHRASES = (
    "I can offer you a replacement or a refund, whichever you prefer.",
    "Let me check what I can do for you right now.",
    "I can arrange a new delivery for tomorrow morning.",
    "Let's sort this out together.",
)
CLOSING_PHRASES = ("Thank you for your patience.", "I'll call you tomorrow to make sure it's sorted.")
PROVOKING_PHRASES = (
    "Calm down.",
    "It's not a big deal.",
    "You should have read the terms.",
    "I'm sorry you feel that way.",
    "That's our policy.",
    "Whatever.",
    "I guarantee it'll be there in an hour.",
)
NEUTRAL_PHRASES = ("Okay.", "Right.", "What's your order number?", "Is there anything else?")
ALL_PHRASES = HEARD_PHRASES + WAY_PHRASES + CLOSING_PHRASES + PROVOKING_PHRASES + NEUTRAL_PHRASES


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    """The trainee's calm calibration sentence, recorded with espeak-ng (rate 150, pitch 45)."""
    from kiosk.session import CALIBRATION_TEXT

    return espeak(CALIBRATION_TEXT, tmp_path_factory.mktemp("calm") / "calm.wav", rate_wpm=150, pitch=45)


@pytest.fixture(scope="module")
def voices(calibration, engines) -> dict[str, DeliveryMeasures]:
    """Real delivery measures of a calm recording, with the two verdicts set per voice style."""
    from kiosk.session import analyze_answer

    base = analyze_answer(calibration, engines).delivery

    def styled(voice: str, pace: str) -> DeliveryMeasures:
        return replace(
            base,
            lower_voice=Verdict("lower_voice", voice, f"voice {voice}", "tip"),
            speak_slowly=Verdict("speak_slowly", pace, f"pace {pace}", "tip"),
        )

    return {
        "calm": styled("pass", "pass"),
        "unjudged": styled("unknown", "pass"),
        "loud": styled("needs_work", "pass"),
        "rushed": styled("pass", "needs_work"),
        "loud_rushed": styled("needs_work", "needs_work"),
    }


def complete(scenario: Scenario, analysis: TurnAnalysis) -> bool:
    """What the guides ask of one answer: heard and a way forward (security when unsafe), no penalty."""
    hits = {f.id for f in analysis.content.items if f.hit}
    if any(f.hit for f in analysis.content.penalties):
        return False
    if scenario.safety:
        return "security" in hits
    return bool(hits & set(HEARD)) and bool(hits & set(WAY_FORWARD))


# --- Endings --------------------------------------------------------------------------------


def test_a_good_answer_then_a_close_resolves_the_late_delivery(voices):
    scenario = LIBRARY.get("late-delivery")
    states, reactions = play(scenario, [scenario.model_answer, CLOSE], voices["calm"])
    assert [r.kind for r in reactions] == ["accept", "resolved"]
    assert states[-1].ending == "resolved"
    curve = [s.anger for s in states]
    assert curve[0] == scenario.persona.anger and curve[1] < curve[0] and curve[2] <= curve[1]
    assert reactions[0].line == scenario.line("accept")


def test_provocation_twice_makes_the_customer_walk_out(voices):
    scenario = LIBRARY.get("late-delivery")
    states, reactions = play(scenario, [PROVOKE, PROVOKE, PROVOKE], voices["calm"])
    assert reactions[0].anger_after > reactions[0].anger_before
    assert reactions[0].kind in {"repeat", "manager"}
    assert states[-1].ending == "walked_out" and reactions[-1].kind == "walkout"
    assert reactions[-1].line == scenario.line("walkout")
    assert len(reactions) == 2  # furious twice in a row: they do not wait for a third


def test_handing_over_to_a_supervisor_escalates(voices):
    scenario = LIBRARY.get("demands-manager")
    states, reactions = play(scenario, [SUPERVISOR], voices["calm"])
    assert states[-1].ending == "escalated" and reactions[-1].kind == "handover"


@pytest.mark.parametrize("scenario_id", ["intoxicated-customer", "threatening-customer"])
def test_calling_security_ends_a_safety_scenario_and_reasoning_escalates_to_threats(voices, scenario_id):
    scenario = LIBRARY.get(scenario_id)
    states, reactions = play(scenario, [SECURITY], voices["calm"])
    assert states[-1].ending == "escalated" and reactions[0].kind == "handover"

    reasoning = (
        "I'm really sorry. I understand you're upset. I can offer you a refund or a voucher, which would you prefer?"
    )
    states, reactions = play(scenario, [reasoning] * 5, voices["calm"])
    assert reactions[0].kind == "threat"
    assert reactions[0].anger_after >= reactions[0].anger_before  # sympathy does not reach them
    assert states[-1].ending == "walked_out" and len(reactions) <= scenario.max_turns


def test_an_open_conversation_ends_when_the_customers_patience_runs_out(voices):
    scenario = LIBRARY.get("no-receipt-return")
    states, reactions = play(scenario, [EMPATHY_ONLY] * 6, voices["calm"])
    assert len(reactions) == scenario.max_turns
    assert states[-1].ending == "walked_out"  # heard, but never offered anything


# --- The next line --------------------------------------------------------------------------


def test_an_unacknowledged_complaint_comes_again_louder(voices):
    scenario = LIBRARY.get("faulty-kettle")
    _, reactions = play(scenario, [SHRUG], voices["calm"])
    assert reactions[0].kind == "repeat" and reactions[0].anger_after > reactions[0].anger_before
    assert "did not feel heard" in reactions[0].reasons
    assert reactions[0].line == scenario.line("repeat", 0)


def test_stonewalling_makes_the_customer_ask_for_a_manager_once(voices):
    scenario = LIBRARY.get("warranty-expired")
    _, reactions = play(scenario, [EMPATHY_ONLY] * 4, voices["calm"])
    kinds = [r.kind for r in reactions]
    assert kinds[:2] == ["details", "manager"]  # heard, but no way forward twice running
    assert kinds.count("manager") == 1


def test_quoting_policy_and_nothing_else_brings_the_manager_demand_at_once(voices):
    scenario = LIBRARY.get("refund-refused")
    _, reactions = play(scenario, ["That's our policy, there's nothing I can do."], voices["calm"])
    assert reactions[0].kind == "manager" and reactions[0].anger_after > reactions[0].anger_before


def test_an_angry_customer_wants_to_be_heard_before_hearing_solutions(voices):
    scenario = LIBRARY.get("late-delivery")  # starts at anger 3
    bare_offer = "I can rebook the delivery for tomorrow morning or refund the charge."
    _, reactions = play(scenario, [bare_offer], voices["calm"])
    assert reactions[0].kind != "accept"
    assert "wanted to be heard before hearing solutions" in reactions[0].reasons


def test_a_repeating_customer_needs_to_feel_heard_twice(voices):
    scenario = LIBRARY.get("repeating-complaint")
    assert scenario.persona.needs_heard == 2
    states, reactions = play(scenario, [scenario.model_answer] * 2 + [CLOSE], voices["calm"])
    assert [r.kind for r in reactions] == ["repeat", "accept", "resolved"]
    assert reactions[0].anger_after < reactions[0].anger_before  # calmer, but says it again
    assert states[-1].ending == "resolved"


def test_a_provocation_after_accepting_withdraws_the_acceptance(voices):
    scenario = LIBRARY.get("faulty-kettle")
    states, reactions = play(scenario, [scenario.model_answer, PROVOKE], voices["calm"])
    assert reactions[0].kind == "accept"
    assert reactions[1].kind == "repeat" and states[-1].ending is None
    assert not states[-1].accepted


# --- How it was said ------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["loud", "rushed"])
def test_a_raised_or_rushed_voice_angers_more_than_the_same_words_said_calmly(voices, style):
    scenario = LIBRARY.get("late-delivery")
    text = "I'm sorry about that. Let me check with the depot."
    calm = customer.react(scenario, customer.start(scenario)[0], turn(scenario, text, voices["calm"]))[1]
    tense = customer.react(scenario, customer.start(scenario)[0], turn(scenario, text, voices[style]))[1]
    assert tense.anger_after >= calm.anger_after + 1
    assert any("raised voice" in r or "rushed pace" in r for r in tense.reasons)


def test_a_calm_voice_soothes_only_when_it_was_judged_calm(voices):
    scenario = LIBRARY.get("price-mismatch")
    text = "Let me check the label."
    calm = customer.react(scenario, customer.start(scenario)[0], turn(scenario, text, voices["calm"]))[1]
    unjudged = customer.react(scenario, customer.start(scenario)[0], turn(scenario, text, voices["unjudged"]))[1]
    assert calm.anger_after == unjudged.anger_after - 1
    assert "was soothed by your calm, unhurried voice" in calm.reasons


def test_the_delivery_rules_read_only_the_verdicts(voices):
    assert customer.delivery_effect(voices["loud_rushed"])[0] == 2
    assert customer.delivery_effect(voices["calm"])[0] == -1
    assert customer.delivery_effect(voices["unjudged"])[0] == 0
    assert customer.delivery_effect(replace(voices["calm"], lower_voice=None, speak_slowly=None))[0] == 0


# --- Every scenario ---------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_the_model_answer_calms_every_customer_and_leads_to_an_ending(voices, scenario):
    state, _ = customer.start(scenario)
    first = turn(scenario, scenario.model_answer, voices["calm"])
    assert complete(scenario, first), f"{scenario.id}: the model answer should be complete"
    reactions = []
    for _ in range(scenario.persona.needs_heard):
        state, reaction = customer.react(scenario, state, first)
        reactions.append(reaction)
        assert reaction.anger_after <= reaction.anger_before
        if state.ending or reaction.kind == "accept":
            break
    assert reactions[-1].kind in {"accept", "handover"}
    if not state.ending:
        state, reaction = customer.react(scenario, state, turn(scenario, CLOSE, voices["calm"]))
    assert state.ending == ("escalated" if reactions[-1].kind == "handover" else "resolved")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_a_provocation_angers_every_customer(voices, scenario):
    state, _ = customer.start(scenario)
    state, reaction = customer.react(scenario, state, turn(scenario, PROVOKE, voices["loud"]))
    assert reaction.anger_after > reaction.anger_before or reaction.anger_before == MAX_ANGER
    assert reaction.kind in {"repeat", "manager", "threat", "walkout"}
    assert state.ending in {None, "walked_out"}


def test_reacting_after_the_end_is_refused(voices):
    scenario = LIBRARY.get("demands-manager")
    states, _ = play(scenario, [SUPERVISOR], voices["calm"])
    with pytest.raises(ValueError, match="already ended"):
        customer.react(scenario, states[-1], turn(scenario, SHRUG, voices["calm"]))


# --- Properties -------------------------------------------------------------------------------

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
answers = st.lists(st.sampled_from(ALL_PHRASES), min_size=1, max_size=4).map(" ".join)
styles = st.sampled_from(["calm", "unjudged", "loud", "rushed", "loud_rushed"])


@PROPERTY
@given(scenario=st.sampled_from(SCENARIOS), script=st.lists(st.tuples(answers, styles), min_size=1, max_size=6))
def test_anger_stays_in_range_and_every_conversation_ends_in_time(voices, scenario, script):
    state, _ = customer.start(scenario)
    for n, (text, style) in enumerate(script, start=1):
        state, reaction = customer.react(scenario, state, turn(scenario, text, voices[style]))
        assert 0 <= reaction.anger_after <= MAX_ANGER
        assert abs(reaction.anger_after - reaction.anger_before) <= customer.MAX_STEP
        assert reaction.line and reaction.kind
        assert state.turn == n and state.said[-1] == reaction.kind
        if state.ending:
            assert state.ending in customer.ENDINGS
            break
        assert n < scenario.max_turns  # never still talking after the last turn


@PROPERTY
@given(scenario=st.sampled_from(SCENARIOS), data=st.data())
def test_a_calm_complete_answer_never_raises_anger(voices, scenario, data):
    state, _ = customer.start(scenario)
    for text, style in data.draw(st.lists(st.tuples(answers, styles), max_size=3), label="before"):
        if state.ending or state.turn + 1 >= scenario.max_turns:
            break
        state, _ = customer.react(scenario, state, turn(scenario, text, voices[style]))
    assume(state.ending is None)
    if scenario.safety:
        parts = [SECURITY, *data.draw(st.lists(st.sampled_from(HEARD_PHRASES), max_size=1))]
    else:
        parts = [
            data.draw(st.sampled_from(HEARD_PHRASES)),
            data.draw(st.sampled_from(WAY_PHRASES)),
            *data.draw(st.lists(st.sampled_from(CLOSING_PHRASES), max_size=1)),
        ]
    analysis = turn(scenario, " ".join(parts), voices[data.draw(st.sampled_from(["calm", "unjudged"]))])
    assume(complete(scenario, analysis))
    _, reaction = customer.react(scenario, state, analysis)
    assert reaction.anger_after <= reaction.anger_before


def test_the_complete_phrase_pool_is_recognised_as_complete(voices):
    """Guards the property above against passing vacuously (every example assumed away)."""
    scenario = LIBRARY.get("late-delivery")
    recognised = sum(
        complete(scenario, turn(scenario, f"{h} {w}", voices["calm"])) for h in HEARD_PHRASES for w in WAY_PHRASES
    )
    assert recognised >= len(HEARD_PHRASES) * len(WAY_PHRASES) // 2


# --- Spoken answers through the whole pipeline -----------------------------------------------


def _spoken(path, text: str, **voice) -> object:
    """An espeak-ng recording of the answer, padded and endpointed as live capture would be."""
    clip = espeak(text, path, **voice)
    return record_answer(chunks_from_clip(Clip.silence(0.5).concat(clip, Clip.silence(1.5))))


CALM = {"rate_wpm": 150, "pitch": 45}
RATTLED = {"rate_wpm": 230, "pitch": 80, "amplitude": 200}


@pytest.fixture(scope="module")
def baseline(calibration, engines):
    from kiosk.session import measure_baseline

    return measure_baseline(calibration, engines)


@pytest.mark.slow
def test_spoken_conversation_is_resolved_and_the_voice_follows_the_anger(tmp_path, engines, baseline):
    from kiosk.session import PracticeSession

    scenario = LIBRARY.get("late-delivery")
    session = PracticeSession(scenario, engines, baseline)
    opening_voice = session.current_line.voice
    first = session.answer(_spoken(tmp_path / "a1.wav", scenario.model_answer, **CALM))
    assert first.reaction.kind == "accept" and first.reaction.anger_after < first.reaction.anger_before
    calmer_voice = session.current_line.voice
    assert calmer_voice.rate_wpm < opening_voice.rate_wpm and calmer_voice.pitch < opening_voice.pitch
    assert calmer_voice.volume < opening_voice.volume
    session.answer(_spoken(tmp_path / "a2.wav", CLOSE, **CALM))
    result = session.result()
    assert session.finished and result.ending == "resolved"
    assert result.anger_curve == (scenario.persona.anger, *(t.reaction.anger_after for t in result.turns))
    assert result.anger_curve[-1] < result.anger_curve[0] and len(result.turns) == 2
    assert [t["reaction"]["kind"] for t in result.to_dict()["turns"]] == ["accept", "resolved"]


@pytest.mark.slow
def test_spoken_rattled_provocation_angers_the_customer_until_they_walk_out(tmp_path, engines, baseline):
    from kiosk.session import PracticeSession

    scenario = LIBRARY.get("faulty-kettle")
    session = PracticeSession(scenario, engines, baseline)
    opening_voice = session.current_line.voice
    rattled = _spoken(tmp_path / "b1.wav", PROVOKE, **RATTLED)
    record = session.answer(rattled)
    assert record.analysis.delivery.speak_slowly.status == "needs_work"  # 230 vs 150 wpm
    assert record.reaction.anger_after > record.reaction.anger_before
    assert record.reaction.kind in {"repeat", "manager"}
    assert any("rushed pace" in r for r in record.reaction.reasons)
    louder = session.current_line.voice
    assert louder.volume > opening_voice.volume and louder.rate_wpm > opening_voice.rate_wpm
    assert session.current_line.kind == record.reaction.kind
    while not session.finished:  # the same again
        again = session.answer(rattled)
        assert again.reaction.anger_after >= again.reaction.anger_before
    assert session.result().ending == "walked_out" and len(session.turns) < scenario.max_turns
    assert session.current_line.text == scenario.line("walkout")


@pytest.mark.slow
def test_spoken_call_for_security_ends_the_threat(tmp_path, engines, baseline):
    from kiosk.session import PracticeSession

    scenario = LIBRARY.get("threatening-customer")
    session = PracticeSession(scenario, engines, baseline)
    record = session.answer(_spoken(tmp_path / "c1.wav", scenario.model_answer, **CALM))
    assert record.reaction.kind == "handover" and session.result().ending == "escalated"
    assert "security" in record.analysis.transcript.text.lower()
