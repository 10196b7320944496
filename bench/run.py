"""Latency benchmark (issues 3 and 8): `make bench`, or `python -m bench.run [--runs N] [--compare DIR]`.

Replays real speech (bench/mix.py: the shared recordings joined to 10, 30 and 60 s) in real
time through the real capture path (ALSA microphone fed at 16 kHz pace, bench/replay.py, then
``record_streaming``: Silero VAD, the adaptive endpointer) into a real ``PracticeSession``, and
times, per run:

- streaming: from the moment ``record_streaming`` returns (the adaptive endpointer has heard
  enough silence: the kiosk knows the answer is over) to the customer's reaction being ready
  (transcript, delivery, content, reaction, reaction's audio cached) via ``listen()``;
- the same from the moment the trainee actually fell silent (adds the endpointing wait);
- batch: ``PracticeSession.answer`` on the same recording without the stream (the upload path).

Prints JSON and writes bench/results/latency.json. Numbers are not asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.replay import PacedAlsaMicrophone

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latency.json"
VOICES = ROOT / "bench" / "results" / "voices.json"
LENGTHS_S = (10, 30, 60)
SCENARIO = "late-delivery"
NEURAL_SCENARIO = "missed-parcel"
"""A male en-us persona, so the neural voice speaks it (SCENARIO's customer is a woman)."""


def _pct(values: list[float], q: float) -> float:
    """Percentile by linear interpolation (q in 0..1)."""
    xs = sorted(values)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_answers(mic: PacedAlsaMicrophone, engines, runs: int, lengths: tuple[int, ...]) -> list[dict]:
    from analysis.turn import analyze_turn
    from audio.answer_stream import record_streaming
    from audio.clip import Clip
    from audio.devices import Microphone
    from audio.wer import word_error_rate
    from bench.mix import mixed_answer
    from kiosk.session import PracticeSession
    from scenarios.library import load_library

    scenario = load_library().get(NEURAL_SCENARIO if engines.synthesizer.engine == "piper" else SCENARIO)
    out = []
    for length in lengths:
        mix = mixed_answer(length)
        clip = Clip.silence(1.0).concat(mix.clip)
        stream_s, silence_s, batch_s, rtf, analysis_ms, wer_s, wer_b, used_guess = [], [], [], [], [], [], [], 0
        for _ in range(runs):
            session = PracticeSession(scenario, engines)
            stream = session.listen()
            mic.feed(clip)
            with Microphone() as m:
                rec = record_streaming(m.chunks(), stream)
            t_end = time.monotonic()
            turn = session.answer(rec, stream=stream)
            t_result = time.monotonic()
            mic.wait()
            stream_s.append(t_result - t_end)
            silence_s.append(t_result - (mic.started_at + rec.speech_end_s))
            used_guess += stream.decoder.provisional_used
            wer_s.append(word_error_rate(mix.reference, turn.analysis.transcript.text))

            batch_session = PracticeSession(scenario, engines)
            t0 = time.monotonic()
            batch_turn = batch_session.answer(rec)
            batch_s.append(time.monotonic() - t0)
            wer_b.append(word_error_rate(mix.reference, batch_turn.analysis.transcript.text))

            speech = rec.speech_clip()
            t0 = time.monotonic()
            transcript = engines.transcriber.transcribe(speech)
            rtf.append((time.monotonic() - t0) / speech.duration_s)
            t0 = time.monotonic()
            analyze_turn(speech, transcript, engines.rubric, scenario.scoring_context())
            analysis_ms.append((time.monotonic() - t0) * 1000 / speech.duration_s)
        row = {
            "length_s": round(mix.clip.duration_s, 2),
            "runs": runs,
            "streaming_p50_s": round(statistics.median(stream_s), 3),
            "streaming_p90_s": round(_pct(stream_s, 0.9), 3),
            "streaming_from_silence_p50_s": round(statistics.median(silence_s), 3),
            "batch_p50_s": round(statistics.median(batch_s), 3),
            "batch_p90_s": round(_pct(batch_s, 0.9), 3),
            "streaming_to_batch_ratio": round(statistics.median(stream_s) / statistics.median(batch_s), 3),
            "asr_rtf": round(statistics.median(rtf), 4),
            "analysis_ms_per_s": round(statistics.median(analysis_ms), 1),
            "streaming_wer": round(statistics.median(wer_s), 4),
            "batch_wer": round(statistics.median(wer_b), 4),
            "runs_ending_on_a_provisional_decode": used_guess,
        }
        print(json.dumps(row), file=sys.stderr, flush=True)
        out.append(row)
    return out


def measure_tts(engines, engine: str = "espeak") -> dict:
    """First customer audio: scenario start to the opening line's samples in memory, with a line
    cache that was empty when the engines loaded. As `kiosk serve` does, every scenario's opening
    is synthesized at start-up first (``tts_startup_openings_s``); ``tts_first_audio_uncached_s``
    is the worst case, a scenario chosen before start-up reached it. ``tts_reachable_lines_s``
    is what ``listen()`` synthesizes while the trainee answers the opening."""
    from audio.clip import load
    from audio.tts import Synthesizer
    from kiosk.session import Engines, PracticeSession, presynthesize_openings
    from scenarios.library import load_library

    library = load_library()
    scenario = library.get(NEURAL_SCENARIO if engine == "piper" else SCENARIO)
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as empty:
        cold = Engines(engines.transcriber, Synthesizer(cache, engine), engines.rubric)
        cold.synthesizer.warm_up(neural=False)  # as Engines.warm_up: the openings load the voice
        t0 = time.monotonic()
        presynthesize_openings(cold, library.sorted())
        startup = time.monotonic() - t0
        t0 = time.monotonic()
        load(PracticeSession(scenario, cold).current_line.audio_path)
        first = time.monotonic() - t0
        t0 = time.monotonic()
        load(PracticeSession(scenario, cold).current_line.audio_path)
        first_cached = time.monotonic() - t0
        session = PracticeSession(scenario, cold)
        t0 = time.monotonic()
        cold.synthesizer.synthesize_to_file(scenario.say("repeat"), session.current_line.voice)
        complaint = time.monotonic() - t0
        t0 = time.monotonic()
        lines = session.likely_lines()
        for text, anger in lines:
            cold.synthesizer.synthesize_to_file(text, session.base_voice.with_anger(anger))
        reachable = time.monotonic() - t0
        uncached = Engines(engines.transcriber, Synthesizer(empty, engine), engines.rubric)
        t0 = time.monotonic()
        load(PracticeSession(scenario, uncached).current_line.audio_path)
        first_uncached = time.monotonic() - t0
    return {
        "tts_engine": cold.synthesizer.engine,
        "tts_scenario": scenario.id,
        "tts_startup_openings_s": round(startup, 3),
        "tts_first_audio_s": round(first, 3),
        "tts_first_audio_cached_s": round(first_cached, 3),
        "tts_first_audio_uncached_s": round(first_uncached, 3),
        "tts_complaint_s": round(complaint, 3),
        "tts_reachable_lines": len(lines),
        "tts_reachable_lines_s": round(reachable, 3),
    }


def measure_cold_start(env: dict, settle_s: float = 0.0) -> dict:
    """`kiosk serve` in a fresh process until /healthz answers 200 (model loaded and warm).
    ``settle_s`` later its peak RSS is read again: by then the openings are synthesized."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as data:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "serve", "--port", str(port)],
            env={**env, "KIOSK_DATA_DIR": data},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        ready = None
        try:
            while time.monotonic() - t0 < 60 and proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                        if r.status == 200:
                            ready = time.monotonic() - t0
                            break
                except OSError:
                    pass
                time.sleep(0.02)
            rss = _vm_hwm_mb(proc.pid)
            time.sleep(settle_s)
            settled = _vm_hwm_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    result = {
        "cold_start_s": None if ready is None else round(ready, 3),
        "serve_peak_rss_mb_at_ready": None if rss is None else round(rss, 1),
    }
    if settle_s:
        result["serve_peak_rss_mb_after_openings"] = None if settled is None else round(settled, 1)
    return result


def _vm_hwm_mb(pid: int) -> float | None:
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    return next(
        (int(line.split()[1]) / 1024 for line in status.read_text().splitlines() if line.startswith("VmHWM:")), None
    )


def measure_neural_voice(engines, env: dict) -> dict:
    """The figures that depend on the customer's voice, with the neural voice (docs/voices.md):
    TTS as in measure_tts, `kiosk serve` cold start with KIOSK_TTS_ENGINE=piper, this process's
    peak RSS with the neural model loaded beside Whisper and the embedding model."""
    result = {
        **measure_tts(engines, "piper"),
        **measure_cold_start({**env, "KIOSK_TTS_ENGINE": "piper"}, settle_s=20.0),
    }
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return result


def compare_models(models: dict[str, str | None], lengths: tuple[int, ...]) -> list[dict]:
    """Word error rate against time for each model, batch, on the same mixed answers."""
    from audio.asr import Transcriber
    from audio.wer import word_error_rate
    from bench.mix import mixed_answer

    answers = [mixed_answer(n) for n in lengths]
    rows = []
    for name, location in models.items():
        t0 = time.monotonic()
        model = Transcriber(location)
        load_s = time.monotonic() - t0
        model.transcribe(answers[0].clip.slice_s(0, 1.0))  # warm
        errors = words = 0
        seconds = audio_s = 0.0
        for mix in answers:
            t0 = time.monotonic()
            text = model.transcribe(mix.clip).text
            seconds += time.monotonic() - t0
            audio_s += mix.clip.duration_s
            n = len(mix.reference.split())
            errors += word_error_rate(mix.reference, text) * n
            words += n
        rows.append(
            {
                "model": name,
                "location": model.source.location,
                "load_s": round(load_s, 3),
                "asr_rtf": round(seconds / audio_s, 4),
                "wer": round(errors / words, 4),
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        del model
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="replays per answer length (default 5)")
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS_S))
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="also time and score another CTranslate2 Whisper model (repeatable)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--tts-engine",
        choices=["espeak", "piper"],
        default="espeak",
        help=f"the customer's voice for the answers (piper: scenario {NEURAL_SCENARIO})",
    )
    parser.add_argument(
        "--voices",
        action="store_true",
        help="only the customer-voice figures (TTS, cold start, memory) for both engines, "
        f"into {VOICES.relative_to(ROOT)} (about a minute)",
    )
    args = parser.parse_args(argv)
    lengths = tuple(args.lengths)

    mic = PacedAlsaMicrophone()
    mic.install()  # before anything imports sounddevice
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    base_env = dict(os.environ)

    from audio.asr import shared_transcriber
    from audio.tts import Synthesizer
    from kiosk.session import Engines, limit_malloc_arenas
    from scenarios.rubric import load_rubric

    limit_malloc_arenas()  # as Engines.load does for the kiosk
    t0 = time.monotonic()
    transcriber = shared_transcriber()
    model_load_s = time.monotonic() - t0
    with tempfile.TemporaryDirectory() as cache:
        engines = Engines(transcriber, Synthesizer(cache, args.tts_engine), load_rubric())
        t0 = time.monotonic()
        engines.warm_up()
        warm_up_s = time.monotonic() - t0
        tts = measure_tts(engines, args.tts_engine)
        if args.voices:
            voices = {
                "espeak": {
                    **tts,
                    **measure_cold_start(base_env, settle_s=20.0),
                    "peak_rss_mb": round(_peak_rss_mb(), 1),
                },
                "piper": measure_neural_voice(engines, base_env),
                "machine": {"cpus": os.cpu_count(), "load_avg_1m_at_end": round(os.getloadavg()[0], 2)},
            }
            VOICES.parent.mkdir(parents=True, exist_ok=True)
            VOICES.write_text(json.dumps(voices, indent=2) + "\n")
            print(json.dumps(voices, indent=2))
            return 0
        answers = measure_answers(mic, engines, args.runs, lengths)
    peak_rss = _peak_rss_mb()
    result = {
        "answers": answers,
        **tts,
        **measure_cold_start(base_env),
        "peak_rss_mb": round(peak_rss, 1),
        "model_load_s": round(model_load_s, 3),
        "model_warm_up_s": round(warm_up_s, 3),
        "model": transcriber.source.location,
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
        },
    }
    models = {"tiny.en": None}
    for item in args.compare:
        name, _, location = item.partition("=")
        models[name] = location
    result["models"] = compare_models(models, lengths)
    if args.tts_engine == "espeak":  # last: its model would count in peak_rss_mb above
        result["neural_voice"] = measure_neural_voice(engines, base_env)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
