"""Where answer audio comes from: a file and a live microphone give the same stream of chunks.

Everything after capture (endpointing, streaming ASR, analysis) reads ``AudioChunk``s, so a test
or the demo can replay a recording through exactly the code path a real microphone takes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from audio.clip import TARGET_RATE_HZ, Clip

CHUNK_SAMPLES = 512
"""32 ms at 16 kHz: one Silero VAD window, so every chunk gets a speech decision at once."""


@dataclass(frozen=True, eq=False)
class AudioChunk:
    samples: np.ndarray
    """float32 mono in [-1, 1]."""
    sample_rate_hz: int
    start_s: float
    """Seconds since the start of capture."""

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.samples) / self.sample_rate_hz


def chunks_from_clip(clip: Clip, chunk_samples: int = CHUNK_SAMPLES, realtime: bool = False) -> Iterator[AudioChunk]:
    """Replay a clip as capture would deliver it; ``realtime`` paces it like a live microphone."""
    clip = clip.resampled(TARGET_RATE_HZ)
    t0 = time.monotonic()
    for i in range(0, len(clip.samples), chunk_samples):
        chunk = AudioChunk(clip.samples[i : i + chunk_samples], clip.sample_rate_hz, i / clip.sample_rate_hz)
        if realtime:
            delay = chunk.end_s - (time.monotonic() - t0)
            if delay > 0:
                time.sleep(delay)
        yield chunk
