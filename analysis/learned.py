"""Per-item linear models learned from the labelled answers (tests/data/answers).

Three rounds of hand-written patterns and examples left unseen answers at micro F1 ≈ 0.73: a
list of phrases, or nearness to written examples, does not cover how differently people phrase
an argument or a brush-off. These models learn each item's boundary from the labelled answers
instead. Each sentence (and clause) of an answer is described by its MiniLM vector, its nearest
similarity to every item's examples and counter-examples, which items' patterns it matches
(``analysis.content`` computes these), and which of the training set's words and word pairs it
contains (the sentence vector blurs the few words that make an argument or a policy refusal:
"that's on you", "rules are rules"). One logistic regression per item turns them into the
probability that the sentence earns the item. A sentence at or above the item's threshold earns
it where the patterns and examples found nothing, and is quoted as the evidence, so every point
and every deduction still quotes the words behind it.

The weights are data beside the rubric (scenarios/rubric.weights.npz), written by
scripts/train_rubric.py; they are only valid for the rubric they were trained with (the features
are that rubric's examples and patterns), so the file records the rubric's fingerprint and a
different rubric falls back to the nearest-neighbour matcher. Scoring is a dot product: the same
sentence always gets the same probability.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FORMAT = 2
"""Bumped when the meaning of the file's arrays changes; an older file is then ignored."""

_WORD = re.compile(r"[a-z']+")


def ngrams(text: str) -> frozenset[str]:
    """The sentence's lower-cased words and adjacent word pairs ("on you", "rules are")."""
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    return frozenset(words) | frozenset(f"{a} {b}" for a, b in zip(words, words[1:]))


def lexical(texts: list[str], vocabulary: tuple[str, ...]) -> np.ndarray:
    """One 0/1 row per text: which of ``vocabulary``'s words and pairs it contains."""
    column = {g: k for k, g in enumerate(vocabulary)}
    out = np.zeros((len(texts), len(vocabulary)))
    for row, text in enumerate(texts):
        out[row, [column[g] for g in ngrams(text) if g in column]] = 1.0
    return out


@dataclass(frozen=True)
class ItemModels:
    """One logistic regression per item over the same feature vector: the scorer's standardised
    features, then the vocabulary's 0/1 columns."""

    ids: tuple[str, ...]
    features: tuple[str, ...]
    """Name of every feature column ("vector.0", "sim:apology", "pattern:argue"...): the file is
    used only when the scorer computes exactly these columns."""
    vocabulary: tuple[str, ...]
    """The words and word pairs seen in at least a few training sentences."""
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    """One row per item id: the features' weights, then the vocabulary's."""
    bias: np.ndarray
    threshold: np.ndarray
    """Probability a sentence needs to earn the item (or, for a penalty, to cost it)."""
    rubric_fingerprint: str
    answers: int
    """How many labelled answers the models were trained on (reported by the eval script)."""

    def probabilities(self, features: np.ndarray, texts: list[str]) -> dict[str, np.ndarray]:
        """Per item id, the probability of each sentence (``texts``, described by ``features``)."""
        z = design(features, texts, self.mean, self.scale, self.vocabulary) @ self.weights.T + self.bias
        p = 1.0 / (1.0 + np.exp(-z))
        return {item_id: p[:, k] for k, item_id in enumerate(self.ids)}

    def threshold_of(self, item_id: str) -> float:
        return float(self.threshold[self.ids.index(item_id)])


def design(
    features: np.ndarray, texts: list[str], mean: np.ndarray, scale: np.ndarray, vocabulary: tuple[str, ...]
) -> np.ndarray:
    """The models' input, one row per sentence: the standardised features, then the words."""
    return np.hstack([(features - mean) / scale, lexical(texts, vocabulary)])


FEATURE_FIELDS = (
    "id",
    "penalty",
    "applies",
    "patterns",
    "unless",
    "examples",
    "counter_examples",
    "threshold",
    "overlaps",
)
"""The fields of a rubric item the features are computed from. Its wording for trainees
(description, tip), the guide rule it cites and its weight are not among them: editing those
leaves the weights valid."""


