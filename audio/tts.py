"""Text to speech, cached on disk as 16 kHz WAV: espeak-ng through pyttsx3, or the neural
Piper voice (audio/neural_voice.py) for the personas it can play.

The customer's anger must be *heard*: ``Voice.with_anger`` raises rate, pitch and volume with
each level, whichever engine speaks (tests/test_tts.py measures F0, rate and level with the
delivery analysis to prove it). espeak takes ~10 ms a line, Piper ~0.3 s on one core; the cache
(keyed by text, voice, engine and engine version) makes the first customer line instant, lets
lines be synthesized ahead of time, and lets the web kiosk serve the same files.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import importlib.metadata
import json
import os
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from audio.asr import cache_root
from audio.clip import TARGET_RATE_HZ, Clip, load, save_wav

MAX_ANGER = 4
BASE_VOICE_RATE_WPM = 165
"""A persona's calm pace; the neural voice speaks it at the model's own pace (length scale 1)."""
ENGINES = ("espeak", "piper")
"""espeak: espeak-ng, every persona voice, robotic. piper: the neural voice (opt-in, see
docs/voices.md) for the personas it can play, espeak-ng for the others."""
NEURAL_BASES = ("en-us", "en")
"""Persona voices the neural en_US male voice stands in for: these bases with a male variant (or
none). Female, elderly and regional personas keep espeak-ng, whose voice fits them."""


class TTSError(Exception):
    """The speech engine is missing or failed. One sentence for the user."""


@dataclass(frozen=True)
class Voice:
    """espeak-ng voice settings. ``name`` is an espeak voice with optional variant (en-us+f3)."""

    name: str = "en-us"
    rate_wpm: int = BASE_VOICE_RATE_WPM
    pitch: int = 50
    """espeak pitch 0-99 (50 is the voice's normal pitch)."""
    volume: float = 1.0
    """espeak amplitude relative to its default (1.0); up to 2.0. The neural voice: gain on a
    level-normalised line."""
    engine: str = "espeak"
    """Which engine speaks it (one of ENGINES); ``Synthesizer.voice_for`` picks it for a persona."""

    def with_anger(self, anger: int) -> Voice:
        """This voice at anger 0 (calm) to 4 (furious): faster, higher, louder per level."""
        level = max(0, min(MAX_ANGER, int(anger)))
        return replace(
            self,
            rate_wpm=int(round(self.rate_wpm * (1.0 + 0.08 * level))),
            pitch=min(99, self.pitch + 7 * level),
            volume=min(2.0, round(self.volume * (0.75 + 0.15 * level), 3)),
        )


def neural_can_play(name: str) -> bool:
    """Whether the neural voice may stand in for this espeak persona voice (NEURAL_BASES)."""
    base, _, variant = name.partition("+")
    return base in NEURAL_BASES and (not variant or variant.startswith("m"))


@functools.lru_cache(maxsize=1)
def engine_version() -> str:
    """pyttsx3 and espeak-ng versions: part of the cache key, so an upgrade re-synthesizes."""
    try:
        lib = ctypes.CDLL("libespeak-ng.so.1")
        lib.espeak_Info.restype = ctypes.c_char_p
        espeak = lib.espeak_Info(None).decode()
    except OSError:
        espeak = "missing"
    return f"pyttsx3-{importlib.metadata.version('pyttsx3')}+espeak-ng-{espeak}"


def default_cache_dir() -> Path:
    return cache_root() / "tts"


class Synthesizer:
    """Speaks text in a Voice to a Clip, through a cache keyed by text, voice and engine version.

    ``engine`` is the customer's engine (one of ENGINES): ``voice_for`` gives a persona's voice
    on it. "piper" needs the neural voice installed; without it the customer speaks espeak-ng
    and ``fallback_reason`` says why (the kiosk must still start: a voice is not worth a dead
    kiosk). Voices made directly (the demo trainee, the model answer) keep their own engine."""

    _engine_lock = threading.Lock()  # espeak is a process-wide C library: one synthesis at a time
    _neural_lock = threading.Lock()  # one onnxruntime thread: lines queue rather than compete

    def __init__(self, cache_dir: str | os.PathLike | None = None, engine: str = "espeak") -> None:
        if engine not in ENGINES:
            raise TTSError(f"unknown speech engine {engine!r} (use {' or '.join(ENGINES)})")
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.fallback_reason = ""
        if engine == "piper":
            from audio.neural_voice import NeuralVoiceError, find_voice

            try:
                find_voice()
            except NeuralVoiceError as exc:
                self.fallback_reason = str(exc)
                engine = "espeak"
        self.engine = engine

    def voice_for(self, persona_voice: str) -> Voice:
        """A persona's calm voice on this synthesizer's engine (espeak where the neural voice
        cannot play the persona)."""
        neural = self.engine == "piper" and neural_can_play(persona_voice)
        return Voice(name=persona_voice, engine="piper" if neural else "espeak")

    def warm_up(self, neural: bool = True) -> None:
        """Load the engines this synthesizer speaks with and run each once, past the cache (a
        cached warm-up line would leave an engine unloaded until the first new line).
        ``neural=False`` leaves the neural voice (1.1 s) to load with the first line it speaks."""
        with self._engine_lock:
            _espeak_engine().speak("Hello.", Voice())
        if neural and self.engine == "piper":
            with self._neural_lock:
                _neural_engine().speak("Hello.", BASE_VOICE_RATE_WPM, 50, 1.0)

    def cache_path(self, text: str, voice: Voice) -> Path:
        key = json.dumps(
            {"text": text, "voice": asdict(voice), "engine": _version(voice.engine), "rate": TARGET_RATE_HZ},
            sort_keys=True,
        )
        return self.cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:40]}.wav"

    def synthesize(self, text: str, voice: Voice = Voice()) -> Clip:
        return load(self.synthesize_to_file(text, voice))

    def synthesize_to_file(self, text: str, voice: Voice = Voice()) -> Path:
        """The cached WAV for this line, synthesized now if it is not there yet."""
        text = " ".join(text.split())
        if not text:
            raise TTSError("nothing to say: the line is empty")
        path = self.cache_path(text, voice)
        if path.is_file():
            return path
        if voice.engine == "piper":
            with self._neural_lock:
                engine = _neural_engine()
                clip = Clip(engine.speak(text, voice.rate_wpm, voice.pitch, voice.volume), engine.rate_hz)
        else:
            with self._engine_lock:
                pcm, rate_hz = _espeak_engine().speak(text, voice)
            clip = Clip.from_pcm16(pcm, rate_hz)
        if not len(clip.samples):
            raise TTSError(f"{voice.engine} produced no audio for {text[:40]!r}")
        return save_wav(clip.resampled(TARGET_RATE_HZ), path)


