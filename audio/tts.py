"""Text to speech with pyttsx3 over espeak-ng, cached on disk as 16 kHz WAV.

The customer's anger must be *heard*: ``Voice.with_anger`` raises rate, pitch and volume with
each level (tests/test_tts.py measures F0 and duration to prove it). Synthesis is ~10 ms per
line on this machine, but the cache makes the first customer line instant and lets the web kiosk
serve the same files.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import importlib.metadata
import io
import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from audio.clip import TARGET_RATE_HZ, AudioError, Clip, load, save_wav

MAX_ANGER = 4


class TTSError(Exception):
    """The speech engine is missing or failed. One sentence for the user."""


@dataclass(frozen=True)
class Voice:
    """espeak-ng voice settings. ``name`` is an espeak voice with optional variant (en-us+f3)."""

    name: str = "en-us"
    rate_wpm: int = 165
    pitch: int = 50
    """espeak pitch 0-99 (50 is the voice's normal pitch)."""
    volume: float = 1.0
    """espeak amplitude relative to its default (1.0); up to 2.0."""

    def with_anger(self, anger: int) -> Voice:
        """This voice at anger 0 (calm) to 4 (furious): faster, higher, louder per level."""
        level = max(0, min(MAX_ANGER, int(anger)))
        return replace(self,
                       rate_wpm=int(round(self.rate_wpm * (1.0 + 0.08 * level))),
                       pitch=min(99, self.pitch + 7 * level),
                       volume=min(2.0, round(self.volume * (0.75 + 0.15 * level), 3)))


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
    base = os.environ.get("KIOSK_CACHE_DIR") or Path(
        os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kiosk"
    return Path(base) / "tts"


class Synthesizer:
    """Speaks text in a Voice to a Clip, through a cache keyed by text, voice and engine version."""

    _engine_lock = threading.Lock()  # espeak is a process-wide C library: one synthesis at a time

    def __init__(self, cache_dir: str | os.PathLike | None = None) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()

    def cache_path(self, text: str, voice: Voice) -> Path:
        key = json.dumps({"text": text, "voice": asdict(voice), "engine": engine_version(),
                          "rate": TARGET_RATE_HZ}, sort_keys=True)
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
        with tempfile.TemporaryDirectory(prefix="kiosk-tts-") as tmp:
            raw = Path(tmp) / "raw.wav"
            self._run_engine(text, voice, raw)
            try:
                clip = load(raw)  # resampled 22.05 -> 16 kHz on decode
            except AudioError as exc:
                raise TTSError(f"espeak-ng produced no usable audio for {text[:40]!r}") from exc
        return save_wav(clip, path)

    def _run_engine(self, text: str, voice: Voice, out: Path) -> None:
        with self._engine_lock:
            try:
                engine = _engine()
                _espeak_synchronize()
                engine.setProperty("voice", voice.name)
                engine.setProperty("rate", voice.rate_wpm)
                engine.setProperty("pitch", voice.pitch)
                engine.setProperty("volume", voice.volume)
                _espeak_synchronize()
                # pyttsx3's espeak driver prints "Audio saved to ..." on stdout: keep it quiet.
                with contextlib.redirect_stdout(io.StringIO()):
                    engine.save_to_file(text, str(out))
                    engine.runAndWait()
            except (OSError, RuntimeError, ValueError) as exc:
                raise TTSError(
                    f"text-to-speech failed ({exc}); is espeak-ng installed (apt-get install espeak-ng)?"
                ) from exc
        if not out.is_file():
            raise TTSError("text-to-speech produced no audio file; is espeak-ng installed?")


def _espeak_synchronize() -> None:
    """Wait until espeak-ng has applied every queued command.

    pyttsx3 runs espeak-ng asynchronously: rate, pitch and volume are queued for espeak's own
    thread while the voice is set at once, so a synthesis sometimes started with the previous
    line's settings (measured: the rate was wrong in 14 of 120 lines alternating 150/250 wpm;
    0 of 120 with this wait), and a customer's anger was then not heard.
    """
    ctypes.CDLL("libespeak-ng.so.1").espeak_Synchronize()


@functools.lru_cache(maxsize=1)
def _engine():
    """The process's pyttsx3 engine, warmed up.

    On a fresh engine pyttsx3 queues commands and runs its end-of-loop before espeak's
    asynchronous synthesis finishes, so the first file is silently never written (seen with
    pyttsx3 2.99). One empty run leaves the engine idle, after which every command runs
    immediately and ``runAndWait`` waits for the synthesis to end.
    """
    try:
        import pyttsx3
    except ImportError as exc:
        raise TTSError("pyttsx3 is not installed") from exc
    engine = pyttsx3.init("espeak")
    engine.runAndWait()
    return engine
