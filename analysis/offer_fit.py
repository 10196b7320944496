"""Whether an offer answers *this* customer's problem.

The rubric recognises the kind of thing said ("I can book the first slot tomorrow" is an
option); it cannot know that a delivery slot means nothing to a customer whose advertised
television sold out. Each scenario therefore names what would settle it (``remedies``) and
the offers that miss (``not_remedies``), and every sentence that earned ``options`` or
``keepable_promise`` is compared with both: it fits when its nearest remedy is close enough
and closer than every not-remedy. Offers that fit keep their points, with the remedy they
matched as evidence; the others lose them and are returned as misfits, so the customer can say
"that's got nothing to do with my TV" and the score cannot be earned with one memorised
paragraph.

Sentences are compared with the same MiniLM encoder as the rubric's examples
(analysis.semantic). Without the encoder, content words shared with a remedy decide instead:
cruder, but an offer naming the customer's own things still fits and a stock paragraph about
somebody else's still misses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from analysis.content import ContentResult, Evidence, Finding, ScoringContext, segments
from audio.asr import Transcript

if TYPE_CHECKING:
    from analysis.semantic import Encoder

OFFER_ITEMS = ("options", "keepable_promise")
"""The rubric items that are a way forward of the trainee's own, and so must fit the problem.
A supervisor or a "let's" is a way forward whatever the problem, and is not judged here."""

FIT_FLOOR = 0.45
"""Cosine similarity an offer needs to its nearest remedy. Remedies are short paraphrases of
one offer each; a sentence that really makes that offer sits at 0.5-0.8 from it, while a
generic promise ("let me check what I can do") sits near 0.3-0.4 from all of them."""
FIT_MARGIN = 0.05
"""How much nearer the offer must be to its remedy than to the nearest not-remedy (the other
scenarios' remedies among them). Generic frames ("let me ask my supervisor about ...") sit
almost equally near several problems' remedies; such an offer settles none of them for sure."""
MIN_SHARED_WORDS = 2
"""Without the encoder: content words an offer must share with a remedy to fit."""

_AUTO = object()
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    """a an the and or but if so to of in on at for from with by as is are was be been
it its it's this that these those you your yours i i'm i'll me my we we'll our us he she they them
their his her can could will would shall should may might do does did have has had get got just now
today right then there here what which who when where how all any some one more no not very too
let let's make sure okay also either whichever prefer rather like want else than""".split()
)


@dataclass(frozen=True)
class Offer:
    """One sentence of the answer that offered a way forward, and how well it fits."""

    quote: str
    start_s: float
    end_s: float
    items: tuple[str, ...]
    """The rubric items the sentence earned (``options``, ``keepable_promise``)."""
    fits: bool
    remedy: str
    """The nearest of the scenario's remedies."""
    remedy_similarity: float
    """Cosine similarity to it (shared content words without the encoder)."""
    miss: str
    """The nearest of the scenario's not-remedies (its own misses and, in a library, the other
    scenarios' remedies)."""
    miss_similarity: float

    def to_dict(self) -> dict:
        return asdict(self)


def _words(text: str) -> set[str]:
    """Content words, a plural's "s" dropped: what an offer and a remedy can share."""
    return {
        w.rstrip("s") if len(w) > 3 else w for w in _WORD.findall(text.lower().replace("\u2019", "'")) if w not in _STOP
    }


def _sentence(transcript: Transcript, units: tuple[tuple[int, int], ...], e: Evidence) -> tuple[int, int]:
    """The smallest unit (clause or sentence) holding the evidence's words: a pattern's
    evidence is a fragment ("I can book"), and the offer is the clause around it."""
    texts = [w.text for w in transcript.words]
    n = len(e.quote.split())
    starts = [i for i in range(len(texts) - n + 1) if " ".join(texts[i : i + n]) == e.quote]
    timed = [i for i in starts if transcript.words[i].start_s == e.start_s]
    first = (timed or starts or [0])[0]
    last = first + max(n, 1) - 1
    holding = [u for u in units if u[0] <= first and last <= u[1]]
    first, last = min(holding, key=lambda u: u[1] - u[0]) if holding else (first, last)
    if len(_words(" ".join(texts[first : last + 1]))) < MIN_SHARED_WORDS:
        # "Which would you prefer?" offers the choices said just before it.
        before = [u for u in units if u[1] == first - 1]
        if before:
            first = min(u[0] for u in before)
    return first, last


_OR = re.compile(r",? \bor\b ", re.I)


