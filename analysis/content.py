"""What the answer said: rubric items found in the transcript, each with the words as evidence.

The rubric itself is data (scenarios/rubric.toml, loaded by scenarios.rubric); this module only
defines its shape and scores a transcript against it. Scoring is a pure function of the words,
the rubric and the scenario's context, so the same answer always gets the same score, and every
point earned or lost carries the quote that earned or lost it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from audio.asr import Transcript

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
    counter_examples: tuple[str, ...] = ()


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


_TOKEN = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class _Tokens:
    text: str
    """Normalised tokens joined by single spaces."""
    starts: tuple[int, ...]
    """Character offset of each token in ``text``."""
    word_of: tuple[int, ...]
    """Index into the transcript's words for each token."""


def _tokenize(transcript: Transcript) -> _Tokens:
    tokens, word_of = [], []
    for i, word in enumerate(transcript.words):
        for tok in _TOKEN.findall(word.text.lower().replace("\u2019", "'")):
            tokens.append(tok)
            word_of.append(i)
    starts, pos = [], 0
    for tok in tokens:
        starts.append(pos)
        pos += len(tok) + 1
    return _Tokens(" ".join(tokens), tuple(starts), tuple(word_of))


def _token_index(tokens: _Tokens, char: int) -> int:
    lo = 0
    for i, s in enumerate(tokens.starts):
        if s <= char:
            lo = i
        else:
            break
    return lo


def _matches(pattern: str, tokens: _Tokens) -> list[tuple[int, int]]:
    """(first, last) token indices of each match of ``pattern`` on whole words."""
    out = []
    for m in re.finditer(rf"\b(?:{pattern})\b", tokens.text):
        if m.end() > m.start():
            out.append((_token_index(tokens, m.start()), _token_index(tokens, m.end() - 1)))
    return out


def _evidence(transcript: Transcript, tokens: _Tokens, span: tuple[int, int], matched: str) -> Evidence:
    first, last = tokens.word_of[span[0]], tokens.word_of[span[1]]
    words = transcript.words[first:last + 1]
    return Evidence(" ".join(w.text for w in words), words[0].start_s, words[-1].end_s, matched)


def find_item(item: RubricItem, transcript: Transcript, tokens: _Tokens | None = None) -> tuple[Evidence, ...]:
    """Evidence of ``item`` in the transcript: pattern matches not cancelled by an ``unless``."""
    tokens = tokens or _tokenize(transcript)
    if not tokens.text:
        return ()
    cancelled = [span for pat in item.unless for span in _matches(pat, tokens)]
    found, seen = [], set()
    for pat in item.patterns:
        for span in _matches(pat, tokens):
            if any(span[0] <= c[1] and c[0] <= span[1] for c in cancelled) or span in seen:
                continue
            seen.add(span)
            found.append(_evidence(transcript, tokens, span, pat))
    return tuple(sorted(found, key=lambda e: e.start_s))


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


def score_content(transcript: Transcript, rubric: Rubric, context: ScoringContext = ScoringContext()) -> ContentResult:
    tokens = _tokenize(transcript)
    applicable = [i for i in rubric.items if _applies(i, context)]
    positives = [i for i in applicable if not i.penalty]
    total = sum(i.weight * context.weights.get(i.id, 1.0) for i in positives) or 1.0
    items, penalties, earned = [], [], 0.0
    for item in applicable:
        if item.id == "interrupt":
            evidence = _interruptions(transcript, context.customer_end_s)
        else:
            evidence = find_item(item, transcript, tokens)
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
