"""Level, noise floor and vocal effort from short frames of the signal.

Levels are dB relative to full scale: absolute only per microphone, so verdicts compare against
the trainee's own baseline. Spectral balance (energy 1-5 kHz over energy below 1 kHz) rises with
vocal effort whatever the gain, because shouting tilts the voice spectrum upwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audio.clip import Clip

FRAME_S = 0.03
HOP_S = 0.01
SPEECH_RANGE_DB = 30.0
"""Frames within this many dB of the loud end (95th percentile) count as active speech."""
SPEECH_OVER_NOISE_DB = 3.0
"""...and stand this far above the noise floor."""
MIN_NOISE_FRAMES = 20
"""Frames outside the words needed (200 ms) before their median is trusted as the noise floor."""
NOISE_PERCENTILE = 30
QUIET_STRETCH_S = 0.2
BABBLE_DIP_DB = 10.0
CLIP_LEVEL = 0.999
BLOCK_FRAMES = 512
"""Frames framed at once: a 60 s answer framed whole is 6000 x 480 samples, tens of MB per
temporary; in blocks the result is the same and the memory a few MB."""


@dataclass(frozen=True, eq=False)
class FrameLevels:
    times_s: np.ndarray
    """Centre of each frame."""
    level_db: np.ndarray
    """RMS level of each frame, dBFS."""
    speech: np.ndarray
    """Boolean mask of active-speech frames."""


def frame_levels(clip: Clip) -> FrameLevels:
    rate = clip.sample_rate_hz
    frame, hop = int(FRAME_S * rate), int(HOP_S * rate)
    x = clip.samples.astype(np.float64)
    if len(x) < frame:
        return FrameLevels(np.zeros(0), np.zeros(0), np.zeros(0, bool))
    n = 1 + (len(x) - frame) // hop
    power = np.concatenate([np.mean(block**2, axis=1) for block in _framed(x, frame, hop * np.arange(n))])
    level = 10.0 * np.log10(np.maximum(power, 1e-10))
    loud = np.percentile(level, 95)
    floor = _mean_db(level[level <= np.percentile(level, 10)])
    speech = (level > loud - SPEECH_RANGE_DB) & (level > floor + SPEECH_OVER_NOISE_DB)
    times = (hop * np.arange(n) + frame / 2) / rate
    return FrameLevels(times, level, speech)


def _framed(x: np.ndarray, frame: int, starts: np.ndarray):
    """The frames of ``x`` starting at ``starts``, BLOCK_FRAMES rows at a time."""
    for i in range(0, len(starts), BLOCK_FRAMES):
        yield x[np.arange(frame)[None, :] + starts[i : i + BLOCK_FRAMES, None]]


def active_level_db(levels: FrameLevels, span: np.ndarray | None = None, floor_db: float | None = None) -> float:
    """Mean power of the active-speech frames less the noise power, dBFS (a simplified ITU-T
    P.56 active level). ``span`` (a frame mask, e.g. first word to last) keeps room noise before
    and after the answer out of the average; subtracting the noise keeps the level of the voice
    itself from rising with the room noise. What gating cannot undo (weak syllables hidden under
    the noise) is left to the SNR check that makes the verdict "unknown" in a noisy room."""
    speech = levels.speech if span is None else levels.speech & span
    if not speech.any():
        return float("nan")
    power = np.mean(10.0 ** (levels.level_db[speech] / 10.0))
    noise = 10.0 ** ((noise_floor_db(levels) if floor_db is None else floor_db) / 10.0)
    return float(10.0 * np.log10(max(power - noise, power * 0.01)))


def noise_floor_db(levels: FrameLevels, outside_words: np.ndarray | None = None) -> float:
    """The room between and around the words. Given a mask of the frames outside the words (at
    least MIN_NOISE_FRAMES of them), the 30th percentile of their levels: a babble of other
    voices has quiet moments, and the quietest frames of the whole clip would take it for
    silence, while a median would take in the edges of words Whisper timed loosely. The 30th
    percentile reads babble and speech-shaped noise alike (docs/validation.md). Otherwise the
    mean power of the quietest 10 % of frames (a mean, because noise power fluctuates frame to
    frame and a low percentile itself reads low by a decibel or two)."""
    if not levels.level_db.size:
        return float("nan")
    if outside_words is not None and outside_words.sum() >= MIN_NOISE_FRAMES:
        floor = float(np.percentile(levels.level_db[outside_words], NOISE_PERCENTILE))
    else:
        floor = _mean_db(levels.level_db[levels.level_db <= np.percentile(levels.level_db, 10)])
    stretch = _quietest_stretch_db(levels)
    return stretch if floor < stretch < floor + BABBLE_DIP_DB else floor


def _quietest_stretch_db(levels: FrameLevels) -> float:
    """Level of the quietest 200 ms stretches (5th percentile of a 200 ms moving average).

    A babble of other voices dips for a frame or two, a few dB, but rarely falls silent for
    200 ms: when the quietest stretch is only a few dB above the quietest frames, those frames
    were such dips, and the stretch is the truer floor (else a babble passes for a quiet room
    once Whisper has covered the clip with its words). When the stretch is far above them, the
    quiet frames are real silence between words of a clip with no long pause, and stand."""
    n = int(round(QUIET_STRETCH_S / HOP_S))
    if levels.level_db.size < n:
        return float("-inf")
    power = np.convolve(10.0 ** (levels.level_db / 10.0), np.ones(n) / n, mode="valid")
    return float(10.0 * np.log10(np.percentile(power, 5)))


def _mean_db(level_db: np.ndarray) -> float:
    """Level of the mean power of frames given in dB."""
    return float(10.0 * np.log10(np.mean(10.0 ** (level_db / 10.0))))


def spectral_balance_db(clip: Clip, levels: FrameLevels) -> float:
    """Energy 1-5 kHz minus energy below 1 kHz over the speech frames, dB."""
    rate = clip.sample_rate_hz
    frame, hop = int(FRAME_S * rate), int(HOP_S * rate)
    starts = np.flatnonzero(levels.speech) * hop
    if starts.size == 0:
        return float("nan")
    freqs = np.fft.rfftfreq(frame, 1.0 / rate)
    low_band, high_band = (freqs >= 50) & (freqs < 1000), (freqs >= 1000) & (freqs < 5000)
    window = np.hanning(frame)
    low = high = 0.0
    for block in _framed(clip.samples.astype(np.float64), frame, starts):
        spectrum = np.abs(np.fft.rfft(block * window, axis=1)) ** 2
        low += spectrum[:, low_band].sum()
        high += spectrum[:, high_band].sum()
    if low <= 0 or high <= 0:
        return float("nan")
    return float(10.0 * np.log10(high / low))


def clipped_fraction(clip: Clip) -> float:
    """Share of samples at full scale: above ~0.1 % the answer was shouted into the mic."""
    if clip.samples.size == 0:
        return 0.0
    return float(np.mean(np.abs(clip.samples) >= CLIP_LEVEL))
