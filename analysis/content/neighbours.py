"""The nearest-neighbour matcher: each sentence (and clause) against every item's examples and
counter-examples at once, earning the items its nearest neighbours belong to."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analysis.content.patterns import cancelled
from analysis.content.result import Evidence
from analysis.content.rubric import Rubric, RubricItem
from analysis.content.text import Tokens, quote
from audio.asr import Transcript

if TYPE_CHECKING:
    from analysis.semantic import Encoder

Hit = tuple[int, int, float]
"""(unit, example row, similarity) of a unit that earns an item."""


@dataclass(frozen=True)
class ExampleBank:
    """Every semantic item's examples and counter-examples as one matrix, so a sentence is
    compared with all of them in one product and its nearest neighbours can be read off."""

    vectors: np.ndarray
    """Unit rows: all examples, then all counter-examples."""
    texts: tuple[str, ...]
    rows: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    """Per item: its example rows, its counter-example rows, and the mask of rival rows (the
    examples of every item it does not overlap with, itself included)."""


@functools.lru_cache(maxsize=4)
def example_bank(encoder: Encoder, rubric: Rubric) -> ExampleBank:
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
    return ExampleBank(vectors, tuple(texts), rows)


def nearest(bank: ExampleBank, sims: np.ndarray, rubric: Rubric) -> dict[str, list[Hit]]:
    """(unit, example row, similarity) per item for the sentences that earn it.

    A sentence earns item X when X's nearest example is at least X's threshold, is within the
    rubric's margin of the sentence's nearest example of any rival item (so its nearest
    neighbours belong to X, not to a neighbouring item it merely resembles; items X overlaps
    with are not rivals), and is closer than every counter-example of X (this is how "sorry you
    feel that way" stays out of apology). ``sims``: each unit's similarity to every bank row."""
    units = np.arange(sims.shape[0])
    out: dict[str, list[Hit]] = {}
    for item_id, (pos_rows, neg_rows, rivals) in bank.rows.items():
        best = pos_rows[sims[:, pos_rows].argmax(axis=1)]
        sim = sims[units, best]
        earned = (sim >= rubric.get(item_id).threshold) & (sim >= sims[:, rivals].max(axis=1) - rubric.margin)
        if len(neg_rows):
            earned &= sim > sims[:, neg_rows].max(axis=1)
        if earned.any():
            out[item_id] = [(int(u), int(best[u]), float(sim[u])) for u in np.flatnonzero(earned)]
    return out


def neighbour_evidence(
    item: RubricItem,
    denials: tuple[str, ...],
    transcript: Transcript,
    tokens: Tokens,
    units: tuple[tuple[int, int], ...],
    hits: list[Hit],
    bank: ExampleBank,
) -> tuple[Evidence, ...]:
    """Evidence for the sentences that earned the item; one holding a cancelled span (its
    ``unless``: negation, sarcasm; or one of ``denials``) is skipped."""
    cancelled_words = {tokens.word_of[i] for c in cancelled(item, denials, tokens) for i in range(c[0], c[1] + 1)}
    found = []
    for u, row, sim in hits:
        first, last = units[u]
        if cancelled_words & set(range(first, last + 1)):
            continue
        found.append(quote(transcript, first, last, f"example ({sim:.2f}): {bank.texts[row]}"))
    return tuple(found)
