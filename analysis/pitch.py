"""Fundamental frequency with Praat's autocorrelation method (via parselmouth), two passes.

A fixed 75-600 Hz range makes octave errors on low male and high female voices; the second
pass uses a range adapted to this speaker from the first pass's quartiles (floor 0.75 x Q1,
ceiling 1.5 x Q3), the usual practice in phonetics (e.g. De Looze & Hirst).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audio.clip import Clip

TIME_STEP_S = 0.01
FIRST_PASS_STEP_S = 0.03
"""The wide first pass only has to find the speaker's quartiles: a frame every 30 ms gives the
same quartiles (within 1 %) for half the cost (bench/analysis_speed.py)."""
WIDE_FLOOR_HZ = 60.0
WIDE_CEILING_HZ = 700.0


@dataclass(frozen=True, eq=False)
class PitchTrack:
    times_s: np.ndarray
    f0_hz: np.ndarray
    """NaN where unvoiced (Praat's 0 Hz turned into NaN before any statistic)."""
    floor_hz: float
    ceiling_hz: float

    @property
    def voiced(self) -> np.ndarray:
        return self.f0_hz[np.isfinite(self.f0_hz)]


def _praat_pitch(
    clip: Clip, floor_hz: float, ceiling_hz: float, time_step_s: float = TIME_STEP_S
) -> tuple[np.ndarray, np.ndarray]:
    import parselmouth

    sound = parselmouth.Sound(clip.samples.astype(np.float64), sampling_frequency=clip.sample_rate_hz)
    pitch = sound.to_pitch_ac(time_step=time_step_s, pitch_floor=floor_hz, pitch_ceiling=ceiling_hz)
    f0 = pitch.selected_array["frequency"].astype(np.float64)
    f0[f0 <= 0] = np.nan
    return np.asarray(pitch.xs()), f0


def track_pitch(clip: Clip) -> PitchTrack:
    """Two-pass pitch track of a clip (needs at least ~50 ms of audio)."""
    if clip.duration_s < 3 / WIDE_FLOOR_HZ:
        return PitchTrack(np.zeros(0), np.zeros(0), WIDE_FLOOR_HZ, WIDE_CEILING_HZ)
    wide = _praat_pitch(clip, WIDE_FLOOR_HZ, WIDE_CEILING_HZ, FIRST_PASS_STEP_S)[1]
    voiced = wide[np.isfinite(wide)]
    if voiced.size < 5:
        return PitchTrack(*_praat_pitch(clip, WIDE_FLOOR_HZ, WIDE_CEILING_HZ), WIDE_FLOOR_HZ, WIDE_CEILING_HZ)
    q1, q3 = np.percentile(voiced, [25, 75])
    floor = float(max(40.0, 0.75 * q1))
    ceiling = float(min(1000.0, max(1.5 * q3, floor * 2.5)))
    if clip.duration_s < 3 / floor:
        return PitchTrack(*_praat_pitch(clip, WIDE_FLOOR_HZ, WIDE_CEILING_HZ), WIDE_FLOOR_HZ, WIDE_CEILING_HZ)
    times, f0 = _praat_pitch(clip, floor, ceiling)
    return PitchTrack(times, f0, floor, ceiling)


def semitones(f_hz: float, ref_hz: float) -> float:
    """Interval from ``ref_hz`` to ``f_hz`` in semitones (12 per octave)."""
    return float(12.0 * np.log2(f_hz / ref_hz))
