"""One answer, analysed: transcript + delivery + content, the value the customer reacts to."""

from __future__ import annotations

from dataclasses import dataclass

from audio.asr import Transcript
from audio.clip import Clip
from analysis.content import ContentResult, Rubric, ScoringContext, score_content
from analysis.delivery import Baseline, CustomerVoice, DeliveryMeasures, Signal, analyze_delivery
from analysis.offer_fit import Offer, judge_offers


@dataclass(frozen=True)
class TurnAnalysis:
    transcript: Transcript
    delivery: DeliveryMeasures
    content: ContentResult
    offers: tuple[Offer, ...] = ()
    """Each sentence that offered a way forward, judged against the scenario's remedies."""

    @property
    def misfits(self) -> tuple[Offer, ...]:
        """Offers that answer some other problem than this customer's."""
        return tuple(o for o in self.offers if not o.fits)

    def to_dict(self) -> dict:
        return {
            "transcript": self.transcript.to_dict(),
            "delivery": self.delivery.to_dict(),
            "content": self.content.to_dict(),
            "offers": [o.to_dict() for o in self.offers],
        }


def score_answer(
    transcript: Transcript, rubric: Rubric, context: ScoringContext = ScoringContext()
) -> tuple[ContentResult, tuple[Offer, ...]]:
    """What the answer said, for this scenario: the rubric's findings, with offers that miss the
    customer's problem taken out (analysis.offer_fit), and every offer with its verdict."""
    return judge_offers(transcript, score_content(transcript, rubric, context), context)


def analyze_turn(
    clip: Clip,
    transcript: Transcript,
    rubric: Rubric,
    context: ScoringContext = ScoringContext(),
    baseline: Baseline | None = None,
    customer: CustomerVoice | None = None,
    signal: Signal | None = None,
) -> TurnAnalysis:
    content, offers = score_answer(transcript, rubric, context)
    return TurnAnalysis(transcript, analyze_delivery(clip, transcript, baseline, customer, signal), content, offers)