def fingerprint(rubric: object) -> str:
    """A digest of what the features depend on: each item's FEATURE_FIELDS, in order, and the
    margin. Typed as ``object`` because analysis.content imports this module."""
    items = tuple(tuple(getattr(item, name) for name in FEATURE_FIELDS) for item in rubric.items)
    return hashlib.sha256(repr((items, rubric.margin)).encode()).hexdigest()[:16]


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float | np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised logistic regression (``l2``: one strength, or one per
    column), by Newton's method with conjugate-gradient steps.

    Classes are weighted to equal total weight (an item is earned by few sentences). Each Newton
    step is solved with Hessian-vector products, never the d × d Hessian, so a few thousand word
    columns train in seconds; the steps start from zero and involve no randomness, so retraining
    on the same data gives the same file."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))]).astype(np.float64)
    positives = max(float(y.sum()), 1.0)
    sample = np.where(y > 0, n / (2 * positives), n / (2 * max(n - positives, 1.0)))
    ridge = np.append(np.broadcast_to(np.asarray(l2, np.float64), (d,)), 0.0)  # the bias is not shrunk
    w = np.zeros(d + 1)
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        gradient = xb.T @ (sample * (p - y)) + ridge * w
        if np.linalg.norm(gradient) < 1e-6 * n:
            break
        curvature = sample * p * (1 - p)
        # 1e-9: keeps the operator positive definite where the unshrunk bias's curvature vanishes
        w -= _conjugate_gradient(lambda v: xb.T @ (curvature * (xb @ v)) + ridge * v + 1e-9 * v, gradient)
    return w[:-1], float(w[-1])


def _conjugate_gradient(apply, b: np.ndarray, iterations: int = 100, tolerance: float = 1e-4) -> np.ndarray:
    """Solve apply(x) = b for a symmetric positive definite operator, to ``tolerance`` relative to
    b (an inexact Newton step: the outer loop corrects what it leaves)."""
    x, r = np.zeros_like(b), b.copy()
    p, rr = r.copy(), float(r @ r)
    stop = (tolerance * tolerance) * rr
    for _ in range(iterations):
        if rr <= stop:
            break
        ap = apply(p)
        alpha = rr / float(p @ ap)
        x += alpha * p
        r -= alpha * ap
        rr, previous = float(r @ r), rr
        p = r + (rr / previous) * p
    return x


def save(models: ItemModels, path: Path) -> None:
    """Write atomically: a failed write leaves the previous file in place."""
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(
        tmp,
        format=np.array(FORMAT),
        ids=np.array(models.ids),
        features=np.array(models.features),
        vocabulary=np.array(models.vocabulary),
        mean=models.mean,
        scale=models.scale,
        weights=models.weights,
        bias=models.bias,
        threshold=models.threshold,
        rubric_fingerprint=np.array(models.rubric_fingerprint),
        answers=np.array(models.answers),
    )
    os.replace(tmp, path)


def load(path: Path) -> ItemModels | None:
    """The models at ``path``; None (with a warning) when the file is absent or unreadable, so
    the kiosk scores with the nearest-neighbour matcher rather than not at all."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != FORMAT:
                log.warning("ignoring %s: format %s, expected %s", path, int(data["format"]), FORMAT)
                return None
            return ItemModels(
                tuple(data["ids"].tolist()),
                tuple(data["features"].tolist()),
                tuple(data["vocabulary"].tolist()),
                data["mean"].astype(np.float64),
                data["scale"].astype(np.float64),
                data["weights"].astype(np.float64),
                data["bias"].astype(np.float64),
                data["threshold"].astype(np.float64),
                str(data["rubric_fingerprint"]),
                int(data["answers"]),
            )
    except FileNotFoundError:
        return None
    except Exception as exc:  # truncated or foreign file: score without it
        log.warning("ignoring the learned rubric weights %s (%s)", path, exc)
        return None
