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
CLIP_LEVEL = 0.999


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
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    power = np.mean(x[idx] ** 2, axis=1)
    level = 10.0 * np.log10(np.maximum(power, 1e-10))
    loud = np.percentile(level, 95)
    floor = np.percentile(level, 10)
    speech = (level > loud - SPEECH_RANGE_DB) & (level > floor + 6.0)
    times = (hop * np.arange(n) + frame / 2) / rate
    return FrameLevels(times, level, speech)


def active_level_db(levels: FrameLevels) -> float:
    """Mean power of the active-speech frames, dBFS (a simplified ITU-T P.56 active level)."""
    if not levels.speech.any():
        return float("nan")
    return float(10.0 * np.log10(np.mean(10.0 ** (levels.level_db[levels.speech] / 10.0))))


def noise_floor_db(levels: FrameLevels) -> float:
    """10th percentile of frame levels: the room between words."""
    return float(np.percentile(levels.level_db, 10)) if levels.level_db.size else float("nan")


def spectral_balance_db(clip: Clip, levels: FrameLevels) -> float:
    """Energy 1-5 kHz minus energy below 1 kHz over the speech frames, dB."""
    rate = clip.sample_rate_hz
    frame, hop = int(FRAME_S * rate), int(HOP_S * rate)
    starts = (np.flatnonzero(levels.speech) * hop)
    if starts.size == 0:
        return float("nan")
    x = clip.samples.astype(np.float64)
    idx = np.arange(frame)[None, :] + starts[:, None]
    spectrum = np.abs(np.fft.rfft(x[idx] * np.hanning(frame), axis=1)) ** 2
    freqs = np.fft.rfftfreq(frame, 1.0 / rate)
    low = spectrum[:, (freqs >= 50) & (freqs < 1000)].sum()
    high = spectrum[:, (freqs >= 1000) & (freqs < 5000)].sum()
    if low <= 0 or high <= 0:
        return float("nan")
    return float(10.0 * np.log10(high / low))


def clipped_fraction(clip: Clip) -> float:
    """Share of samples at full scale: above ~0.1 % the answer was shouted into the mic."""
    if clip.samples.size == 0:
        return 0.0
    return float(np.mean(np.abs(clip.samples) >= CLIP_LEVEL))
