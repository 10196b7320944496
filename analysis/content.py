"""What the answer said: rubric items found in the transcript, each with the words as evidence.

The rubric itself is data (scenarios/rubric.toml, loaded by scenarios.rubric); this module only
defines its shape and scores a transcript against it. Scoring is a pure function of the words,
the rubric and the scenario's context, so the same answer always gets the same score, and every
point earned or lost carries the quote that earned or lost it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from audio.asr import Transcript, Word

if TYPE_CHECKING:
    from analysis.semantic import Encoder

APPLIES = ("always", "safety", "non_safety")


@dataclass(frozen=True)
class RubricItem:
    id: str
    description: str
    """What the item asks for, in words a trainee understands."""
    source: str
    """The guide it comes from, by file prefix ("003")."""
    weight: float = 1.0
    """Relative weight among the items (scaled so the applicable items sum to 100 points);
    for penalties, the points deducted."""
    penalty: bool = False
    applies: str = "always"
    """"always", "safety" (violent or drunk customer) or "non_safety"."""
    tip: str = ""
    """Advice when the item is missed (or, for a penalty, when it is hit)."""
    patterns: tuple[str, ...] = ()
    """Regular expressions over the normalised transcript (lower case, no punctuation)."""
    unless: tuple[str, ...] = ()
    """Patterns that cancel a match they overlap (negation, sarcasm: "not blaming you")."""
    examples: tuple[str, ...] = ()
    """Sentences that earn the item; the semantic matcher compares the answer with them."""
    counter_examples: tuple[str, ...] = ()
    """Near misses that must not earn it; a sentence closer to one of these than to every
    example is not a match (this is how "sorry you feel that way" stays out of apology)."""
    threshold: float = 0.0
    """Cosine similarity an answer sentence needs to an example (0: patterns only)."""


@dataclass(frozen=True)
class Rubric:
    items: tuple[RubricItem, ...]

    def get(self, item_id: str) -> RubricItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(i.id for i in self.items)


@dataclass(frozen=True)
class ScoringContext:
    """What the scenario changes about scoring."""

    weights: Mapping[str, float] = field(default_factory=dict)
    """Multipliers on item weights for this scenario (0 turns an item off)."""
    safety: bool = False
    """The customer is violent or intoxicated: security, not reasoning, is the right answer."""
    customer_end_s: float | None = None
    """When the customer stopped talking, on the answer's clock; words before it interrupt."""


@dataclass(frozen=True)
class Evidence:
    quote: str
    """The trainee's words, as transcribed."""
    start_s: float
    end_s: float
    matched: str
    """The pattern or example the words matched."""


@dataclass(frozen=True)
class Finding:
    id: str
    hit: bool
    points: float
    """Points earned (items, 0 when missed) or deducted (penalties, negative when hit)."""
    max_points: float
    """What the item is worth here (penalties: the deduction if hit)."""
    source: str
    description: str
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class ContentResult:
    score: int
    """0-100."""
    items: tuple[Finding, ...]
    penalties: tuple[Finding, ...]

    def to_dict(self) -> dict:
        return asdict(self)

    def finding(self, item_id: str) -> Finding | None:
        for f in (*self.items, *self.penalties):
            if f.id == item_id:
                return f
        return None


def typed_transcript(text: str) -> Transcript:
    """A typed answer as a transcript: it has no timing, so every word sits at 0 s."""
    return Transcript(text, tuple(Word(w, 0.0, 0.0, 1.0) for w in text.split()), 0.0)


_TOKEN = re.compile(r"[a-z0-9']+")
_SENTENCE_END = re.compile(r"[.?!;]$")
FILLERS = frozenset({"um", "umm", "uh", "uhh", "erm", "er", "ah", "hmm", "mm", "uhm"})
"""Hesitations dropped before matching, so "I'm, um, so sorry" still reads as an apology."""
LONG_ANSWER_WORDS = 40
"""In a safety scenario an answer longer than this is reasoning with someone who cannot be
reasoned with (guide 003: know when enough is enough)."""
_AUTO = object()


@dataclass(frozen=True)
class _Tokens:
    text: str
    """Normalised tokens joined by single spaces, one sentence per line."""
    starts: tuple[int, ...]
    """Character offset of each token in ``text``."""
    word_of: tuple[int, ...]
    """Index into the transcript's words for each token."""
    sentence_ends: frozenset[int] = frozenset()
    """Tokens that end a sentence: a pattern may not run across a full stop."""


