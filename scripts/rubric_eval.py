"""Precision, recall and F1 of each rubric item on the labelled answers (tests/data/answers).

Each answer was written as a trainee might say it and labelled by reading it against
docs/labelling.md. The splits in answers.jsonl (dev, test, test2) have all been seen while
developing; a fresh set kept outside the repository is scored with --file.

    python scripts/rubric_eval.py --split all                  # print the table
    python scripts/rubric_eval.py --file /work/heldout/test3.jsonl   # any JSONL set, same fields
    python scripts/rubric_eval.py --cv                         # cross-validation by scenario
    python scripts/rubric_eval.py --write docs/rubric-eval.md   # regenerate the tables
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.content import MECHANICAL, Rubric, score_content, typed_transcript  # noqa: E402
from scenarios.library import load_library  # noqa: E402
from scenarios.rubric import load_rubric  # noqa: E402

ANSWERS = ROOT / "tests" / "data" / "answers" / "answers.jsonl"
SPLITS = ("dev", "test", "test2", "test3", "test4", "train5", "test5")
"""The sets in answers.jsonl, in the order they were written."""


@dataclass(frozen=True)
class ItemScore:
    id: str
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


class InputError(Exception):
    """A set of answers that cannot be scored (missing file, bad line): one line to the user."""


def load_answers(split: str = "all", path: Path = ANSWERS) -> list[dict]:
    """The answers of ``split`` in the JSONL file at ``path`` (one answer object per line, with
    ``id``, ``scenario``, ``text`` and ``labels``; ``split`` is optional outside the repo's set)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    library = load_library()
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            missing = {"id", "scenario", "text", "labels"} - set(row)
        except (json.JSONDecodeError, TypeError):
            raise InputError(f"{path}:{n}: not a JSON object") from None
        if missing:
            raise InputError(f"{path}:{n}: missing {', '.join(sorted(missing))}")
        if row["scenario"] not in library.scenarios:
            raise InputError(f"{path}:{n}: unknown scenario {row['scenario']!r}")
        rows.append(row)
    return [r for r in rows if split == "all" or r.get("split") == split]


class MemoEncoder:
    """The encoder with every sentence's vector remembered, so sweeping the matcher's
    thresholds over the same answers encodes each sentence once."""

    def __init__(self, encoder) -> None:
        self.encoder, self.name, self.identity, self.memo = encoder, encoder.name, encoder.identity, {}

    def encode(self, texts, persist: bool = False):
        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if todo:
            self.memo.update(zip(todo, self.encoder.encode(todo, persist=persist)))
        import numpy as np

        return np.array([self.memo[t] for t in texts], np.float32).reshape(len(texts), -1)


def with_matcher(rubric: Rubric, floor: float, margin: float) -> Rubric:
    """The rubric with every semantic item's threshold set to ``floor`` and the given margin.
    Penalties keep their own, stricter threshold (a false penalty costs far more than a miss)."""
    items = tuple(
        dataclasses.replace(i, threshold=floor) if i.threshold > 0 and not i.penalty else i for i in rubric.items
    )
    return dataclasses.replace(rubric, items=items, margin=margin, learned=None)


def semantic_only(rubric: Rubric) -> Rubric:
    """The rubric with the patterns of its semantic items removed: how far the examples alone
    carry. The patterns were written while reading these answers; the examples were written
    from the guides and docs/labelling.md, so this is the figure that says what generalises."""
    return dataclasses.replace(
        rubric,
        items=tuple(dataclasses.replace(i, patterns=()) if i.threshold > 0 else i for i in rubric.items),
        learned=None,
    )


def evaluate(answers: list[dict], encoder, rubric: Rubric | None = None) -> tuple[list[ItemScore], list[dict]]:
    """Per-item counts over the answers (an item counts only where the scenario scores it)."""
    rubric, library = rubric or load_rubric(), load_library()
    counts: dict[str, list[int]] = {}
    errors = []
    for a in answers:
        result = score_content(
            typed_transcript(a["text"]), rubric, library.get(a["scenario"]).scoring_context(), encoder=encoder
        )
        for f in (*result.items, *result.penalties):
            if f.id in MECHANICAL:
                continue
            truth = f.id in a["labels"]
            c = counts.setdefault(f.id, [0, 0, 0])
            if f.hit and truth:
                c[0] += 1
            elif f.hit:
                c[1] += 1
                errors.append(
                    {
                        "id": a["id"],
                        "item": f.id,
                        "kind": "fp",
                        "text": a["text"],
                        "evidence": [e.matched for e in f.evidence],
                    }
                )
            elif truth:
                c[2] += 1
                errors.append({"id": a["id"], "item": f.id, "kind": "fn", "text": a["text"]})
    order = [i.id for i in rubric.items if i.id in counts]
    return [ItemScore(i, *counts[i]) for i in order], errors


FLOORS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75)
MARGINS = (0.0, 0.03, 0.05, 0.1, 1.0)
"""The grid cross-validation chooses from (margin 1.0: no nearest-neighbour condition)."""
FOLDS = 5


