"""Record one answer: consume audio chunks until the trainee has finished speaking.

The source is any iterator of ``AudioChunk`` (a microphone, a replayed file, an upload), so the
kiosk, the demo and the tests share this loop. Listeners get the live level (for a meter) and
the VAD events (so streaming transcription can start on closed segments while the trainee talks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

import numpy as np

from audio.clip import TARGET_RATE_HZ, Clip
from audio.devices import DeviceError
from audio.source import AudioChunk
from audio.vad import EndpointConfig, Endpointer, Event, SpeechDetector, VadEvent

log = logging.getLogger(__name__)

TAIL_KEEP_S = 0.2
"""Audio kept after the last speech window, so a word's release is not clipped."""


class Outcome(Enum):
    SPEECH_ENDED = "speech_ended"
    """The trainee spoke and then fell silent: the normal case."""
    NO_SPEECH = "no_speech"
    """Nothing that sounded like speech before the timeout."""
    MAX_LENGTH = "max_length"
    """The answer hit the length cap and was cut there."""
    DEVICE_LOST = "device_lost"
    """The microphone failed mid-answer; what was heard so far is kept."""
    SOURCE_ENDED = "source_ended"
    """A file or upload ran out before the trainee fell silent (or before any speech)."""


@dataclass(frozen=True, eq=False)
class Recording:
    clip: Clip
    """The answer, from the start of capture to shortly after the end of speech."""
    outcome: Outcome
    speech_start_s: float | None
    """Start of the first speech, seconds into ``clip``; None when there was none."""
    speech_end_s: float | None
    """End of the last speech, seconds into ``clip``."""
    error: str | None = None
    """The device error for DEVICE_LOST, one sentence."""

    @property
    def has_speech(self) -> bool:
        return self.speech_start_s is not None

    def speech_clip(self) -> Clip:
        """The answer trimmed to its speech (with a small margin either side)."""
        if self.speech_start_s is None:
            return Clip(np.zeros(0, np.float32), self.clip.sample_rate_hz)
        end = None if self.speech_end_s is None else self.speech_end_s + TAIL_KEEP_S
        return self.clip.slice_s(max(0.0, self.speech_start_s - 0.1), end)


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level of a chunk in dB full scale (-100 for digital silence); for the live meter."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    return 20.0 * np.log10(max(rms, 1e-5))


def record_answer(
    chunks: Iterable[AudioChunk],
    config: EndpointConfig = EndpointConfig(),
    on_level: Callable[[float], None] | None = None,
    on_event: Callable[[VadEvent, Clip], None] | None = None,
    detector: SpeechDetector | None = None,
) -> Recording:
    """Consume ``chunks`` until the end of speech, the no-speech timeout or the length cap.

    ``on_event`` receives each VAD event with the audio captured so far, in the capture thread;
    it must return quickly (hand heavy work to a worker).
    """
    detector = detector or SpeechDetector()
    detector.reset()
    endpointer = Endpointer(config)
    pieces: list[np.ndarray] = []
    outcome, error = Outcome.SOURCE_ENDED, None
    start_s: float | None = None
    end_s: float | None = None
    rate = TARGET_RATE_HZ
    try:
        for chunk in chunks:
            if chunk.sample_rate_hz != TARGET_RATE_HZ:
                raise ValueError(f"capture expects {TARGET_RATE_HZ} Hz chunks, got {chunk.sample_rate_hz}")
            pieces.append(chunk.samples)
            if on_level is not None:
                on_level(level_dbfs(chunk.samples))
            for probability, level_db in zip(*detector.windows(chunk.samples)):
                for event in endpointer.push(float(probability), float(level_db)):
                    if event.kind is Event.SPEECH_START:
                        start_s = event.time_s
                    elif event.kind in (Event.PAUSE, Event.SPEECH_END):
                        end_s = event.time_s
                    if on_event is not None:
                        on_event(event, Clip(np.concatenate(pieces), rate))
                    if event.kind is Event.SPEECH_END:
                        outcome = Outcome.SPEECH_ENDED
                    elif event.kind is Event.NO_SPEECH:
                        outcome = Outcome.NO_SPEECH
                    elif event.kind is Event.MAX_LENGTH:
                        outcome = Outcome.MAX_LENGTH
            if endpointer.done:
                break
    except DeviceError as exc:
        log.warning("capture stopped: %s", exc)
        outcome, error = Outcome.DEVICE_LOST, str(exc)
    clip = Clip(np.concatenate(pieces) if pieces else np.zeros(0, np.float32), rate)
    if start_s is not None and outcome is not Outcome.SPEECH_ENDED:
        # Cut short (cap, lost device, file ended): speech runs to the end of what we have,
        # unless a clear end was already seen and nothing followed it.
        if endpointer.in_speech or end_s is None:
            end_s = clip.duration_s
    if outcome is Outcome.SPEECH_ENDED and end_s is not None:
        clip = clip.slice_s(0.0, end_s + TAIL_KEEP_S)
    return Recording(clip, outcome, start_s, end_s, error)