def _tokenize(transcript: Transcript) -> _Tokens:
    tokens, word_of, ends = [], [], set()
    for i, word in enumerate(transcript.words):
        for tok in _TOKEN.findall(word.text.lower().replace("\u2019", "'")):
            if tok in FILLERS:
                continue
            tokens.append(tok)
            word_of.append(i)
        if tokens and _SENTENCE_END.search(word.text):
            ends.add(len(tokens) - 1)
    starts, pos = [], 0
    for tok in tokens:
        starts.append(pos)
        pos += len(tok) + 1
    # Sentences are separate lines: `^` and `$` (re.M) mark a sentence's start and end, and a
    # pattern's spaces never reach into the next sentence.
    text = "".join(tok + ("\n" if i in ends else " ") for i, tok in enumerate(tokens))[:-1]
    return _Tokens(text, tuple(starts), tuple(word_of), frozenset(ends))


def _token_index(tokens: _Tokens, char: int) -> int:
    lo = 0
    for i, s in enumerate(tokens.starts):
        if s <= char:
            lo = i
        else:
            break
    return lo


def _matches(pattern: str, tokens: _Tokens, within_sentence: bool = False) -> list[tuple[int, int]]:
    """(first, last) token indices of each match of ``pattern`` on whole words."""
    out = []
    for m in re.finditer(rf"\b(?:{pattern})\b", tokens.text, re.M):
        if m.end() > m.start():
            span = (_token_index(tokens, m.start()), _token_index(tokens, m.end() - 1))
            if within_sentence and any(i in tokens.sentence_ends for i in range(span[0], span[1])):
                continue
            out.append(span)
    return out


def _quote(transcript: Transcript, first: int, last: int, matched: str) -> Evidence:
    words = transcript.words[first:last + 1]
    return Evidence(" ".join(w.text for w in words), words[0].start_s, words[-1].end_s, matched)


def _evidence(transcript: Transcript, tokens: _Tokens, span: tuple[int, int], matched: str) -> Evidence:
    return _quote(transcript, tokens.word_of[span[0]], tokens.word_of[span[1]], matched)


def _cancelled(item: RubricItem, tokens: _Tokens) -> list[tuple[int, int]]:
    return [span for pat in item.unless for span in _matches(pat, tokens)]


def find_item(item: RubricItem, transcript: Transcript, tokens: _Tokens | None = None) -> tuple[Evidence, ...]:
    """Evidence of ``item`` in the transcript: pattern matches not cancelled by an ``unless``."""
    tokens = tokens or _tokenize(transcript)
    if not tokens.text:
        return ()
    cancelled = _cancelled(item, tokens)
    found, seen = [], set()
    for pat in item.patterns:
        for span in _matches(pat, tokens, within_sentence=True):
            if any(span[0] <= c[1] and c[0] <= span[1] for c in cancelled) or span in seen:
                continue
            seen.add(span)
            found.append(_evidence(transcript, tokens, span, f"pattern: {pat}"))
    return tuple(sorted(found, key=lambda e: e.start_s))


_CLAUSE_END = re.compile(r"[.?!;:]$")
_CLAUSE_BREAK = re.compile(r",$")


def segments(transcript: Transcript) -> tuple[tuple[int, int], ...]:
    """(first, last) word indices of the sentences, and of the comma clauses of long ones.

    Whisper punctuates its transcripts; a typed answer usually is too. One idea per sentence is
    what the examples hold, so sentences are what the embedding compares; a long sentence that
    strings several ideas together with commas is also compared clause by clause.
    """
    words = transcript.words
    sentences, start = [], 0
    for i, w in enumerate(words):
        if _CLAUSE_END.search(w.text) or i == len(words) - 1:
            sentences.append((start, i))
            start = i + 1
    out = list(sentences)
    for first, last in sentences:
        if last - first < 12:
            continue
        c_start = first
        for i in range(first, last + 1):
            if _CLAUSE_BREAK.search(words[i].text) or i == last:
                if (c_start, i) != (first, last) and i - c_start >= 2:
                    out.append((c_start, i))
                c_start = i + 1
    return tuple(out)


@functools.lru_cache(maxsize=4)
def _example_vectors(encoder: Encoder, rubric: Rubric) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each semantic item's (examples, counter-examples) vectors, computed once per rubric."""
    out = {}
    for item in rubric.items:
        if item.threshold > 0 and item.examples:
            out[item.id] = (encoder.encode(item.examples, persist=True),
                            encoder.encode(item.counter_examples, persist=True))
    return out


