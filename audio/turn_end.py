"""Has the trainee finished, or only paused? The silence that ends an answer, from what was said.

A fixed silence either cuts a speaker who stops to think mid-sentence or keeps a finished one
waiting. At every pause the streaming decoder has just transcribed the answer up to it, so the
words say whether a sentence was finished; Whisper, though, often writes a full stop wherever
the audio it was given stops ("I am so sorry about the delay," heard up to its comma becomes
"...delay."), so the voice is asked too: a finished statement falls in pitch at its end, a
speaker who means to go on holds or raises it. Measured on espeak-ng answers with pauses
written into them (bench/endpointing.py, docs/performance.md): the last 80 ms of voice before a
comma rose by 1-2 semitones, before "and" or mid-phrase fell by at most 0.51, before a full stop
fell by 0.62-1.27.
"""

from __future__ import annotations

import numpy as np

from audio.asr import Word
from audio.clip import Clip

CONTINUATIONS = frozenset(
    """
and but so or nor because cause if then when while although though that which who whom whose where
um uh er erm ah hmm like well
the a an to of for with from by at on in into about as my your our their his her its this these
those i we you they he she it is are was were be been will would can could should shall may might
must have has had do does did not just also very really
""".split()
)
"""Words a sentence does not end on: a speaker who stops after them is thinking, not done."""

COMPLETE_END_S = 0.55
"""Silence that ends an answer whose words end a sentence with a falling voice. Above the
0.45 s sentence pauses of fluent reading (bench/mix.py keeps those), so a reader is not cut
between sentences; 0.15 s less than the fixed 0.7 s this replaces."""
OPEN_END_S = 1.5
"""Silence that ends an answer stopped on "and", "um", a comma, a word a sentence does not end
on, or a level voice: pauses of up to 1.2 s there must never cut the answer."""
UNKNOWN_END_S = 1.2
"""Silence that ends an answer while the decode of its last words is still running (a busy
machine): a pause inside a sentence is not cut on a guess."""
FALL_ST = -0.55
"""A voice that ends at least this many semitones below where it was counts as falling."""

_LAST_FRAMES, _BEFORE_FRAMES = 8, 22
"""Voiced 10 ms pitch frames compared: the last 80 ms against the 220 ms before them."""


def sentence_complete(words: list[Word]) -> bool:
    """The words end a sentence: the last carries a full stop, question or exclamation mark
    and is not a word a sentence cannot end on (Whisper puts a full stop after a trailing "and"
    it heard before a pause, or hears "tracking and" as "track again.")."""
    if not words:
        return False
    last = words[-1].text.strip()
    if not last or last[-1] not in ".?!" or last.endswith("..."):
        return False
    return last.strip(".?!,\"'").lower() not in CONTINUATIONS


def final_pitch_change_st(clip: Clip) -> float | None:
    """Semitones from the voice's pitch just before ``clip`` ends to its pitch a little earlier
    (negative: falling); None when there is too little voice to tell."""
    import parselmouth  # Praat: the same pitch tracker as the delivery analysis

    if clip.duration_s < 0.1:
        return None
    sound = parselmouth.Sound(clip.samples.astype(np.float64), clip.sample_rate_hz)
    f0 = sound.to_pitch(time_step=0.01, pitch_floor=60, pitch_ceiling=500).selected_array["frequency"]
    voiced = f0[f0 > 0]
    if len(voiced) < _LAST_FRAMES + _BEFORE_FRAMES // 2:
        return None
    last = voiced[-_LAST_FRAMES:]
    before = voiced[-(_LAST_FRAMES + _BEFORE_FRAMES) : -_LAST_FRAMES]
    return float(12 * np.log2(np.median(last) / np.median(before)))


def silence_to_end_s(words: list[Word], pitch_change_st: float | None) -> float:
    """The silence after the words heard so far that ends the answer: COMPLETE_END_S after a
    finished sentence said with a falling voice, OPEN_END_S otherwise."""
    falling = pitch_change_st is not None and pitch_change_st <= FALL_ST
    return COMPLETE_END_S if sentence_complete(words) and falling else OPEN_END_S
