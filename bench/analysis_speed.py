"""Delivery analysis time per second of audio (issue 5 target: <= 10 ms/s on the kiosk's CPU).

Whisper is excluded (it has its own benchmark): the transcript is made once, then
``analyze_delivery`` runs REPEATS times on each real recording, best of the repeats kept.
Wall time is what a trainee waits; CPU time (this process) is the work itself, the steadier
number when other jobs share the two cores. Prints one JSON object.
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

SPEECH = ROOT / "tests" / "data" / "speech"
FILES = ("jfk.wav", "libri_2412-153948-0000.wav", "libri_1988-24833-0001.wav", "ptdb_F01_sa1.wav")
REPEATS = 5


def main() -> None:
    transcriber = shared_transcriber()
    per_file, total_audio_s, total_s, total_cpu_s = {}, 0.0, 0.0, 0.0
    for name in FILES:
        clip = load(SPEECH / name)
        transcript = transcriber.transcribe(clip)
        analyze_delivery(clip, transcript)  # warm-up (imports, FFT plans)
        wall, cpu = [], []
        for _ in range(REPEATS):
            t0, c0 = time.perf_counter(), time.process_time()
            analyze_delivery(clip, transcript)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        per_file[name] = {
            "audio_s": round(clip.duration_s, 2),
            "best_ms": round(1000 * min(wall), 1),
            "ms_per_audio_s": round(1000 * min(wall) / clip.duration_s, 2),
            "cpu_ms_per_audio_s": round(1000 * min(cpu) / clip.duration_s, 2),
        }
        total_audio_s += clip.duration_s
        total_s += min(wall)
        total_cpu_s += min(cpu)
    print(
        json.dumps(
            {
                "benchmark": "analysis_speed",
                "target_ms_per_audio_s": 10.0,
                "ms_per_audio_s": round(1000 * total_s / total_audio_s, 2),
                "cpu_ms_per_audio_s": round(1000 * total_cpu_s / total_audio_s, 2),
                "load_average_1min": round(os.getloadavg()[0], 2),
                "cpu_count": os.cpu_count(),
                "files": per_file,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
