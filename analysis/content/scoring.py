"""Scoring one answer: every matcher's evidence per item, then points and deductions.

Scoring is a pure function of the words, the rubric and the scenario's context, so the same
answer always gets the same score, and every point earned or lost carries the quote that earned
or lost it.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

import numpy as np

from analysis.content.features import WordSpan, learned_evidence, unit_features
from analysis.content.neighbours import example_bank, nearest, neighbour_evidence
from analysis.content.patterns import Span, cancelled, pattern_spans
from analysis.content.result import ContentResult, Evidence, Finding
from analysis.content.rubric import Rubric, RubricItem, ScoringContext, applies, denials_for
from analysis.content.text import quote, segments, tokenize
from audio.asr import Transcript

if TYPE_CHECKING:
    from analysis.semantic import Encoder

log = logging.getLogger(__name__)

LONG_ANSWER_WORDS = 40
"""In a safety scenario an answer longer than this is reasoning with someone who cannot be
reasoned with (guide rule defuse-stop-reasoning)."""
_AUTO = object()


def _interruptions(transcript: Transcript, customer_end_s: float) -> tuple[Evidence, ...]:
    early = [w for w in transcript.words if w.start_s < customer_end_s - 0.3]
    if not early:
        return ()
    return (
        Evidence(
            " ".join(w.text for w in early),
            early[0].start_s,
            early[-1].end_s,
            f"spoke before the customer finished at {customer_end_s:.1f} s",
        ),
    )


def _long_answer(transcript: Transcript, words: int) -> tuple[Evidence, ...]:
    if words <= LONG_ANSWER_WORDS:
        return ()
    return (
        quote(
            transcript,
            0,
            len(transcript.words) - 1,
            f"{words} words (more than {LONG_ANSWER_WORDS}) to a customer who is past reasoning",
        ),
    )


@functools.lru_cache(maxsize=1)
def _warn_layout() -> None:
    log.warning(
        "the learned rubric weights expect other features than this scorer computes; "
        "scoring with the nearest-neighbour matcher (retrain: python scripts/train_rubric.py)"
    )


class Scorer:
    """The answer prepared once (tokens, sentences and their vectors) for all items; the training
    script reads its units, nearest-neighbour hits and features."""

    def __init__(self, transcript: Transcript, rubric: Rubric, encoder: Encoder | None) -> None:
        self.transcript, self.tokens, self.rubric = transcript, tokenize(transcript), rubric
        self.encoder = encoder.identity if encoder is not None else ""
        self.bank = example_bank(encoder, rubric) if encoder is not None else None
        self.units = segments(transcript) if self.bank is not None and self.tokens.text else ()
        self.texts = [" ".join(w.text for w in transcript.words[a : b + 1]) for a, b in self.units]
        self.vectors = encoder.encode(self.texts) if self.units else np.zeros((0, 384), np.float32)
        self.sims = self.vectors @ self.bank.vectors.T if self.units else np.zeros((0, 0), np.float32)
        self.hits = nearest(self.bank, self.sims, rubric) if self.units and len(self.bank.texts) else {}
        self._patterns: dict[str, list[tuple[str, Span]]] = {}
        self.probabilities: dict[str, np.ndarray] = {}
        if rubric.learned is not None and self.units:
            features, names = self.features()
            if names == rubric.learned.features:
                self.probabilities = rubric.learned.probabilities(features, self.texts)
            else:
                _warn_layout()

    def patterns(self, item: RubricItem) -> list[tuple[str, Span]]:
        """The item's uncancelled pattern matches, found once per answer: the features, the
        evidence and the learned layer's overlap check all read them."""
        if item.id not in self._patterns:
            self._patterns[item.id] = pattern_spans(item, denials_for(item, self.rubric), self.tokens)
        return self._patterns[item.id]

    def _pattern_words(self, item: RubricItem) -> list[WordSpan]:
        return [self.tokens.words(span) for _, span in self.patterns(item)]

    def features(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """The learned layer's input for this answer's units (analysis.content.features)."""
        return unit_features(
            self.units, self.vectors, self.sims, self.bank, self.rubric, self._pattern_words, self.encoder
        )

    def _learned(self, item: RubricItem) -> list[Evidence]:
        """Evidence the item's model adds where neither a pattern nor the nearest-neighbour
        decision found the item; a unit holding one of its cancelling phrases (negation, a shrug,
        a denial) is skipped, as in the other two matchers."""
        taken = [self.units[u] for u, _, _ in self.hits.get(item.id, ())]
        taken += self._pattern_words(item)
        taken += [self.tokens.words(span) for span in cancelled(item, denials_for(item, self.rubric), self.tokens)]
        return learned_evidence(
            item,
            self.probabilities[item.id],
            self.rubric.learned.threshold_of(item.id),
            self.units,
            taken,
            self.transcript,
            self.bank,
            self.sims,
        )

    def evidence(self, item: RubricItem, context: ScoringContext) -> tuple[Evidence, ...]:
        if item.id == "interrupt":
            return _interruptions(self.transcript, context.customer_end_s)
        if item.id == "reason_at_length":
            return _long_answer(self.transcript, len(self.tokens.starts))
        found = [
            quote(self.transcript, *self.tokens.words(span), f"pattern: {pat}") for pat, span in self.patterns(item)
        ]
        if item.id in self.hits:
            spans = [(e.start_s, e.end_s, e.quote) for e in found]
            for e in neighbour_evidence(
                item,
                denials_for(item, self.rubric),
                self.transcript,
                self.tokens,
                self.units,
                self.hits[item.id],
                self.bank,
            ):
                if not any(e.quote == q or (q in e.quote and e.start_s <= s and t <= e.end_s) for s, t, q in spans):
                    found.append(e)
        if item.id in self.probabilities:
            found += self._learned(item)
        return tuple(sorted(found, key=lambda e: (e.start_s, e.quote)))


def score_content(
    transcript: Transcript,
    rubric: Rubric,
    context: ScoringContext = ScoringContext(),
    encoder: Encoder | None | object = _AUTO,
) -> ContentResult:
    """Score one answer. ``encoder`` defaults to the installed embedding model (see
    analysis.semantic); pass None to score with the transparent patterns only."""
    if encoder is _AUTO:
        from analysis.semantic import load_encoder

        encoder = load_encoder()
    scorer = Scorer(transcript, rubric, encoder)
    applicable = [i for i in rubric.items if applies(i, context)]
    positives = [i for i in applicable if not i.penalty]
    total = sum(i.weight * context.weights.get(i.id, 1.0) for i in positives) or 1.0
    items, penalties, earned = [], [], 0.0
    for item in applicable:
        evidence = scorer.evidence(item, context)
        weight = item.weight * context.weights.get(item.id, 1.0)
        if item.penalty:
            penalties.append(
                Finding(
                    item.id,
                    bool(evidence),
                    -round(weight, 1) if evidence else 0.0,
                    round(weight, 1),
                    item.source,
                    item.description,
                    evidence,
                )
            )
        else:
            worth = round(100.0 * weight / total, 1)
            points = worth if evidence else 0.0
            earned += points
            items.append(Finding(item.id, bool(evidence), points, worth, item.source, item.description, evidence))
    deducted = sum(-p.points for p in penalties)
    score = int(max(0, min(100, round(earned - deducted))))
    return ContentResult(score, tuple(items), tuple(penalties))
