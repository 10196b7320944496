"""Voice activity: Silero VAD (the ONNX model faster-whisper ships) run window by window.

faster-whisper only exposes a whole-file VAD; a kiosk has to decide *while* the trainee speaks
when they have stopped. Silero's v6 model carries its LSTM state (h, c) and a 64-sample context
between 512-sample windows, so feeding it one window at a time with that state carried gives
bit-identical probabilities to the batch call (checked in tests/test_vad.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

WINDOW_SAMPLES = 512
"""Silero's window at 16 kHz: 32 ms."""
_CONTEXT_SAMPLES = 64
SAMPLE_RATE_HZ = 16000


class SpeechDetector:
    """Speech probability per 32 ms window, state carried across calls."""

    def __init__(self) -> None:
        from faster_whisper.vad import get_vad_model  # loaded once per process (lru_cache)

        self._session = get_vad_model().session
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(_CONTEXT_SAMPLES, np.float32)
        self._pending = np.zeros(0, np.float32)

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        """Feed any number of 16 kHz samples; returns one probability per completed window."""
        buf = np.concatenate([self._pending, np.asarray(samples, np.float32)])
        n = len(buf) // WINDOW_SAMPLES
        self._pending = buf[n * WINDOW_SAMPLES:]
        out = np.empty(n, np.float32)
        for i in range(n):
            window = buf[i * WINDOW_SAMPLES:(i + 1) * WINDOW_SAMPLES]
            x = np.concatenate([self._context, window])[None, :]
            prob, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
            out[i] = float(np.ravel(prob)[0])
            self._context = window[-_CONTEXT_SAMPLES:]
        return out


@dataclass(frozen=True)
class EndpointConfig:
    """When an answer starts and ends. Defaults measured on espeak-ng and LibriSpeech answers."""

    threshold: float = 0.5
    """Speech probability at or above which a window counts as speech."""
    neg_threshold: float = 0.35
    """Below this a window counts as silence (between the two, the previous state holds)."""
    min_speech_ms: int = 200
    """Speech shorter than this (a cough, a click) does not start an answer."""
    end_silence_ms: int = 700
    """Silence after speech that ends the answer: the trainee has stopped."""
    early_end_silence_ms: int = 1500
    """The silence needed instead while the answer is still short: people pause to gather
    their thoughts after the first words (JFK pauses 1.1 s after 1.9 s of speech)."""
    early_speech_s: float = 3.0
    """Speech (in total) below which an answer counts as still short."""
    pause_ms: int = 250
    """Silence after speech that counts as a pause (a point where streaming can commit)."""
    no_speech_timeout_s: float = 8.0
    """Give up ("I didn't hear anything") when no speech starts within this time."""
    max_answer_s: float = 90.0
    """Hard cap on one answer, counted from the start of capture."""


class Event(Enum):
    SPEECH_START = "speech_start"
    PAUSE = "pause"
    SPEECH_END = "speech_end"
    NO_SPEECH = "no_speech"
    MAX_LENGTH = "max_length"


@dataclass(frozen=True)
class VadEvent:
    kind: Event
    time_s: float
    """For SPEECH_START the start of speech; for PAUSE and SPEECH_END the end of the speech
    before the silence; otherwise the time the event fired. Seconds from the start of capture."""


class Endpointer:
    """Turns per-window speech probabilities into answer events. Pure logic, no I/O."""

    def __init__(self, config: EndpointConfig = EndpointConfig()) -> None:
        self.config = config
        self._window_s = WINDOW_SAMPLES / SAMPLE_RATE_HZ
        self._t = 0.0
        self._in_speech = False
        self._started = False
        self._run_start: float | None = None
        self._last_speech_end = 0.0
        self._paused = False
        self._speech_s = 0.0
        self.done = False

    @property
    def speech_started(self) -> bool:
        return self._started

    @property
    def in_speech(self) -> bool:
        """The last window was speech: an answer cut now was cut mid-word."""
        return self._in_speech

    def push(self, probability: float) -> list[VadEvent]:
        """Consume one window's probability; returns the events it triggered."""
        if self.done:
            return []
        cfg, events = self.config, []
        start = self._t
        self._t += self._window_s
        speechy = probability >= cfg.threshold or (self._in_speech and probability >= cfg.neg_threshold)
        if speechy:
            if self._run_start is None:
                self._run_start = start
            if not self._started and self._t - self._run_start >= cfg.min_speech_ms / 1000:
                self._started = True
                events.append(VadEvent(Event.SPEECH_START, self._run_start))
            self._in_speech = True
            self._paused = False
            self._last_speech_end = self._t
            self._speech_s += self._window_s
        else:
            self._in_speech = False
            if not self._started:
                self._run_start = None
            silence_s = self._t - self._last_speech_end
            if self._started and not self._paused and silence_s >= cfg.pause_ms / 1000:
                self._paused = True
                events.append(VadEvent(Event.PAUSE, self._last_speech_end))
            needed_ms = cfg.end_silence_ms if self._speech_s >= cfg.early_speech_s else cfg.early_end_silence_ms
            if self._started and silence_s >= needed_ms / 1000:
                events.append(VadEvent(Event.SPEECH_END, self._last_speech_end))
        if not self._started and self._t >= cfg.no_speech_timeout_s:
            events.append(VadEvent(Event.NO_SPEECH, self._t))
        elif self._t >= cfg.max_answer_s and not any(e.kind is Event.SPEECH_END for e in events):
            events.append(VadEvent(Event.MAX_LENGTH, self._t))
        if any(e.kind in (Event.SPEECH_END, Event.NO_SPEECH, Event.MAX_LENGTH) for e in events):
            self.done = True
        return events