def cross_validate(answers: list[dict], encoder, rubric: Rubric) -> tuple[list[ItemScore], list[dict]]:
    """K-fold by scenario: the matcher's floor and margin are chosen on the other folds'
    scenarios and scored on the held-out ones, so the figure is for scenarios the choice has
    not seen. Returns the pooled per-item counts and each fold's choice."""
    scenarios = sorted({a["scenario"] for a in answers})
    fold_of = {s: i % FOLDS for i, s in enumerate(scenarios)}
    grid = [(f, m) for f in FLOORS for m in MARGINS]
    per_fold = {
        (k, g): evaluate([a for a in answers if fold_of[a["scenario"]] == k], encoder, with_matcher(rubric, *g))[0]
        for k in range(FOLDS)
        for g in grid
    }
    pooled: dict[str, list[int]] = {}
    choices = []
    for k in range(FOLDS):

        def train_f1(g):
            scores = [s for j in range(FOLDS) if j != k for s in per_fold[(j, g)]]
            return ItemScore("all", *(sum(getattr(s, a) for s in scores) for a in ("tp", "fp", "fn"))).f1

        best = max(grid, key=lambda g: (round(train_f1(g), 4), g[0], -g[1]))
        choices.append(
            {
                "fold": k,
                "scenarios": [s for s in scenarios if fold_of[s] == k],
                "floor": best[0],
                "margin": best[1],
                "train_micro_f1": round(train_f1(best), 3),
            }
        )
        for s in per_fold[(k, best)]:
            c = pooled.setdefault(s.id, [0, 0, 0])
            c[0], c[1], c[2] = c[0] + s.tp, c[1] + s.fp, c[2] + s.fn
    order = [i.id for i in rubric.items if i.id in pooled]
    return [ItemScore(i, *pooled[i]) for i in order], choices


def table(scores: list[ItemScore]) -> str:
    lines = ["| item | support | precision | recall | F1 |", "| --- | ---: | ---: | ---: | ---: |"]
    for s in scores:
        lines.append(f"| `{s.id}` | {s.tp + s.fn} | {s.precision:.2f} | {s.recall:.2f} | {s.f1:.2f} |")
    return "\n".join(lines)


def summary(scores: list[ItemScore], penalties: frozenset[str] = frozenset()) -> dict:
    """Micro and macro F1 and the weakest item; with ``penalties`` (their ids), also the pooled
    precision and recall of the penalties, which the issue's targets name apart."""
    tp, fp, fn = (sum(getattr(s, k) for s in scores) for k in ("tp", "fp", "fn"))
    micro = ItemScore("all", tp, fp, fn)
    out = {
        "micro_f1": round(micro.f1, 3),
        "macro_f1": round(sum(s.f1 for s in scores) / len(scores), 3),
        "min_f1": round(min(s.f1 for s in scores), 3),
        "min_item": min(scores, key=lambda s: s.f1).id,
    }
    if penalties:
        pooled = ItemScore(
            "penalties", *(sum(getattr(s, k) for s in scores if s.id in penalties) for k in ("tp", "fp", "fn"))
        )
        out |= {"penalty_precision": round(pooled.precision, 3), "penalty_recall": round(pooled.recall, 3)}
    return out


