"""Per-item linear models learned from the labelled answers (tests/data/answers).

Three rounds of hand-written patterns and examples left unseen answers at micro F1 ≈ 0.73: a
list of phrases, or nearness to written examples, does not cover how differently people phrase
an argument or a brush-off. These models learn each item's boundary from the labelled answers
instead. Each sentence (and clause) of an answer is described by its MiniLM vector, its nearest
similarity to every item's examples and counter-examples, and which items' patterns it matches
(``analysis.content`` computes these features); one logistic regression per item turns them
into the probability that the sentence earns the item. A sentence at or above the item's
threshold earns it where the patterns and examples found nothing, and is quoted as the evidence,
so every point still quotes the words that earned it. Penalties are not learned (see
scripts/train_rubric.py): they stay with the patterns and the nearest-neighbour matcher.

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FORMAT = 1
"""Bumped when the meaning of the file's arrays changes; an older file is then ignored."""


@dataclass(frozen=True)
class ItemModels:
    """One logistic regression per item over the same standardised feature vector."""

    ids: tuple[str, ...]
    features: tuple[str, ...]
    """Name of every feature column ("vector.0", "sim:apology", "pattern:argue"...): the file is
    used only when the scorer computes exactly these columns."""
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    """One row per item id."""
    bias: np.ndarray
    threshold: np.ndarray
    """Probability a sentence needs to earn the item."""
    rubric_fingerprint: str
    answers: int
    """How many labelled answers the models were trained on (reported by the eval script)."""

    def probabilities(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """Per item id, the probability of each row of ``features`` (one row per sentence)."""
        z = ((features - self.mean) / self.scale) @ self.weights.T + self.bias
        p = 1.0 / (1.0 + np.exp(-z))
        return {item_id: p[:, k] for k, item_id in enumerate(self.ids)}

    def threshold_of(self, item_id: str) -> float:
        return float(self.threshold[self.ids.index(item_id)])


def fingerprint(rubric: object) -> str:
    """A digest of everything in the rubric that the features depend on (its repr: items,
    examples, patterns, thresholds, margin)."""
    return hashlib.sha256(repr(rubric).encode()).hexdigest()[:16]


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised logistic regression, by Newton's method.

    Classes are weighted to equal total weight (an item is earned by few sentences), and Newton
    steps from zero are deterministic, so retraining on the same data gives the same file."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))]).astype(np.float64)
    positives = max(float(y.sum()), 1.0)
    sample = np.where(y > 0, n / (2 * positives), n / (2 * max(n - positives, 1.0)))
    ridge = l2 * np.eye(d + 1)
    ridge[-1, -1] = 0.0  # the bias is not shrunk
    w = np.zeros(d + 1)
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        gradient = xb.T @ (sample * (p - y)) + ridge @ w
        hessian = (xb * (sample * p * (1 - p))[:, None]).T @ xb + ridge
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def save(models: ItemModels, path: Path) -> None:
    """Write atomically: a failed write leaves the previous file in place."""
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, format=np.array(FORMAT), ids=np.array(models.ids), features=np.array(models.features),
                        mean=models.mean, scale=models.scale, weights=models.weights, bias=models.bias,
                        threshold=models.threshold, rubric_fingerprint=np.array(models.rubric_fingerprint),
                        answers=np.array(models.answers))
    os.replace(tmp, path)


def load(path: Path) -> ItemModels | None:
    """The models at ``path``; None (with a warning) when the file is absent or unreadable, so
    the kiosk scores with the nearest-neighbour matcher rather than not at all."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != FORMAT:
                log.warning("ignoring %s: format %s, expected %s", path, int(data["format"]), FORMAT)
                return None
            return ItemModels(tuple(data["ids"].tolist()), tuple(data["features"].tolist()),
                              data["mean"].astype(np.float64), data["scale"].astype(np.float64),
                              data["weights"].astype(np.float64), data["bias"].astype(np.float64),
                              data["threshold"].astype(np.float64), str(data["rubric_fingerprint"]),
                              int(data["answers"]))
    except FileNotFoundError:
        return None
    except Exception as exc:  # truncated or foreign file: score without it
        log.warning("ignoring the learned rubric weights %s (%s)", path, exc)
        return None