NEURAL_OPT_IN = (
    "the neural voice is opt-in: it was trained from a voice whose recordings are "
    "licensed for research, not for use in a store (docs/voices.md); --tts-engine piper "
    "or KIOSK_TTS_ENGINE=piper to use it anyway"
)


def voice_note(synth: Synthesizer, voice: Voice) -> str:
    """Which engine speaks this voice and, for espeak-ng, why not the neural one: one line."""
    if voice.engine == "piper":
        from audio.neural_voice import VOICE_PIN

        return f"neural (Piper, {VOICE_PIN['model'].removesuffix('.onnx')})"
    if synth.fallback_reason:
        return f"espeak-ng (the neural voice is not available: {synth.fallback_reason})"
    if synth.engine == "piper":
        return f"espeak-ng (the neural voice is one US male speaker: it cannot play {voice.name})"
    return f"espeak-ng ({NEURAL_OPT_IN})"


def _version(engine: str) -> str:
    if engine == "piper":
        from audio.neural_voice import engine_version as neural_version

        return neural_version()
    return engine_version()


@functools.lru_cache(maxsize=1)
def _neural_engine():
    from audio.neural_voice import NeuralVoiceError, PiperEngine

    try:
        return PiperEngine()
    except NeuralVoiceError as exc:
        raise TTSError(str(exc)) from exc


class _Espeak:
    """espeak-ng through pyttsx3's ctypes binding, in espeak's *synchronous* mode.

    pyttsx3's own engine loop runs espeak asynchronously, and its parameter changes go through
    espeak's command queue: measured here (pyttsx3 2.99, espeak-ng 1.51), 20 of 40 lines came out
    with the previous line's rate, and the first file after ``init`` was never written. In
    synchronous mode parameters apply at once and ``Synth`` returns with all the audio, so the
    same text and voice always give the same samples. espeak can be initialised once per process.
    """

    def __init__(self) -> None:
        try:
            from pyttsx3.drivers import _espeak, espeak as driver
        except (ImportError, OSError) as exc:
            raise TTSError(f"pyttsx3 or espeak-ng is missing ({exc}): install espeak-ng and pyttsx3") from exc
        self._lib = _espeak
        self.rate_hz = _espeak.Initialize(_espeak.AUDIO_OUTPUT_SYNCHRONOUS, 1000)
        if self.rate_hz == -1:
            raise TTSError("espeak-ng could not be initialised (apt-get install espeak-ng)")
        driver.EspeakDriver._moduleInitialized = True  # nobody may re-initialise it asynchronously
        self._pcm: list[bytes] = []
        _espeak.SetSynthCallback(self._on_audio)

    def _on_audio(self, wav, numsamples: int, events) -> int:
        if numsamples > 0:
            self._pcm.append(ctypes.string_at(wav, numsamples * 2))
        return 0

    def speak(self, text: str, voice: Voice) -> tuple[bytes, int]:
        lib = self._lib
        if lib.SetVoiceByName(voice.name.encode()) != 0:
            raise TTSError(f"espeak-ng has no voice {voice.name!r} (see `espeak-ng --voices`)")
        lib.SetParameter(lib.RATE, int(voice.rate_wpm), 0)
        lib.SetParameter(lib.PITCH, int(voice.pitch), 0)
        lib.SetParameter(lib.VOLUME, int(round(voice.volume * 100)), 0)
        self._pcm = []
        lib.Synth(text.encode("utf-8"), flags=lib.ENDPAUSE | lib.CHARS_UTF8)
        return b"".join(self._pcm), self.rate_hz


@functools.lru_cache(maxsize=1)
def _espeak_engine() -> _Espeak:
    return _Espeak()
