"""Speaking rate, pauses and fillers, from Whisper's word timings and the signal's intensity.

Words per minute counts the words as spoken, over the time from the first word to the last, so
leading and trailing silence do not dilute it. The syllable count from intensity peaks (after
de Jong & Wempe, 2009) is a cross-check that needs no transcript.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from audio.asr import Transcript
from audio.clip import Clip
from analysis.loudness import FrameLevels

PAUSE_MIN_S = 0.25
FILLER_WORDS = frozenset({"um", "uh", "erm", "er", "hmm", "mm", "ah", "uhm", "umm"})
_WORD = re.compile(r"[a-z0-9']+")


def normalize(text: str) -> list[str]:
    """Lower-case word tokens without punctuation."""
    return _WORD.findall(text.lower())


def spoken_word_count(transcript: Transcript) -> int:
    return sum(len(normalize(w.text)) for w in transcript.words)


def find_fillers(transcript: Transcript) -> list[str]:
    """Hesitation sounds and filler phrases ("you know", "like" between words, not as a verb)."""
    tokens = [t for w in transcript.words for t in normalize(w.text)]
    found = [t for t in tokens if t in FILLER_WORDS]
    for i in range(len(tokens) - 1):
        if tokens[i] == "you" and tokens[i + 1] == "know" and (
                i + 2 == len(tokens) or tokens[i + 2] not in {"what", "that", "how", "why", "where"}):
            found.append("you know")
    for i in range(1, len(tokens) - 1):
        # "like" as filler: not after a verb of liking/looking or "would", "feel", "look", "sounds".
        if tokens[i] == "like" and tokens[i - 1] not in {
                "would", "i", "you", "we", "they", "feel", "feels", "look", "looks", "sounds",
                "seems", "just", "more", "something", "anything", "nothing", "what", "d", "don't"}:
            found.append("like")
    return found


@dataclass(frozen=True)
class Pauses:
    count: int
    total_s: float
    longest_s: float


def find_pauses(levels: FrameLevels, start_s: float, end_s: float) -> Pauses:
    """Silent stretches of at least 250 ms between ``start_s`` and ``end_s`` (speech span)."""
    inside = (levels.times_s >= start_s) & (levels.times_s <= end_s)
    silent = ~levels.speech & inside
    runs, run = [], 0
    for s in silent[inside]:
        if s:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    step = float(np.median(np.diff(levels.times_s))) if levels.times_s.size > 1 else 0.01
    lengths = [r * step for r in runs if r * step >= PAUSE_MIN_S]
    return Pauses(len(lengths), round(float(sum(lengths)), 3), round(float(max(lengths, default=0.0)), 3))


def count_syllables(clip: Clip, voiced_times_s: np.ndarray) -> int:
    """Syllable nuclei: intensity peaks above the median that stand 2 dB over the dip before
    them and fall in voiced frames (de Jong & Wempe's Praat script, simplified)."""
    import parselmouth

    if clip.duration_s < 0.1:
        return 0
    sound = parselmouth.Sound(clip.samples.astype(np.float64), sampling_frequency=clip.sample_rate_hz)
    intensity = sound.to_intensity(minimum_pitch=50.0, time_step=0.01)
    db = intensity.values[0]
    times = np.asarray(intensity.xs())
    threshold = max(np.median(db), db.max() - 25.0)
    peaks, last_dip = [], db[0]
    for i in range(1, len(db) - 1):
        last_dip = min(last_dip, db[i])
        if db[i] > db[i - 1] and db[i] >= db[i + 1] and db[i] > threshold and db[i] - last_dip >= 2.0:
            peaks.append(times[i])
            last_dip = db[i]
    if voiced_times_s.size == 0:
        return 0
    voiced = np.sort(voiced_times_s)
    near = [abs(voiced[np.clip(np.searchsorted(voiced, t), 0, len(voiced) - 1)] - t) <= 0.02 for t in peaks]
    return int(sum(near))