def _alternatives(text: str) -> list[str]:
    """The offer, and each alternative of an "X or Y" offer on its own: remedies hold one offer
    each, and a sentence offering two sits between them, near neither."""
    parts = [p for p in _OR.split(text) if len(_words(p)) >= MIN_SHARED_WORDS]
    return [text, *parts] if len(parts) > 1 else [text]


def _similarities(
    encoder: Encoder | None, offers: list[str], remedies: tuple[str, ...], misses: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """(offers x remedies, offers x not-remedies) similarity matrices."""
    if encoder is not None:
        vectors = encoder.encode(offers)
        remedy_vectors = encoder.encode(remedies, persist=True)
        miss_vectors = encoder.encode(misses, persist=True) if misses else np.zeros((0, vectors.shape[1]))
        return vectors @ remedy_vectors.T, vectors @ miss_vectors.T

    def shared(texts: tuple[str, ...]) -> np.ndarray:
        return np.array([[len(_words(o) & _words(t)) for t in texts] for o in offers], float).reshape(
            len(offers), len(texts)
        )

    return shared(remedies), shared(misses)


def warm_remedies(texts: Iterable[str]) -> None:
    """Encode remedies ahead of the first answer (kept on disk like the rubric's examples), so
    judging an offer costs only the offer's own sentences."""
    from analysis.semantic import load_encoder

    encoder = load_encoder()
    if encoder is not None:
        encoder.encode(list(dict.fromkeys(texts)), persist=True)


def _fit_evidence(e: Evidence, offer: Offer) -> Evidence:
    return replace(e, matched=f"{e.matched}; fits the remedy ({offer.remedy_similarity:.2f}): {offer.remedy}")


def _rescored(content: ContentResult, items: list[Finding]) -> ContentResult:
    """The result with these item findings; the score summed as analysis.content sums it."""
    earned = sum(f.points for f in items)
    deducted = sum(-p.points for p in content.penalties)
    return ContentResult(int(max(0, min(100, round(earned - deducted)))), tuple(items), content.penalties)


def judge_offers(
    transcript: Transcript, content: ContentResult, context: ScoringContext, encoder: Encoder | None | object = _AUTO
) -> tuple[ContentResult, tuple[Offer, ...]]:
    """The content result with offers that miss this scenario's problem taken out, and every
    offer sentence with its verdict. A context without remedies (no scenario, or a safety
    scenario, settled by security rather than an offer) leaves the result as it is."""
    remedies, misses = tuple(context.remedies), tuple(context.not_remedies)
    offer_findings = [f for f in content.items if f.id in OFFER_ITEMS and f.hit]
    if not remedies or not offer_findings:
        return content, ()
    if encoder is _AUTO:
        from analysis.semantic import load_encoder

        encoder = load_encoder()
    units = segments(transcript)
    spans: dict[tuple[int, int], list[str]] = {}
    for f in offer_findings:
        for e in f.evidence:
            items = spans.setdefault(_sentence(transcript, units, e), [])
            if f.id not in items:
                items.append(f.id)
    order = sorted(spans)
    texts = [" ".join(w.text for w in transcript.words[a : b + 1]) for a, b in order]
    choices = [_alternatives(t) for t in texts]
    flat = [c for cs in choices for c in cs]
    to_remedy, to_miss = _similarities(encoder, flat, remedies, misses)
    floor, margin = (FIT_FLOOR, FIT_MARGIN) if encoder is not None else (MIN_SHARED_WORDS, 1)
    offers: dict[tuple[int, int], Offer] = {}
    row = 0
    for k, span in enumerate(order):
        verdicts = []
        for _ in choices[k]:
            r = int(to_remedy[row].argmax())
            m = int(to_miss[row].argmax()) if misses else -1
            best, worst = float(to_remedy[row, r]), float(to_miss[row, m]) if misses else 0.0
            verdicts.append((best >= floor and best >= worst + margin, best - worst, best, r, worst, m))
            row += 1
        fits, _, best, r, worst, m = max(verdicts)
        words = transcript.words[span[0] : span[1] + 1]
        offers[span] = Offer(
            texts[k],
            words[0].start_s,
            words[-1].end_s,
            tuple(spans[span]),
            fits,
            remedies[r],
            round(best, 3),
            misses[m] if misses else "",
            round(worst, 3),
        )
    items = []
    for f in content.items:
        if not (f.id in OFFER_ITEMS and f.hit):
            items.append(f)
            continue
        kept = []
        for e in f.evidence:
            offer = offers[_sentence(transcript, units, e)]
            if offer.fits:
                kept.append(_fit_evidence(e, offer))
        items.append(replace(f, hit=bool(kept), points=f.points if kept else 0.0, evidence=tuple(kept)))
    return _rescored(content, items), tuple(offers[s] for s in order)
