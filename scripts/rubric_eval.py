"""Precision, recall and F1 of each rubric item on the labelled answers (tests/data/answers).

Each answer was written as a trainee might say it and labelled by reading it, item by item.
A quarter of the set (split = "test") is held out: tune on "dev", look at "test" only at the end.

    python scripts/rubric_eval.py --split dev              # print the table
    python scripts/rubric_eval.py --write docs/rubric-eval.md   # dev + test, with and without the model
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.content import score_content, typed_transcript  # noqa: E402
from scenarios.library import load_library  # noqa: E402
from scenarios.rubric import load_rubric  # noqa: E402

ANSWERS = ROOT / "tests" / "data" / "answers" / "answers.jsonl"
MECHANICAL = {"interrupt", "reason_at_length"}
"""Items decided by timing or length, not by the words: not part of the labelled evaluation."""


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


def load_answers(split: str = "all") -> list[dict]:
    rows = [json.loads(line) for line in ANSWERS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if split == "all" or r["split"] == split]


def evaluate(answers: list[dict], encoder) -> tuple[list[ItemScore], list[dict]]:
    """Per-item counts over the answers (an item counts only where the scenario scores it)."""
    rubric, library = load_rubric(), load_library()
    counts: dict[str, list[int]] = {}
    errors = []
    for a in answers:
        result = score_content(typed_transcript(a["text"]), rubric, library.get(a["scenario"]).scoring_context(),
                               encoder=encoder)
        for f in (*result.items, *result.penalties):
            if f.id in MECHANICAL:
                continue
            truth = f.id in a["labels"]
            c = counts.setdefault(f.id, [0, 0, 0])
            if f.hit and truth:
                c[0] += 1
            elif f.hit:
                c[1] += 1
                errors.append({"id": a["id"], "item": f.id, "kind": "fp", "text": a["text"],
                               "evidence": [e.matched for e in f.evidence]})
            elif truth:
                c[2] += 1
                errors.append({"id": a["id"], "item": f.id, "kind": "fn", "text": a["text"]})
    order = [i.id for i in rubric.items if i.id in counts]
    return [ItemScore(i, *counts[i]) for i in order], errors


def table(scores: list[ItemScore]) -> str:
    lines = ["| item | support | precision | recall | F1 |", "| --- | ---: | ---: | ---: | ---: |"]
    for s in scores:
        lines.append(f"| `{s.id}` | {s.tp + s.fn} | {s.precision:.2f} | {s.recall:.2f} | {s.f1:.2f} |")
    return "\n".join(lines)


def summary(scores: list[ItemScore]) -> dict:
    tp, fp, fn = (sum(getattr(s, k) for s in scores) for k in ("tp", "fp", "fn"))
    micro = ItemScore("all", tp, fp, fn)
    return {"micro_f1": round(micro.f1, 3), "macro_f1": round(sum(s.f1 for s in scores) / len(scores), 3),
            "min_f1": round(min(s.f1 for s in scores), 3),
            "min_item": min(scores, key=lambda s: s.f1).id}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="dev", choices=["dev", "test", "test2", "all"])
    ap.add_argument("--no-semantic", action="store_true", help="patterns only")
    ap.add_argument("--errors", action="store_true", help="list the misses and false alarms")
    ap.add_argument("--write", type=Path, help="write the full report (both splits, both matchers) here")
    args = ap.parse_args()
    from analysis.semantic import load_encoder

    encoder = None if args.no_semantic else load_encoder()
    if args.write:
        return write_report(args.write, load_encoder())
    scores, errors = evaluate(load_answers(args.split), encoder)
    print(table(scores))
    print(json.dumps(summary(scores)))
    if args.errors:
        for e in errors:
            print(json.dumps(e))
    return 0


def write_report(path: Path, encoder) -> int:
    sections = []
    for split in ("dev", "test", "test2"):
        answers = load_answers(split)
        for name, enc in (("patterns + MiniLM", encoder), ("patterns only (no model installed)", None)):
            if name.startswith("patterns +") and enc is None:
                continue
            start = time.perf_counter()
            scores, _ = evaluate(answers, enc)
            ms = (time.perf_counter() - start) * 1000 / len(answers)
            sections.append(f"### {split} split ({len(answers)} answers), {name}\n\n"
                            f"{json.dumps(summary(scores))}, {ms:.0f} ms per answer\n\n{table(scores)}\n")
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    marker = "<!-- generated by scripts/rubric_eval.py --write; do not edit below -->"
    head = text.split(marker)[0].rstrip() + "\n\n" if marker in text else text
    path.write_text(head + marker + "\n\n" + "\n".join(sections), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
