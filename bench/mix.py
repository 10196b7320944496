"""Long answers made of real speech: the shared recordings joined end to end.

A trainee's 30 or 60 s answer is longer than any one shared recording, so recordings are
concatenated (cycling through them) with their silences handled the way a fluent speaker's
would be: leading and trailing silence trimmed, and every pause inside or between recordings
capped at ``MAX_PAUSE_S`` (JFK's 1.1 s oratorical pause would otherwise end the answer).
Shared by the benchmark and the streaming accuracy test so both judge the same audio.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio.clip import Clip, load
from audio.vad import WINDOW_SAMPLES, SpeechDetector

ROOT = Path(__file__).resolve().parents[1]
SPEECH_DIR = ROOT / "tests" / "data" / "speech"

MIX_FILES = (
    "libri_2412-153948-0000.wav",
    "jfk.wav",
    "libri_1988-24833-0001.wav",
    "ptdb_F01_sa1.wav",
    "ptdb_M01_sa1.wav",
)
"""Recordings whose transcripts are plain spoken words (the LJ files test number normalisation
and would count "8." against a correct "eight")."""

MAX_PAUSE_S = 0.45
"""Longest silence kept: a sentence pause, long enough for a PAUSE event, well short of the
700 ms that ends an answer."""


@dataclass(frozen=True)
class MixedAnswer:
    clip: Clip
    """Speech only: starts and ends on speech (pad it with silence to replay it)."""
    reference: str
    """What is said, the recordings' transcripts in order."""


def transcripts() -> dict[str, str]:
    with open(SPEECH_DIR / "manifest.tsv", newline="") as f:
        return {row["file"]: row["transcript"] for row in csv.DictReader(f, delimiter="\t")}


def compress_pauses(clip: Clip, max_pause_s: float = MAX_PAUSE_S) -> Clip:
    """``clip`` trimmed to its speech, with every silence longer than ``max_pause_s`` shortened."""
    probs = SpeechDetector().probabilities(clip.samples)
    speech = probs >= 0.5
    if not speech.any():
        return Clip(np.zeros(0, np.float32), clip.sample_rate_hz)
    keep = np.zeros(len(probs), bool)
    max_windows = int(max_pause_s * clip.sample_rate_hz / WINDOW_SAMPLES)
    first, last = np.flatnonzero(speech)[[0, -1]]
    gap = 0
    for i in range(first, last + 1):
        gap = 0 if speech[i] else gap + 1
        keep[i] = gap <= max_windows
    # Keep one window either side so no word's onset or release is cut.
    keep[max(0, first - 1)] = True
    keep[min(len(keep) - 1, last + 1)] = True
    pieces = [clip.samples[i * WINDOW_SAMPLES : (i + 1) * WINDOW_SAMPLES] for i in np.flatnonzero(keep)]
    return Clip(np.concatenate(pieces), clip.sample_rate_hz)


def mixed_answer(min_length_s: float, files: tuple[str, ...] = MIX_FILES) -> MixedAnswer:
    """Whole recordings, cycled, until at least ``min_length_s`` of audio (within 5 %)."""
    texts = transcripts()
    gap = Clip.silence(MAX_PAUSE_S)
    clip, words, i = Clip.silence(0.0), [], 0
    while clip.duration_s < 0.95 * min_length_s:
        name = files[i % len(files)]
        part = compress_pauses(load(SPEECH_DIR / name))
        clip = part if clip.duration_s == 0 else clip.concat(gap, part)
        words.append(texts[name])
        i += 1
    return MixedAnswer(clip, " ".join(words))
