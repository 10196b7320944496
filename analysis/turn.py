"""One answer, analysed: transcript + delivery + content, the value the customer reacts to."""

from __future__ import annotations

from dataclasses import dataclass

from audio.asr import Transcript
from audio.clip import Clip
from analysis.content import ContentResult, Rubric, ScoringContext, score_content
from analysis.delivery import Baseline, CustomerVoice, DeliveryMeasures, Signal, analyze_delivery


@dataclass(frozen=True)
class TurnAnalysis:
    transcript: Transcript
    delivery: DeliveryMeasures
    content: ContentResult

    def to_dict(self) -> dict:
        return {"transcript": self.transcript.to_dict(), "delivery": self.delivery.to_dict(),
                "content": self.content.to_dict()}


def analyze_turn(clip: Clip, transcript: Transcript, rubric: Rubric,
                 context: ScoringContext = ScoringContext(), baseline: Baseline | None = None,
                 customer: CustomerVoice | None = None, signal: Signal | None = None) -> TurnAnalysis:
    return TurnAnalysis(transcript, analyze_delivery(clip, transcript, baseline, customer, signal),
                        score_content(transcript, rubric, context))
