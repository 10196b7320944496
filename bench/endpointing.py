"""False cut-offs of the adaptive endpointer: `python -m bench.endpointing`.

Answers spoken by espeak-ng with a pause written into them (SSML ``<break>``, so the words
either side keep the intonation of one sentence) at a place the trainee has not finished: after
a comma, after "and" or "because", after "um", in the middle of a phrase; and, for contrast,
between two sentences. Each answer is fed to an ``AnswerStream`` with the real tiny.en
decoding, stepped in one thread: a decode queued at a pause finishes ``decode_delay_s`` of audio
time later (0: an idle machine; 0.3 and 0.6 s: a busy one), so the run is the same every time.
A cut-off is an answer that ended before its last word. Prints JSON and writes
bench/results/endpointing.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio.clip import Clip, load
from audio.source import chunks_from_clip

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "endpointing.json"

IN_SENTENCE = (
    ("comma", "I am so sorry about the delay, | and I will check with the depot right now."),
    ("comma", "If the parcel does not arrive today, | I will refund the delivery charge myself."),
    ("and", "I can book the first slot tomorrow morning and | send you a text when it leaves."),
    ("and", "Let me look at the tracking and | find out where your parcel is."),
    ("because", "I want to get this right because | I can see how much it matters to you."),
    ("um", "I can offer you a refund or, um, | a replacement that goes out today."),
    ("um", "Um, | let me just check what happened with your order."),
    ("mid-phrase", "What I can do for you is | book a new delivery for tomorrow morning."),
    ("mid-phrase", "I will ask my manager to | call you back before five o'clock today."),
    ("mid-phrase", "The kettle you bought last week | can be swapped for a new one today."),
    ("the", "I have checked the | order and it left the warehouse this morning."),
    ("to", "I would really like to | sort this out for you before you leave."),
)
"""Pauses inside a sentence: cutting at any of them is a false cut-off."""

BETWEEN_SENTENCES = (
    ("sentence", "I am so sorry about the delay. | Let me check with the depot right now."),
    ("sentence", "That sounds really frustrating. | I can refund the delivery charge today."),
    ("sentence", "I understand. | Would a replacement tomorrow morning work for you?"),
)
"""Pauses after a finished sentence: the speaker may go on or may be done."""

PAUSES_S = (0.6, 0.9, 1.1)
DECODE_DELAYS_S = (0.0, 0.3, 0.6)
LEAD_S, TAIL_S = 0.5, 2.5


@dataclass(frozen=True)
class Case:
    kind: str
    text: str
    pause_s: float
    clip: Clip
    last_word_s: float
    """End of the last word in ``clip`` (its trailing silence follows)."""


def spoken(kind: str, text: str, pause_s: float, folder: Path) -> Case:
    """``text`` by espeak-ng with a ``pause_s`` break at "|", silence either side."""
    ssml = "<speak>" + text.replace("|", f'<break time="{round(pause_s * 1000)}ms"/>') + "</speak>"
    path = folder / "answer.wav"
    subprocess.run(
        ["espeak-ng", "-m", "-v", "en-us", "-s", "160", "-w", str(path), ssml], check=True, capture_output=True
    )
    speech = load(path).resampled(16000)
    loud = np.flatnonzero(np.abs(speech.samples) > 0.01)  # espeak-ng pads its output with silence
    speech = speech.slice_s(loud[0] / 16000, (loud[-1] + 1) / 16000)
    clip = Clip.silence(LEAD_S).concat(speech, Clip.silence(TAIL_S))
    return Case(kind, text, pause_s, clip, LEAD_S + speech.duration_s)


def replay(stream, clip: Clip, decode_delay_s: float = 0.0) -> float:
    """Feed ``clip`` to ``stream`` chunk by chunk, running each queued decode once
    ``decode_delay_s`` of audio time has passed since it was queued (one at a time, in order,
    as the caller's worker would). Returns the audio time at which the answer ended."""
    queued: list[float] = []
    free_at = 0.0
    for chunk in chunks_from_clip(clip):
        stream.insert_audio_chunk(chunk.samples)
        while len(queued) < stream.decoder.submitted:
            queued.append(chunk.end_s)
        while (
            stream.decoder.pending() and max(queued[-stream.decoder.pending()], free_at) + decode_delay_s <= chunk.end_s
        ):
            free_at = max(queued[-stream.decoder.pending()], free_at) + decode_delay_s
            stream.process_iter()
        if stream.done:
            return chunk.end_s
    return clip.duration_s


def ends_early(stream, case: Case) -> bool:
    """The answer ended before its last word (speech was cut)."""
    recording = stream.recording()
    return recording.speech_end_s is not None and recording.speech_end_s < case.last_word_s - 0.3


def measure(transcriber, delays_s=DECODE_DELAYS_S, pauses_s=PAUSES_S) -> dict:
    from audio.answer_stream import AnswerStream
    from audio.streaming import StreamingTranscriber
    from audio.vad import SpeechDetector

    detector = SpeechDetector()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, text in IN_SENTENCE + BETWEEN_SENTENCES:
            for pause_s in pauses_s:
                case = spoken(kind, text, pause_s, Path(tmp))
                for delay_s in delays_s:
                    stream = AnswerStream(StreamingTranscriber(transcriber), detector=detector)
                    ended_s = replay(stream, case.clip, delay_s)
                    cut = ends_early(stream, case)
                    transcript = stream.finish()
                    rows.append(
                        {
                            "kind": kind,
                            "pause_s": pause_s,
                            "decode_delay_s": delay_s,
                            "cut": cut,
                            "end_wait_s": round(ended_s - case.last_word_s, 3),
                            "text": transcript.text,
                        }
                    )
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    inside = [r for r in rows if r["kind"] != "sentence"]
    between = [r for r in rows if r["kind"] == "sentence"]
    uncut = [r["end_wait_s"] for r in rows if not r["cut"]]
    return {
        "in_sentence_cut_offs": sum(r["cut"] for r in inside),
        "in_sentence_answers": len(inside),
        "between_sentence_cut_offs": sum(r["cut"] for r in between),
        "between_sentence_answers": len(between),
        "end_wait_p50_s": sorted(uncut)[len(uncut) // 2] if uncut else None,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from audio.asr import shared_transcriber

    result = measure(shared_transcriber())
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
