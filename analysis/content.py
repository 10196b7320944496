"""What the answer said: rubric items found in the transcript, each with the words as evidence.

The rubric itself is data (scenarios/rubric.toml, loaded by scenarios.rubric); this module only
defines its shape and scores a transcript against it. Scoring is a pure function of the words,
the rubric and the scenario's context, so the same answer always gets the same score, and every
point earned or lost carries the quote that earned or lost it.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from audio.asr import Transcript, Word

if TYPE_CHECKING:
    from analysis.learned import ItemModels
    from analysis.semantic import Encoder

log = logging.getLogger(__name__)

APPLIES = ("always", "safety", "non_safety")
MECHANICAL = frozenset({"interrupt", "reason_at_length"})
"""Items decided by timing or length, not by the words (no patterns, examples or models)."""


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
    overlaps: tuple[str, ...] = ()
    """Items one sentence may earn together with this one (docs/labelling.md: "I'll ring you on
    Friday" is a commitment and a follow-up). Their examples do not compete with this item's in
    the nearest-neighbour decision; every other item's do."""


@dataclass(frozen=True)
class Rubric:
    items: tuple[RubricItem, ...]
    margin: float = 0.05
    """How far below a sentence's nearest example (over every item's examples) an item's own
    nearest example may fall and still earn it. Small: a sentence earns the items its nearest
    neighbours belong to, not every item it is loosely near; not zero, because one sentence can
    be a remedy, a commitment and a follow-up at once (docs/labelling.md)."""
    learned: ItemModels | None = field(default=None, repr=False, compare=False)
    """Per-item models trained on the labelled answers for exactly this rubric (analysis.learned).
    When present and the encoder is installed, a sentence the model is confident about earns its
    item (or costs its penalty, at a stricter threshold: a wrong deduction costs more trust than a
    missed point) even where no pattern or example matched. None: patterns and the
    nearest-neighbour matcher only."""

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


def _pattern_spans(item: RubricItem, tokens: _Tokens) -> list[tuple[str, tuple[int, int]]]:
    """(pattern, token span) of each match of the item's patterns not cancelled by an ``unless``."""
    if not tokens.text:
        return []
    cancelled = _cancelled(item, tokens)
    found, seen = [], set()
    for pat in item.patterns:
        for span in _matches(pat, tokens, within_sentence=True):
            if any(span[0] <= c[1] and c[0] <= span[1] for c in cancelled) or span in seen:
                continue
            seen.add(span)
            found.append((pat, span))
    return found


_CLAUSE_END = re.compile(r"[.?!;:]$")
_CLAUSE_BREAK = re.compile(r",$")
_CLAUSE_START = frozenset({"but", "though", "although"})
"""Words that open a new idea inside a sentence ("I can't refund it but I can swap it")."""


WHOLE_SENTENCE_WORDS = 8
"""A sentence up to this long is compared whole as well as clause by clause; a longer one that
splits into clauses only by its clauses (it is near no one-idea example as a whole, and encoding
it twice would double the cost per answer)."""


def segments(transcript: Transcript) -> tuple[tuple[int, int], ...]:
    """(first, last) word indices of the units compared with the examples: sentences, and the
    clauses of sentences that string several ideas together.

    Whisper punctuates its transcripts; a typed answer usually is too. The examples hold one idea
    each, and a sentence like "I'm so sorry, that must have been awful, I'll ring you tomorrow"
    sits between them and near none, so its clauses (split at commas and before "but") are what
    is compared.
    """
    words = transcript.words
    sentences, start = [], 0
    for i, w in enumerate(words):
        if _CLAUSE_END.search(w.text) or i == len(words) - 1:
            sentences.append((start, i))
            start = i + 1
    out = []
    for first, last in sentences:
        clauses, c_start = [], first
        for i in range(first, last + 1):
            opens = i + 1 <= last and words[i + 1].text.lower().strip(",.") in _CLAUSE_START
            if _CLAUSE_BREAK.search(words[i].text) or opens or i == last:
                if i - c_start >= 1:  # a one-word clause ("Okay,") says nothing on its own
                    clauses.append((c_start, i))
                c_start = i + 1
        if len(clauses) < 2 or last - first + 1 <= WHOLE_SENTENCE_WORDS:
            out.append((first, last))
        if len(clauses) >= 2:
            out.extend(clauses)
    return tuple(out)


@dataclass(frozen=True)
class _ExampleBank:
    """Every semantic item's examples and counter-examples as one matrix, so a sentence is
    compared with all of them in one product and its nearest neighbours can be read off."""

    vectors: np.ndarray
    """Unit rows: all examples, then all counter-examples."""
    texts: tuple[str, ...]
    rows: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    """Per item: its example rows, its counter-example rows, and the mask of rival rows (the
    examples of every item it does not overlap with, itself included)."""


@functools.lru_cache(maxsize=4)
def _example_bank(encoder: Encoder, rubric: Rubric) -> _ExampleBank:
    """The semantic items' example vectors, computed once per rubric. Hundreds of examples take
    tens of seconds to encode on the kiosk's CPU, so the encoder also keeps them on disk."""
    semantic = [i for i in rubric.items if i.threshold > 0 and i.examples]
    texts = [t for i in semantic for t in i.examples] + [t for i in semantic for t in i.counter_examples]
    item_of = [i.id for i in semantic for _ in i.examples] + [i.id for i in semantic for _ in i.counter_examples]
    counter = np.arange(len(texts)) >= sum(len(i.examples) for i in semantic)
    partners = {i.id: set(i.overlaps) for i in rubric.items}
    for item in rubric.items:
        for other in item.overlaps:
            partners.setdefault(other, set()).add(item.id)
    ids = np.array(item_of)
    rows = {}
    for item in semantic:
        mine = ids == item.id
        rivals = ~counter & ~np.isin(ids, sorted(partners.get(item.id, ())))
        rows[item.id] = (np.flatnonzero(mine & ~counter), np.flatnonzero(mine & counter), rivals)
    vectors = encoder.encode(texts, persist=True) if texts else np.zeros((0, 384), np.float32)
    return _ExampleBank(vectors, tuple(texts), rows)


def _nearest(bank: _ExampleBank, sims: np.ndarray, rubric: Rubric) -> dict[str, list[tuple[int, int, float]]]:
    """(unit, example row, similarity) per item for the sentences that earn it.

    A sentence earns item X when X's nearest example is at least X's threshold, is within the
    rubric's margin of the sentence's nearest example of any rival item (so its nearest
    neighbours belong to X, not to a neighbouring item it merely resembles; items X overlaps
    with are not rivals), and is closer than every counter-example of X (this is how "sorry you
    feel that way" stays out of apology). ``sims``: each unit's similarity to every bank row."""
    units = np.arange(sims.shape[0])
    out: dict[str, list[tuple[int, int, float]]] = {}
    for item_id, (pos_rows, neg_rows, rivals) in bank.rows.items():
        best = pos_rows[sims[:, pos_rows].argmax(axis=1)]
        sim = sims[units, best]
        earned = (sim >= rubric.get(item_id).threshold) & (sim >= sims[:, rivals].max(axis=1) - rubric.margin)
        if len(neg_rows):
            earned &= sim > sims[:, neg_rows].max(axis=1)
        if earned.any():
            out[item_id] = [(int(u), int(best[u]), float(sim[u])) for u in np.flatnonzero(earned)]
    return out


def _semantic(item: RubricItem, transcript: Transcript, tokens: _Tokens, units: tuple[tuple[int, int], ...],
              hits: list[tuple[int, int, float]], bank: _ExampleBank) -> tuple[Evidence, ...]:
    """Evidence for the sentences that earned the item; one holding an ``unless`` match
    (negation, sarcasm) is skipped."""
    cancelled_words = {tokens.word_of[i] for c in _cancelled(item, tokens) for i in range(c[0], c[1] + 1)}
    found = []
    for u, row, sim in hits:
        first, last = units[u]
        if cancelled_words & set(range(first, last + 1)):
            continue
        found.append(_quote(transcript, first, last, f"example ({sim:.2f}): {bank.texts[row]}"))
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


@functools.lru_cache(maxsize=1)
def _warn_layout() -> None:
    log.warning("the learned rubric weights expect other features than this scorer computes; "
                "scoring with the nearest-neighbour matcher (retrain: python scripts/train_rubric.py)")


class _Scorer:
    """The answer prepared once (tokens, sentences and their vectors) for all items."""

    def __init__(self, transcript: Transcript, rubric: Rubric, encoder: Encoder | None) -> None:
        self.transcript, self.tokens, self.rubric = transcript, _tokenize(transcript), rubric
        self.bank = _example_bank(encoder, rubric) if encoder is not None else None
        self.units = segments(transcript) if self.bank is not None and self.tokens.text else ()
        self.texts = [" ".join(w.text for w in transcript.words[a:b + 1]) for a, b in self.units]
        self.vectors = encoder.encode(self.texts) if self.units else np.zeros((0, 384), np.float32)
        self.sims = self.vectors @ self.bank.vectors.T if self.units else np.zeros((0, 0), np.float32)
        self.hits = _nearest(self.bank, self.sims, rubric) if self.units and len(self.bank.texts) else {}
        self._patterns: dict[str, list[tuple[str, tuple[int, int]]]] = {}
        self.probabilities: dict[str, np.ndarray] = {}
        if rubric.learned is not None and self.units:
            features, names = self.features()
            if names == rubric.learned.features:
                self.probabilities = rubric.learned.probabilities(features, self.texts)
            else:
                _warn_layout()

    def patterns(self, item: RubricItem) -> list[tuple[str, tuple[int, int]]]:
        """The item's uncancelled pattern matches, found once per answer: the features, the
        evidence and the learned layer's overlap check all read them."""
        if item.id not in self._patterns:
            self._patterns[item.id] = _pattern_spans(item, self.tokens)
        return self._patterns[item.id]

    def _words(self, span: tuple[int, int]) -> tuple[int, int]:
        """A token span as (first, last) word indices, the units' coordinates."""
        return self.tokens.word_of[span[0]], self.tokens.word_of[span[1]]

    def features(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """One row per unit, and the columns' names: the unit's vector, its nearest similarity to
        each semantic item's examples and counter-examples, and whether each item's patterns
        match inside it. analysis.learned's models are trained and applied on exactly these."""
        names = [f"vector.{i}" for i in range(self.vectors.shape[1])]
        columns = [self.vectors.astype(np.float64)]
        for item_id, (pos_rows, neg_rows, _) in self.bank.rows.items():
            names += [f"sim:{item_id}", f"counter:{item_id}"]
            columns.append(self.sims[:, pos_rows].max(axis=1, keepdims=True))
            columns.append(self.sims[:, neg_rows].max(axis=1, keepdims=True) if len(neg_rows)
                           else np.zeros((len(self.units), 1)))
        for item in self.rubric.items:
            if item.id in MECHANICAL:
                continue
            names.append(f"pattern:{item.id}")
            words = [self._words(span) for _, span in self.patterns(item)]
            columns.append(np.array([[float(any(first <= a and b <= last for a, b in words))]
                                     for first, last in self.units]).reshape(-1, 1))
        return np.hstack(columns), tuple(names)

    def _learned(self, item: RubricItem) -> list[Evidence]:
        """Evidence the item's model adds: units at or above its threshold where neither a pattern
        nor the nearest-neighbour decision found the item (nor in a unit overlapping one that
        did), most probable first, one per stretch of words, each with its nearest example. A
        unit holding one of the item's ``unless`` phrases (negation, a shrug) is skipped, as in
        the other two matchers, and so is a one-word sentence ("Okay.", "Right."): on one word
        the model only echoes how often that word opened a labelled answer, and whether a bare
        "okay" acknowledges is exactly where the labellers differed; the patterns judge those."""
        p = self.probabilities[item.id]
        threshold = self.rubric.learned.threshold_of(item.id)
        taken = [self.units[u] for u, _, _ in self.hits.get(item.id, ())]
        taken += [self._words(span) for _, span in self.patterns(item)]
        taken += [self._words(span) for span in _cancelled(item, self.tokens)]
        found = []
        for u in sorted(np.flatnonzero(p >= threshold), key=lambda u: (-p[u], u)):
            first, last = self.units[u]
            if first == last or any(first <= b and a <= last for a, b in taken):
                continue
            taken.append((first, last))
            reason = f"model {p[u]:.2f}"
            if item.id in self.bank.rows and len(self.bank.rows[item.id][0]):
                rows = self.bank.rows[item.id][0]
                row = rows[self.sims[u, rows].argmax()]
                reason += f", nearest example ({self.sims[u, row]:.2f}): {self.bank.texts[row]}"
            found.append(_quote(self.transcript, first, last, reason))
        return found

    def evidence(self, item: RubricItem, context: ScoringContext) -> tuple[Evidence, ...]:
        if item.id == "interrupt":
            return _interruptions(self.transcript, context.customer_end_s)
        if item.id == "reason_at_length":
            return _long_answer(self.transcript, self.tokens)
        found = [_evidence(self.transcript, self.tokens, span, f"pattern: {pat}") for pat, span in self.patterns(item)]
        if item.id in self.hits:
            spans = [(e.start_s, e.end_s, e.quote) for e in found]
            for e in _semantic(item, self.transcript, self.tokens, self.units, self.hits[item.id], self.bank):
                if not any(e.quote == q or (q in e.quote and e.start_s <= s and t <= e.end_s)
                           for s, t, q in spans):
                    found.append(e)
        if item.id in self.probabilities:
            found += self._learned(item)
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