def _semantic(item: RubricItem, transcript: Transcript, tokens: _Tokens, units: tuple[tuple[int, int], ...],
              unit_vectors: np.ndarray, vectors: tuple[np.ndarray, np.ndarray]) -> tuple[Evidence, ...]:
    """Sentences closer than the item's threshold to an example and closer to it than to any
    counter-example; a sentence holding an ``unless`` match (negation, sarcasm) is skipped."""
    examples, counters = vectors
    pos = unit_vectors @ examples.T
    neg = unit_vectors @ counters.T if len(counters) else np.zeros((len(units), 1))
    cancelled_words = {tokens.word_of[i] for c in _cancelled(item, tokens) for i in range(c[0], c[1] + 1)}
    found = []
    for u, (first, last) in enumerate(units):
        best = int(pos[u].argmax())
        if pos[u, best] < item.threshold or pos[u, best] <= neg[u].max():
            continue
        if cancelled_words & set(range(first, last + 1)):
            continue
        found.append(_quote(transcript, first, last,
                            f"example ({pos[u, best]:.2f}): {item.examples[best]}"))
    return tuple(found)


def _applies(item: RubricItem, context: ScoringContext) -> bool:
    if context.weights.get(item.id, 1.0) <= 0:
        return False
    if item.id == "interrupt" and context.customer_end_s is None:
        return False
    return (item.applies == "always" or (item.applies == "safety" and context.safety)
            or (item.applies == "non_safety" and not context.safety))


def _interruptions(transcript: Transcript, customer_end_s: float) -> tuple[Evidence, ...]:
    early = [w for w in transcript.words if w.start_s < customer_end_s - 0.3]
    if not early:
        return ()
    return (Evidence(" ".join(w.text for w in early), early[0].start_s, early[-1].end_s,
                     f"spoke before the customer finished at {customer_end_s:.1f} s"),)


def _long_answer(transcript: Transcript, tokens: _Tokens) -> tuple[Evidence, ...]:
    n = len(tokens.starts)
    if n <= LONG_ANSWER_WORDS:
        return ()
    return (_quote(transcript, 0, len(transcript.words) - 1,
                   f"{n} words (more than {LONG_ANSWER_WORDS}) to a customer who is past reasoning"),)


class _Scorer:
    """The answer prepared once (tokens, sentences and their vectors) for all items."""

    def __init__(self, transcript: Transcript, rubric: Rubric, encoder: Encoder | None) -> None:
        self.transcript, self.tokens = transcript, _tokenize(transcript)
        self.vectors = _example_vectors(encoder, rubric) if encoder is not None else {}
        self.units = segments(transcript) if self.vectors and self.tokens.text else ()
        self.unit_vectors = (encoder.encode([" ".join(w.text for w in transcript.words[a:b + 1])
                                             for a, b in self.units]) if self.units else None)

    def evidence(self, item: RubricItem, context: ScoringContext) -> tuple[Evidence, ...]:
        if item.id == "interrupt":
            return _interruptions(self.transcript, context.customer_end_s)
        if item.id == "reason_at_length":
            return _long_answer(self.transcript, self.tokens)
        found = list(find_item(item, self.transcript, self.tokens))
        if item.id in self.vectors and self.units:
            spans = [(e.start_s, e.end_s, e.quote) for e in found]
            for e in _semantic(item, self.transcript, self.tokens, self.units, self.unit_vectors,
                               self.vectors[item.id]):
                if not any(e.quote == q or (q in e.quote and e.start_s <= s and t <= e.end_s)
                           for s, t, q in spans):
                    found.append(e)
        return tuple(sorted(found, key=lambda e: (e.start_s, e.quote)))


def score_content(transcript: Transcript, rubric: Rubric, context: ScoringContext = ScoringContext(),
                  encoder: Encoder | None | object = _AUTO) -> ContentResult:
    """Score one answer. ``encoder`` defaults to the installed embedding model (see
    analysis.semantic); pass None to score with the transparent patterns only."""
    if encoder is _AUTO:
        from analysis.semantic import load_encoder

        encoder = load_encoder()
    scorer = _Scorer(transcript, rubric, encoder)
    applicable = [i for i in rubric.items if _applies(i, context)]
    positives = [i for i in applicable if not i.penalty]
    total = sum(i.weight * context.weights.get(i.id, 1.0) for i in positives) or 1.0
    items, penalties, earned = [], [], 0.0
    for item in applicable:
        evidence = scorer.evidence(item, context)
        weight = item.weight * context.weights.get(item.id, 1.0)
        if item.penalty:
            penalties.append(Finding(item.id, bool(evidence), -round(weight, 1) if evidence else 0.0,
                                     round(weight, 1), item.source, item.description, evidence))
        else:
            worth = round(100.0 * weight / total, 1)
            points = worth if evidence else 0.0
            earned += points
            items.append(Finding(item.id, bool(evidence), points, worth, item.source,
                                 item.description, evidence))
    deducted = sum(-p.points for p in penalties)
    score = int(max(0, min(100, round(earned - deducted))))
    return ContentResult(score, tuple(items), tuple(penalties))
