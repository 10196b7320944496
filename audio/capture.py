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


class AnswerCapture:
    """The state of one answer being captured: fed samples, it runs the VAD and the endpointer
    and keeps the audio; ``recording()`` is the answer once ``done`` (or whenever the source
    stopped). No I/O and no threads: ``record_answer`` drives it from a chunk iterator, the web
    kiosk from a WebSocket, ``audio.answer_stream.AnswerStream`` from either."""

    def __init__(
        self,
        config: EndpointConfig = EndpointConfig(),
        detector: SpeechDetector | None = None,
        end_silence_s: Callable[[], float | None] | None = None,
    ) -> None:
        self.detector = detector or SpeechDetector()
        self.detector.reset()
        self.endpointer = Endpointer(config, end_silence_s)
        self._pieces: list[np.ndarray] = []
        self._samples = 0
        self.outcome, self.error = Outcome.SOURCE_ENDED, None
        self.start_s: float | None = None
        self.end_s: float | None = None

    @property
    def done(self) -> bool:
        return self.endpointer.done or self.outcome is Outcome.DEVICE_LOST

    @property
    def duration_s(self) -> float:
        return self._samples / TARGET_RATE_HZ

    def audio(self) -> Clip:
        """Everything captured so far (the pieces are joined once, then kept joined)."""
        if len(self._pieces) > 1:
            self._pieces = [np.concatenate(self._pieces)]
        return Clip(self._pieces[0] if self._pieces else np.zeros(0, np.float32), TARGET_RATE_HZ)

    def push(self, samples: np.ndarray, on_event: Callable[[VadEvent, Clip], None] | None = None) -> list[VadEvent]:
        """Consume 16 kHz float samples; returns the VAD events they triggered (``on_event``
        also gets each with the audio so far). Nothing is taken once the answer is done."""
        if self.done:
            return []
        samples = np.asarray(samples, np.float32)
        self._pieces.append(samples)
        self._samples += len(samples)
        fired = []
        for probability, level_db in zip(*self.detector.windows(samples)):
            for event in self.endpointer.push(float(probability), float(level_db)):
                fired.append(event)
                if event.kind is Event.SPEECH_START:
                    self.start_s = event.time_s
                elif event.kind in (Event.PAUSE, Event.SPEECH_END):
                    self.end_s = event.time_s
                if on_event is not None:
                    on_event(event, self.audio())
                if event.kind is Event.SPEECH_END:
                    self.outcome = Outcome.SPEECH_ENDED
                elif event.kind is Event.NO_SPEECH:
                    self.outcome = Outcome.NO_SPEECH
                elif event.kind is Event.MAX_LENGTH:
                    self.outcome = Outcome.MAX_LENGTH
        return fired

    def device_lost(self, error: str) -> None:
        """The source failed: what was heard so far is the answer."""
        log.warning("capture stopped: %s", error)
        self.outcome, self.error = Outcome.DEVICE_LOST, error

    def recording(self) -> Recording:
        clip = self.audio()
        end_s = self.end_s
        if self.start_s is not None and self.outcome is not Outcome.SPEECH_ENDED:
            # Cut short (cap, lost device, source ended): speech runs to the end of what we
            # have, unless a clear end was already seen and nothing followed it.
            if self.endpointer.in_speech or end_s is None:
                end_s = clip.duration_s
        if self.outcome is Outcome.SPEECH_ENDED and end_s is not None:
            clip = clip.slice_s(0.0, end_s + TAIL_KEEP_S)
        return Recording(clip, self.outcome, self.start_s, end_s, self.error)


def check_rate(chunk: AudioChunk) -> None:
    if chunk.sample_rate_hz != TARGET_RATE_HZ:
        raise ValueError(f"capture expects {TARGET_RATE_HZ} Hz chunks, got {chunk.sample_rate_hz}")


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
    capture = AnswerCapture(config, detector)
    try:
        for chunk in chunks:
            check_rate(chunk)
            if on_level is not None:
                on_level(level_dbfs(chunk.samples))
            capture.push(chunk.samples, on_event)
            if capture.done:
                break
    except DeviceError as exc:
        capture.device_lost(str(exc))
    return capture.recording()
