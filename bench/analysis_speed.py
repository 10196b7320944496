"""Delivery analysis time per second of audio (issue 5 target: <= 10 ms/s on the kiosk's CPU).

Whisper is excluded (it has its own benchmark): the transcript is made once, then
``analyze_delivery`` runs REPEATS times on each real recording. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audio.asr import shared_transcriber  # noqa: E402
from audio.clip import load  # noqa: E402
from analysis.delivery import analyze_delivery  # noqa: E402

SPEECH = Path(os.environ.get("KIOSK_SHARED_DATA", ROOT.parent / "shared" / "data")) / "speech"
FILES = ("jfk.wav", "libri_2412-153948-0000.wav", "libri_1988-24833-0001.wav", "ptdb_F01_sa1.wav")
REPEATS = 5


def main() -> None:
    transcriber = shared_transcriber()
    per_file, total_audio_s, total_s = {}, 0.0, 0.0
    for name in FILES:
        clip = load(SPEECH / name)
        transcript = transcriber.transcribe(clip)
        analyze_delivery(clip, transcript)                      # warm-up (imports, FFT plans)
        times = []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            analyze_delivery(clip, transcript)
            times.append(time.perf_counter() - t0)
        best = min(times)
        per_file[name] = {"audio_s": round(clip.duration_s, 2), "best_ms": round(1000 * best, 1),
                          "ms_per_audio_s": round(1000 * best / clip.duration_s, 2)}
        total_audio_s += clip.duration_s
        total_s += best
    print(json.dumps({"benchmark": "analysis_speed", "target_ms_per_audio_s": 10.0,
                      "ms_per_audio_s": round(1000 * total_s / total_audio_s, 2),
                      "cpu_count": os.cpu_count(), "files": per_file}, indent=2))


if __name__ == "__main__":
    main()