def penalty_ids(rubric: Rubric) -> frozenset[str]:
    return frozenset(i.id for i in rubric.items if i.penalty and i.id not in MECHANICAL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="all", choices=[*SPLITS, "all"])
    ap.add_argument("--file", type=Path, help="score this JSONL set instead of tests/data/answers")
    ap.add_argument("--cv", action="store_true", help="cross-validate the matcher's floor and margin by scenario")
    ap.add_argument("--no-semantic", action="store_true", help="patterns only")
    ap.add_argument("--semantic-only", action="store_true", help="examples only: drop the semantic items' patterns")
    ap.add_argument(
        "--no-learned",
        action="store_true",
        help="ignore the learned weights: the nearest-neighbour matcher over the examples",
    )
    ap.add_argument("--rubric", type=Path, help="score with this rubric file instead of scenarios/rubric.toml")
    ap.add_argument("--errors", action="store_true", help="list the misses and false alarms")
    ap.add_argument("--write", type=Path, help="write the full report (both splits, both matchers) here")
    args = ap.parse_args()
    from analysis.semantic import load_encoder

    encoder = None if args.no_semantic else load_encoder()
    try:
        answers = load_answers("all" if args.file else args.split, args.file or ANSWERS)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.write:
        return write_report(args.write, load_encoder())
    rubric = load_rubric(args.rubric)
    if args.no_learned:
        rubric = dataclasses.replace(rubric, learned=None)
    if args.semantic_only:
        rubric = semantic_only(rubric)
    if args.cv:
        if encoder is None:
            print("error: --cv tunes the embedding matcher; it needs the model", file=sys.stderr)
            return 2
        scores, choices = cross_validate(answers, MemoEncoder(encoder), rubric)
        print(table(scores))
        print(json.dumps(summary(scores, penalty_ids(rubric))))
        for c in choices:
            print(json.dumps(c))
        return 0
    evaluate(answers[:1], encoder, rubric)  # the example vectors: built once, not per answer
    start = time.perf_counter()
    scores, errors = evaluate(answers, encoder, rubric)
    ms = (time.perf_counter() - start) * 1000 / max(1, len(answers))
    print(table(scores))
    print(json.dumps({**summary(scores, penalty_ids(rubric)), "answers": len(answers), "ms_per_answer": round(ms, 1)}))
    if args.errors:
        for e in errors:
            print(json.dumps(e))
    return 0


def write_report(path: Path, encoder) -> int:
    """The generated part of docs/rubric-eval.md: all the answers with the learned models (in
    sample: they were trained on these answers), with the nearest-neighbour matcher alone and
    with patterns alone, a one-line summary per split, and the matcher's cross-validation."""
    answers = load_answers("all")
    shipped = load_rubric()
    matcher = dataclasses.replace(shipped, learned=None)
    sections = []
    for name, enc, rubric in (
        ("learned models (in sample: trained on these answers)", encoder, shipped),
        ("nearest-neighbour matcher, patterns + MiniLM (no learned weights)", encoder, matcher),
        ("patterns only (no model installed)", None, matcher),
    ):
        if enc is None and name != "patterns only (no model installed)":
            continue
        evaluate(answers[:1], enc, rubric)  # the example vectors: built once, not per answer
        start = time.perf_counter()
        scores, _ = evaluate(answers, enc, rubric)
        ms = (time.perf_counter() - start) * 1000 / len(answers)
        splits = "\n".join(
            f"- {split}: {json.dumps(summary(evaluate(load_answers(split), enc, rubric)[0]))}" for split in SPLITS
        )
        sections.append(
            f"### all {len(answers)} answers, {name}\n\n"
            f"{json.dumps(summary(scores))}, {ms:.0f} ms per answer\n\n{splits}\n\n{table(scores)}\n"
        )
    if encoder is not None:
        scores, choices = cross_validate(answers, MemoEncoder(encoder), matcher)
        folds = "\n".join(
            f"- fold {c['fold']} ({', '.join(c['scenarios'])}): floor {c['floor']}, margin {c['margin']}"
            for c in choices
        )
        sections.append(
            f"### cross-validation by scenario ({FOLDS} folds), patterns + MiniLM\n\n"
            f"{json.dumps(summary(scores))}\n\n{folds}\n\n{table(scores)}\n"
        )
        scores, choices = cross_validate(answers, MemoEncoder(encoder), semantic_only(matcher))
        folds = "\n".join(f"- fold {c['fold']}: floor {c['floor']}, margin {c['margin']}" for c in choices)
        sections.append(
            f"### cross-validation by scenario ({FOLDS} folds), examples only (patterns removed)\n\n"
            f"{json.dumps(summary(scores))}\n\n{folds}\n\n{table(scores)}\n"
        )
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    marker = "<!-- generated by scripts/rubric_eval.py --write; do not edit below -->"
    head = text.split(marker)[0].rstrip() + "\n\n" if marker in text else text
    path.write_text(head + marker + "\n\n" + "\n".join(sections), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
