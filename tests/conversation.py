"""Typed conversations for the customer, offer-fit and scorecard tests: an answer typed as text,
scored as a session scores a spoken one, and a run of answers until the customer ends it."""

from __future__ import annotations

from audio.asr import Transcript, Word
from analysis.delivery import DeliveryMeasures
from analysis.turn import TurnAnalysis, score_answer
from scenarios import customer
from scenarios.model import Scenario
from scenarios.rubric import load_rubric


def typed(text: str) -> Transcript:
    """A typed answer as a transcript: words 0.3 s apart, as Whisper would time them."""
    words = tuple(Word(w, 0.3 * i, 0.3 * i + 0.25, 1.0) for i, w in enumerate(text.split()))
    return Transcript(text, words, 0.3 * len(words))


def turn(scenario: Scenario, text: str, delivery: DeliveryMeasures) -> TurnAnalysis:
    """The answer scored as a session scores it: the rubric, then its offers judged against
    this scenario's remedies."""
    transcript = typed(text)
    content, offers = score_answer(transcript, load_rubric(), scenario.scoring_context())
    return TurnAnalysis(transcript, delivery, content, offers)


def play(scenario: Scenario, answers: list[str], delivery: DeliveryMeasures):
    """Run typed answers until the conversation ends; the states and reactions along the way."""
    state, _ = customer.start(scenario)
    states, reactions = [state], []
    for text in answers:
        state, reaction = customer.react(scenario, state, turn(scenario, text, delivery))
        states.append(state)
        reactions.append(reaction)
        if state.ending:
            break
    return states, reactions
