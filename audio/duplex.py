"""Play the customer's line with the microphone already open, then take the customer back out.

A trainee may start answering before the customer has finished (an interruption the rubric must
see), so at the kiosk the microphone opens before the line plays. The loudspeaker's sound then
reaches the microphone too; left in, the customer's voice would be judged as the trainee's. The
kiosk knows exactly what it played and when, so what the microphone heard during the line and
its reverberation tail is cleaned with ``audio.bleed.remove_bleed`` before anything judges it;
after that the live microphone flows through untouched.

The cleaned audio is released when the line has finished playing, so the VAD and the transcript
see the whole answer in order, interruption included, with no extra delay at the end of speech.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from audio.bleed import MAX_DELAY_S, TAIL_S, remove_bleed
from audio.clip import Clip
from audio.devices import Microphone, start_playback
from audio.source import AudioChunk, chunks_from_clip

log = logging.getLogger(__name__)


@dataclass
class LineHeard:
    """What the duplex capture learnt about the customer's line, filled in as it plays."""

    line_end_s: float = 0.0
    """When the customer stopped talking, seconds on the capture's clock (playback delay
    included): the reference for the rubric's ``interrupt`` check."""
    echo_level_db: float = float("nan")
    """How loud the customer was at the microphone, dBFS (NaN: not heard at all, a headset)."""


def answer_over_line(
    mic: Microphone, line: Clip, speaker: int | str | None = None, heard: LineHeard | None = None
) -> Iterator[AudioChunk]:
    """Play ``line`` and yield the microphone's chunks from the moment it starts, the customer's
    voice removed. ``heard`` (optional) receives the line's end time and echo level."""
    heard = heard if heard is not None else LineHeard()
    rate = mic.sample_rate_hz
    needed = int((line.duration_s + MAX_DELAY_S + TAIL_S) * rate)
    live = mic.chunks()
    with start_playback(line, speaker):
        pieces: list[np.ndarray] = []
        got = 0
        for chunk in live:
            pieces.append(chunk.samples)
            got += len(chunk.samples)
            if got >= needed:
                break
    during = Clip(np.concatenate(pieces) if pieces else np.zeros(0, np.float32), rate)
    cleaned = remove_bleed(during, line)
    heard.line_end_s = line.duration_s + cleaned.delay_s
    heard.echo_level_db = cleaned.echo_level_db
    log.info(
        "customer line %.1f s: bleed %.1f dBFS at %.0f ms, %.1f dB removed",
        line.duration_s,
        cleaned.echo_level_db,
        cleaned.delay_s * 1000,
        cleaned.erle_db,
    )
    yield from chunks_from_clip(cleaned.clip, mic.chunk_samples)
    yield from live
