"""Cost of content scoring: embedding model load, ms per sentence, memory, ms per answer.

PYTHONPATH=. python bench/content_bench.py     # prints one JSON object
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    from analysis.content import score_content, typed_transcript
    from scenarios.library import load_library
    from scenarios.rubric import load_rubric

    rubric, context = load_rubric(), load_library().get("late-delivery").scoring_context()
    answers = [
        json.loads(line)["text"]
        for line in (Path(__file__).resolve().parents[1] / "tests/data/answers/answers.jsonl").read_text().splitlines()
    ][:60]
    rss0 = _rss_mb()
    start = time.perf_counter()
    from analysis.semantic import load_encoder, model_dir

    encoder = load_encoder()
    load_s = time.perf_counter() - start
    if encoder is None:
        print(json.dumps({"model": None}))
        return
    sentences = [s for a in answers for s in a.split(". ")][:100]
    encoder.encode(sentences[:4])
    start = time.perf_counter()
    for s in sentences[:40]:
        encoder.encode([s])
    single_ms = (time.perf_counter() - start) * 1000 / 40
    start = time.perf_counter()
    encoder.encode(sentences)
    batch_ms = (time.perf_counter() - start) * 1000 / len(sentences)
    timings = {}
    for name, enc in (("patterns", None), ("semantic", encoder)):
        score_content(typed_transcript(answers[0]), rubric, context, encoder=enc)
        start = time.perf_counter()
        for a in answers:
            score_content(typed_transcript(a), rubric, context, encoder=enc)
        timings[f"{name}_ms_per_answer"] = round((time.perf_counter() - start) * 1000 / len(answers), 1)
    files = sum(p.stat().st_size for p in model_dir().rglob("*") if p.is_file())
    print(
        json.dumps(
            {
                "model": encoder.name,
                "encoder": encoder.identity,
                "installed_mb": round(files / 1e6, 1),
                "load_s_incl_sha256": round(load_s, 2),
                "rss_added_mb": round(_rss_mb() - rss0, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "ms_per_sentence_single": round(single_ms, 1),
                "ms_per_sentence_batched": round(batch_ms, 1),
                **timings,
                "answers": len(answers),
            }
        )
    )


if __name__ == "__main__":
    main()
