"""What the learned layer (analysis.learned) reads about each unit, and the evidence it adds.

The models are trained (scripts/train_rubric.py) and applied on exactly these columns, so the
training script and the scorer both build them here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from analysis.content.neighbours import ExampleBank
from analysis.content.result import Evidence
from analysis.content.rubric import MECHANICAL, Rubric, RubricItem
from analysis.content.text import quote
from audio.asr import Transcript

WordSpan = tuple[int, int]
"""(first, last) word indices."""


def unit_features(
    units: Sequence[WordSpan],
    vectors: np.ndarray,
    sims: np.ndarray,
    bank: ExampleBank,
    rubric: Rubric,
    pattern_words: Callable[[RubricItem], list[WordSpan]],
    encoder: str,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """One row per unit, and the columns' names: the unit's vector, its nearest similarity to
    each semantic item's examples and counter-examples, and whether each item's patterns match
    inside it (``pattern_words``: the item's uncancelled matches as word spans). The vector
    columns are named after the ``encoder`` that made them (its identity: model and adapters),
    so models trained on one encoder's vectors are never applied to another's."""
    names = [f"{encoder}.{i}" for i in range(vectors.shape[1])]
    columns = [vectors.astype(np.float64)]
    for item_id, (pos_rows, neg_rows, _) in bank.rows.items():
        names += [f"sim:{item_id}", f"counter:{item_id}"]
        columns.append(sims[:, pos_rows].max(axis=1, keepdims=True))
        columns.append(sims[:, neg_rows].max(axis=1, keepdims=True) if len(neg_rows) else np.zeros((len(units), 1)))
    for item in rubric.items:
        if item.id in MECHANICAL:
            continue
        names.append(f"pattern:{item.id}")
        words = pattern_words(item)
        columns.append(
            np.array([[float(any(first <= a and b <= last for a, b in words))] for first, last in units]).reshape(-1, 1)
        )
    return np.hstack(columns), tuple(names)


def learned_evidence(
    item: RubricItem,
    probabilities: np.ndarray,
    threshold: float,
    units: Sequence[WordSpan],
    taken: list[WordSpan],
    transcript: Transcript,
    bank: ExampleBank,
    sims: np.ndarray,
) -> list[Evidence]:
    """Evidence the item's model adds: units at or above its threshold outside ``taken`` (the
    words where a pattern or the nearest-neighbour decision found the item, or an ``unless``
    phrase cancels it), most probable first, one per stretch of words, each with its nearest
    example. A one-word sentence ("Okay.", "Right.") is skipped: on one word the model only
    echoes how often that word opened a labelled answer, and whether a bare "okay" acknowledges
    is exactly where the labellers differed; the patterns judge those."""
    taken = list(taken)
    found = []
    for u in sorted(np.flatnonzero(probabilities >= threshold), key=lambda u: (-probabilities[u], u)):
        first, last = units[u]
        if first == last or any(first <= b and a <= last for a, b in taken):
            continue
        taken.append((first, last))
        reason = f"model {probabilities[u]:.2f}"
        if item.id in bank.rows and len(bank.rows[item.id][0]):
            rows = bank.rows[item.id][0]
            row = rows[sims[u, rows].argmax()]
            reason += f", nearest example ({sims[u, row]:.2f}): {bank.texts[row]}"
        found.append(quote(transcript, first, last, reason))
    return found
