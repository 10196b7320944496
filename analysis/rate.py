"""Speaking rate, pauses and fillers, from Whisper's word timings and the signal's intensity.

Words per minute counts the words as spoken over the speaking span heard in the signal (onset of
the first voiced stretch to offset of the last), not over Whisper's word times: tiny.en puts the
first word at 0.0 s when an answer starts with silence, so its span would count that silence as
speech. The syllable count from intensity peaks (after de Jong & Wempe, 2009) is a cross-check
that needs no transcript.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from audio.asr import Transcript
from audio.clip import Clip
from analysis.loudness import FrameLevels

PAUSE_MIN_S = 0.25
MIN_VOICE_S = 0.05
SILENCE_DB = -25.0
"""de Jong & Wempe: intensity peaks less than 25 dB below the 99th percentile can be nuclei."""
MIN_DIP_DB = 2.0
"""de Jong & Wempe: a nucleus must stand this far above the dip before the next peak."""
VOICED_TOLERANCE_S = 0.01
FILLER_WORDS = frozenset({"um", "uh", "erm", "er", "hmm", "mm", "ah", "uhm", "umm"})
FILLER_PROMPT = "Umm, let me think like, hmm... Okay, here is what I am, like, thinking."
"""Whisper prompt that keeps hesitations in the transcript. Whisper was trained on cleaned-up
transcripts and drops "um" and "uh" unless its prompt shows them (tests/test_delivery_fillers.py);
on fluent speech the prompt adds none. Pass it to ``Transcriber.transcribe(clip, prompt=...)``
for answers whose fillers should be counted."""
_TOKEN = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?(?:st|nd|rd|th|s)?|[a-z']+")
"""A number (with thousands commas, decimals, an ordinal suffix) or a word. A comma counts only
between groups of three digits: "In 1465, they..." is a year followed by a comma, not 1,465."""


_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))


def _cardinal(n: int) -> list[str]:
    """English words for 0 <= n < 10**12 ("one hundred twenty five": no "and", as Whisper's
    American English transcripts and espeak read it)."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    for value, name in _SCALES:
        if n >= value:
            rest = _cardinal(n % value) if n % value else []
            return _cardinal(n // value) + [name] + rest
    raise AssertionError(n)


def number_words(digits: str) -> list[str]:
    """How a digit string is spoken. Four bare digits 1100-1999 and 2010-2099 are read as a year
    in pairs ("eighteen thirteen", "nineteen oh five"); anything else ("1,250") as a cardinal."""
    if "," in digits:
        return _cardinal(int(digits.replace(",", "")))
    n = int(digits)
    if len(digits) == 4 and (1100 <= n <= 1999 or 2010 <= n <= 2099) and n % 100:
        tail = _cardinal(n % 100) if n % 100 >= 10 else ["oh", _ONES[n % 100]]
        return _cardinal(n // 100) + tail
    if len(digits) == 4 and 1100 <= n <= 1999:  # 1900: "nineteen hundred"
        return _cardinal(n // 100) + ["hundred"]
    return _cardinal(n) if n < 10**12 else list(digits)


def normalize(text: str) -> list[str]:
    """Lower-case spoken word tokens: punctuation dropped, digits written out, so "25" and
    "twenty five" count the same two words whichever way Whisper wrote them."""
    tokens: list[str] = []
    for t in _TOKEN.findall(text.lower()):
        if t[0].isdigit():
            # An ordinal ("21st") is counted as its cardinal: the same number of words.
            whole, _, frac = t.rstrip("stndrh").partition(".")
            tokens += number_words(whole)
            if frac:
                tokens += ["point", *(_ONES[int(d)] for d in frac)]
        else:
            tokens.append(t)
    return tokens


def spoken_word_count(transcript: Transcript) -> int:
    return sum(len(normalize(w.text)) for w in transcript.words)


def find_fillers(transcript: Transcript) -> list[str]:
    """Hesitation sounds and filler phrases ("you know", "like" between words, not as a verb)."""
    tokens = [t for w in transcript.words for t in normalize(w.text)]
    found = [t for t in tokens if t in FILLER_WORDS]
    for i in range(len(tokens) - 1):
        if (
            tokens[i] == "you"
            and tokens[i + 1] == "know"
            and (i + 2 == len(tokens) or tokens[i + 2] not in {"what", "that", "how", "why", "where"})
        ):
            found.append("you know")
    for i in range(1, len(tokens) - 1):
        # "like" as filler: not after a verb of liking/looking or "would", "feel", "look", "sounds".
        if tokens[i] == "like" and tokens[i - 1] not in {
            "would",
            "i",
            "you",
            "we",
            "they",
            "feel",
            "feels",
            "look",
            "looks",
            "sounds",
            "seems",
            "just",
            "more",
            "something",
            "anything",
            "nothing",
            "what",
            "d",
            "don't",
        }:
            found.append("like")
    return found


@dataclass(frozen=True)
class Pauses:
    count: int
    total_s: float
    longest_s: float


def find_pauses(levels: FrameLevels, start_s: float, end_s: float) -> Pauses:
    """Silent stretches of at least 250 ms between ``start_s`` and ``end_s`` (speech span).
    Blips of "speech" shorter than 50 ms (room noise or reverberation crossing the threshold) do
    not split a pause: without this JFK's 1.1 s pause read as two short ones."""
    if levels.times_s.size < 2:
        return Pauses(0, 0.0, 0.0)
    step = _step_s(levels)
    voice = voice_frames(levels)
    inside = np.flatnonzero((levels.times_s >= start_s) & (levels.times_s <= end_s))
    if inside.size == 0:
        return Pauses(0, 0.0, 0.0)
    first, last = inside[0], inside[-1]
    # Silence touching either end is Whisper's loose first or last word time, not a pause.
    lengths = [
        (b - a) * step
        for a, b in true_runs(~voice[first : last + 1])
        if (b - a) * step >= PAUSE_MIN_S and a > 0 and b < last + 1 - first
    ]
    return Pauses(len(lengths), round(float(sum(lengths)), 3), round(float(max(lengths, default=0.0)), 3))


def speaking_span(levels: FrameLevels, words) -> tuple[float, float]:
    """Start and end of the speaking (s): the first and last active-voice frame between the first
    word's start and the last word's end. Inside the words the signal decides, so silence Whisper
    folded into its first or last word is not speech; the words bound the search, so where the
    energy track cannot tell the voice from the room (a babble of other voices) the span is no
    longer than Whisper's. Falls back to the words' own span when no frame is voiced."""
    if not words:
        return 0.0, 0.0
    lo, hi = words[0].start_s, words[-1].end_s
    voiced = levels.times_s[voice_frames(levels) & (levels.times_s >= lo) & (levels.times_s <= hi)]
    if voiced.size == 0:
        return lo, hi
    return float(voiced[0]), float(voiced[-1])


def voice_frames(levels: FrameLevels) -> np.ndarray:
    """The active-speech frames without blips shorter than MIN_VOICE_S (noise, reverberation)."""
    voice = levels.speech.copy()
    for a, b in true_runs(voice):
        if (b - a) * _step_s(levels) < MIN_VOICE_S:
            voice[a:b] = False
    return voice


def _step_s(levels: FrameLevels) -> float:
    return float(np.median(np.diff(levels.times_s))) if levels.times_s.size > 1 else 0.01


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the runs of True in ``mask``."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def count_syllables(clip: Clip, voiced_times_s: np.ndarray) -> int:
    """Syllable nuclei after de Jong & Wempe's Praat script (2009), with its settings: peaks of
    the intensity contour above (99th percentile - 25 dB) that fall by more than 2 dB before the
    next peak, kept only where the pitch track is voiced (within one 10 ms frame)."""
    import parselmouth

    if clip.duration_s < 0.1 or voiced_times_s.size == 0:
        return 0
    sound = parselmouth.Sound(clip.samples.astype(np.float64), sampling_frequency=clip.sample_rate_hz)
    intensity = sound.to_intensity(minimum_pitch=50.0)
    db = intensity.values[0]
    times = np.asarray(intensity.xs())
    threshold = max(float(np.quantile(db, 0.99)) + SILENCE_DB, float(db.min()))
    peaks = [i for i in range(1, len(db) - 1) if db[i] > db[i - 1] and db[i] >= db[i + 1] and db[i] > threshold]
    nuclei = np.array(
        [times[a] for a, b in zip(peaks, peaks[1:] + [len(db) - 1]) if db[a] - db[a : b + 1].min() > MIN_DIP_DB]
    )
    if nuclei.size == 0:
        return 0
    gap = np.abs(nuclei[:, None] - voiced_times_s[None, :]).min(axis=1)
    return int(np.sum(gap <= VOICED_TOLERANCE_S))


TREND_MIN_S = 6.0
"""Shorter answers have no trend: each third must hold a couple of seconds of speech, so one
fast phrase or one loud word cannot make a drift."""
SPED_UP_RATIO = 1.25
LOUDER_TREND_DB = 3.0
TREND_PERCENTILE = 75
"""The level of a third is the 75th percentile of its speech frames: the vowels' level, which
the quiet edges of words do not drag down and one loud word (under a quarter of the frames of a
third) cannot lift. Whisper's word times are too loose to pick the vowels out by word."""


@dataclass(frozen=True)
class Trend:
    """Last third of the answer against the first third."""

    rate_ratio: float
    """Words per second of voice heard (pauses excluded), last third over first third."""
    level_change_db: float
    """Level of the louder speech frames (75th percentile), last third minus first third."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Only the drifts the guide warns about (defuse-slow-down, defuse-lower-voice); read speech
        naturally ends a few dB quieter."""
        found = []
        if self.rate_ratio > SPED_UP_RATIO:
            found.append("sped_up")
        if self.level_change_db > LOUDER_TREND_DB:
            found.append("got_louder")
        return tuple(found)


def find_trend(transcript: Transcript, levels: FrameLevels) -> Trend | None:
    """Did the pace or the level drift between the first and the last third of the speech?
    Whole thirds and a percentile measure a sustained drift, not a single word."""
    words = transcript.words
    start, end = speaking_span(levels, words)
    if not words or end - start < TREND_MIN_S:
        return None
    third = (end - start) / 3
    spans = ((start, start + third), (end - third, end))
    rates, loud = [], []
    voice = voice_frames(levels)
    for a, b in spans:
        n = sum(len(normalize(w.text)) for w in words if a <= (w.start_s + w.end_s) / 2 < b + 1e-9)
        # Speaking time is the voice heard in the third: Whisper's first and last word times are
        # loose and may take in the silence before or after the answer.
        speaking_s = np.sum(voice & (levels.times_s >= a) & (levels.times_s < b)) * _step_s(levels)
        rates.append(n / max(speaking_s, 0.5))
        inside = (levels.times_s >= a) & (levels.times_s < b) & levels.speech
        loud.append(float(np.percentile(levels.level_db[inside], TREND_PERCENTILE)) if inside.any() else float("nan"))
    if rates[0] == 0:
        return None
    return Trend(round(rates[1] / rates[0], 2), round(loud[1] - loud[0], 1))
