"""Voice activity: Silero VAD (the ONNX model faster-whisper ships) run window by window.

faster-whisper only exposes a whole-file VAD; a kiosk has to decide *while* the trainee speaks
when they have stopped. Silero's v6 model carries its LSTM state (h, c) and a 64-sample context
between 512-sample windows, so feeding it one window at a time with that state carried gives
bit-identical probabilities to the batch call (checked in tests/test_vad.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
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
        return self.windows(samples)[0]

    def windows(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Like ``probabilities``, with each window's RMS level (dBFS) beside its probability: the
        noisy-store gate needs both for the same 32 ms."""
        buf = np.concatenate([self._pending, np.asarray(samples, np.float32)])
        n = len(buf) // WINDOW_SAMPLES
        self._pending = buf[n * WINDOW_SAMPLES :]
        probs = np.empty(n, np.float32)
        levels = np.empty(n, np.float32)
        for i in range(n):
            window = buf[i * WINDOW_SAMPLES : (i + 1) * WINDOW_SAMPLES]
            x = np.concatenate([self._context, window])[None, :]
            prob, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
            probs[i] = float(np.ravel(prob)[0])
            levels[i] = 10.0 * np.log10(max(float(np.mean(np.square(window, dtype=np.float64))), 1e-10))
            self._context = window[-_CONTEXT_SAMPLES:]
        return probs, levels


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
    end_on_silence: bool = True
    """False for push-to-talk and for uploads: the trainee (or the browser) decides when the
    answer ends, so a long pause mid-answer never cuts it; only the source ending or the cap do."""
    min_above_floor_db: float | None = None
    """Noisy-store gate: a window counts as speech only when it is also this many dB above the
    room's level (see FLOOR_PERCENTILE). None: no gate (a quiet room)."""

    @classmethod
    def for_room(cls, noisy: bool = False, push_to_talk: bool = False) -> EndpointConfig:
        """The kiosk's settings as an endpointing config.

        Silero ignores steady noise (fans, a till's hum) but rightly calls background voices
        speech: on a busy shop floor it hears other people all the time, so an answer would
        start on their chatter and never end. The trainee's mouth is centimetres from the
        headset microphone while everyone else is metres away, so the noisy preset also asks
        each speech window to stand clearly above the room's level. A trainee who speaks very
        softly may then be missed, which is why push-to-talk exists for the loudest places.
        """
        config = cls()
        if noisy:
            config = replace(
                config,
                min_above_floor_db=NOISY_MIN_ABOVE_FLOOR_DB,
                min_speech_ms=NOISY_MIN_SPEECH_MS,
                end_silence_ms=NOISY_END_SILENCE_MS,
            )
        if push_to_talk:
            config = replace(config, end_on_silence=False)
        return config


NOISY_MIN_ABOVE_FLOOR_DB = 6.0
NOISY_MIN_SPEECH_MS = 300
NOISY_END_SILENCE_MS = 1000
"""Soft syllables can sink under the gate, so a noisy store waits a little longer before
deciding the trainee has finished."""
FLOOR_PERCENTILE = 50
"""The room's level is the median of the windows the gate did not pass (the room's own sound:
background voices, music, the gaps between the trainee's words)."""
FLOOR_HOLD_DB = 2.0
"""Once speech is under way the bar drops by this much, as Silero's own neg_threshold does, so
the soft ends of words are not cut."""
FLOOR_WARMUP_WINDOWS = 10
"""The first 320 ms only listen to the room: a floor from one window would be a guess."""
FLOOR_HISTORY_WINDOWS = 940
"""About 30 s of room windows kept, so the estimate follows a room that gets louder."""


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
    """Turns per-window speech probabilities into answer events. Pure logic, no I/O.

    ``end_silence_s``, when given, is asked at every silent window how much silence ends the
    answer now (the streaming policy answers from the words decoded so far: less after a
    finished sentence, more after "and" or "um"); None falls back to the config's fixed values.
    """

    def __init__(
        self, config: EndpointConfig = EndpointConfig(), end_silence_s: Callable[[], float | None] | None = None
    ) -> None:
        self.config = config
        self.end_silence_s = end_silence_s
        self._window_s = WINDOW_SAMPLES / SAMPLE_RATE_HZ
        self._t = 0.0
        self._in_speech = False
        self._started = False
        self._run_start: float | None = None
        self._last_speech_end = 0.0
        self._paused = False
        self._speech_s = 0.0
        self._room_db: list[float] = []
        self.done = False

    @property
    def speech_started(self) -> bool:
        return self._started

    @property
    def in_speech(self) -> bool:
        """The last window was speech: an answer cut now was cut mid-word."""
        return self._in_speech

    def _above_floor(self, level_db: float) -> bool:
        """The noisy-store gate. The room's level is learnt only from windows the gate did not
        pass, so the trainee's own voice never raises the bar it is measured against."""
        if len(self._room_db) < FLOOR_WARMUP_WINDOWS:
            self._room_db.append(level_db)
            return False
        margin = self.config.min_above_floor_db - (FLOOR_HOLD_DB if self._in_speech else 0.0)
        passed = level_db >= float(np.percentile(self._room_db, FLOOR_PERCENTILE)) + margin
        if not passed:
            self._room_db.append(level_db)
            del self._room_db[:-FLOOR_HISTORY_WINDOWS]
        return passed

    def push(self, probability: float, level_db: float | None = None) -> list[VadEvent]:
        """Consume one window's probability (and level, for the noisy-store gate); returns the
        events it triggered."""
        if self.done:
            return []
        cfg, events = self.config, []
        if cfg.min_above_floor_db is not None and level_db is not None and not self._above_floor(level_db):
            probability = 0.0
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
            if cfg.end_on_silence and self._started and silence_s >= self._needed_silence_s():
                events.append(VadEvent(Event.SPEECH_END, self._last_speech_end))
        if not self._started and self._t >= cfg.no_speech_timeout_s:
            events.append(VadEvent(Event.NO_SPEECH, self._t))
        elif self._t >= cfg.max_answer_s and not any(e.kind is Event.SPEECH_END for e in events):
            events.append(VadEvent(Event.MAX_LENGTH, self._t))
        if any(e.kind in (Event.SPEECH_END, Event.NO_SPEECH, Event.MAX_LENGTH) for e in events):
            self.done = True
        return events

    def _needed_silence_s(self) -> float:
        adaptive = self.end_silence_s() if self.end_silence_s is not None else None
        if adaptive is not None:
            return adaptive
        cfg = self.config
        needed_ms = cfg.end_silence_ms if self._speech_s >= cfg.early_speech_s else cfg.early_end_silence_ms
        return needed_ms / 1000
